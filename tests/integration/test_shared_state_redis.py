"""Shared state across replicas on a real ``redis-server``: limits, quotas, dedupe, revocations.

The end-to-end case runs two ``assistant serve`` processes over copies of the example index,
both pointed at one Redis: 200 chats against a daily quota of 100 get exactly 100 answers (the
rest a 429), a session ended on one replica is refused by the other, and a Slack retry that
lands on the second replica is acknowledged without a second answer.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.shared_state import SharedState
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackRequests
from tests.integration.services import free_port, redis_server

pytestmark = pytest.mark.integration

ORIGIN = "https://help.ledgerly.example"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def state(redis_url: str) -> Iterator[SharedState]:
    shared = SharedState(redis_url, namespace=f"t{time.monotonic_ns()}")  # a fresh key space per test
    yield shared
    shared.close()


# ---------------------------------------------------------------------------- the guards themselves


def test_a_window_counts_hits_from_every_replica_and_says_how_long_to_wait(state: SharedState,
                                                                           redis_url: str) -> None:
    replica_b = SharedState(redis_url, namespace=state.namespace)
    a, b = state.window("chat_ip", 3, 60), replica_b.window("chat_ip", 3, 60)
    assert [a.hit("1.2.3.4"), b.hit("1.2.3.4"), a.hit("1.2.3.4")] == [None, None, None]
    wait = b.hit("1.2.3.4")
    assert wait is not None and 0 < wait <= 60
    assert a.hit("5.6.7.8") is None  # another key has its own allowance
    replica_b.close()


def test_the_daily_quota_is_per_utc_day(state: SharedState) -> None:
    from assistant.shared_state import SharedDailyQuota

    day_one = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    quota = SharedDailyQuota(state, "daily", 2, clock=lambda: day_one)
    assert quota.hit("ip") is None and quota.hit("ip") is None
    wait = quota.hit("ip")
    assert wait is not None and abs(wait - 6400) < 1  # 22:13:20 to midnight UTC
    tomorrow = SharedDailyQuota(state, "daily", 2, clock=lambda: day_one + 86_400)
    assert tomorrow.hit("ip") is None


def test_seen_keys_and_revocations_are_shared(state: SharedState, redis_url: str) -> None:
    other = SharedState(redis_url, namespace=state.namespace)
    assert state.seen("slack:events", 60).first_time("Ev1") is True
    assert other.seen("slack:events", 60).first_time("Ev1") is False
    assert other.seen("slack:events", 60).first_time("Ev2") is True
    state.revocations().revoke("sid-1", time.time() + 60)
    assert other.revocations().is_revoked("sid-1") and not other.revocations().is_revoked("sid-2")
    limiter = other.per_minute("slack:user", 1)
    assert limiter.allow("U1") and not limiter.allow("U1") and limiter.retry_after_s("U1") > 0
    other.close()


def test_an_unreachable_redis_fails_open_instead_of_taking_the_assistant_down() -> None:
    down = SharedState(f"redis://127.0.0.1:{free_port()}/0")
    assert down.window("w", 1, 60).hit("k") is None
    assert down.daily("d", 1).hit("k") is None
    assert down.seen("s", 60).first_time("k") is True
    assert down.revocations().is_revoked("sid") is False
    assert down.ping() is False


def test_the_web_limits_use_redis_only_when_a_url_is_set(redis_url: str, tmp_path: Path) -> None:
    from bots.web.app import create_app
    from bots.web.ratelimit import SlidingWindow, WebLimits

    plain = create_app(Settings(data_dir=tmp_path, _env_file=None)).state.web.limits
    assert isinstance(plain.chat_ip, SlidingWindow)
    shared = create_app(Settings(data_dir=tmp_path, redis_url=redis_url, _env_file=None)).state.web
    assert type(shared.limits.chat_ip).__name__ == "SharedWindow" and isinstance(shared.limits, WebLimits)
    assert type(shared.revocations).__name__ == "SharedRevocations"


# ---------------------------------------------------------------------------- two real replicas


class Replica:
    """One ``assistant serve`` process; its output is collected for failure messages."""

    def __init__(self, data_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        command = [sys.executable, "-c", "from assistant.cli import main; main()", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port)]
        self.process = subprocess.Popen(command, env={**env, "ASSISTANT_DATA_DIR": str(data_dir)}, cwd=cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, "".join(self.lines[-40:])
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "assistant serve did not become ready"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture(scope="module")
def replicas(example_index: Settings, redis_url: str, fake_slack: FakeSlack,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    root = tmp_path_factory.mktemp("replicas")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "SLACK_"))}
    env.update(ASSISTANT_REDIS_URL=redis_url, ASSISTANT_LLM_BACKEND="extractive", ASSISTANT_ALLOWED_ORIGINS=ORIGIN,
               ASSISTANT_WEB_SESSION_SECRET="replicas-share-this-secret-0123456789",
               ASSISTANT_WEB_DAILY_QUOTA_IP="100", ASSISTANT_WEB_RATE_PER_MINUTE_IP="1000",
               ASSISTANT_WEB_RATE_PER_MINUTE_SESSION="1000", ASSISTANT_SLACK_API_URL=fake_slack.api_url,
               SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               HF_HUB_OFFLINE="1")
    started: list[Replica] = []
    try:
        for name in ("a", "b"):  # each replica its own copy of the generation and its own store
            data_dir = root / name
            shutil.copytree(example_index.data_dir, data_dir, ignore=shutil.ignore_patterns("store.sqlite*"))
            started.append(Replica(data_dir, env, root))
        for replica in started:
            replica.wait_ready()
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()


def _chat(client: httpx.Client, base: str, token: str, n: int) -> httpx.Response:
    return client.post(f"{base}/v1/chat", json={"message": f"How do I set up recurring invoices? ({n})"},
                       headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}", "Accept": "application/json"})


def test_two_replicas_share_one_daily_quota(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    with httpx.Client(timeout=120) as client:
        token = client.post(f"{a.base}/v1/session", headers={"Origin": ORIGIN}).json()["token"]
        with ThreadPoolExecutor(8) as pool:  # concurrent, alternating replicas: the count must be atomic
            responses = list(pool.map(lambda n: _chat(client, (a, b)[n % 2].base, token, n), range(200)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 100 and codes.count(429) == 100, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "daily_quota_exceeded" and int(refused.headers["Retry-After"]) >= 1
    assert {r.status_code for r in responses[0::2]} == {r.status_code for r in responses[1::2]} == {200, 429}


def test_a_session_ended_on_one_replica_is_refused_by_the_other(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    with httpx.Client(timeout=60) as client:
        token = client.post(f"{b.base}/v1/session", headers={"Origin": ORIGIN}).json()["token"]
        auth = {"Origin": ORIGIN, "Authorization": f"Bearer {token}"}
        accepted = client.get(f"{b.base}/v1/conversations/no-such-conversation", headers=auth)
        assert accepted.status_code == 404  # the token is good: the conversation just does not exist
        assert client.delete(f"{a.base}/v1/session", headers=auth).status_code == 204
        refused = client.get(f"{b.base}/v1/conversations/no-such-conversation", headers=auth)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "revoked_token"
        renewed = client.post(f"{b.base}/v1/session", headers=auth).json()["token"]
        assert renewed.split(".")[0] != token.split(".")[0]  # renewal starts a new session, not the ended one


def test_a_slack_retry_delivered_to_the_second_replica_is_not_answered_twice(
        replicas: tuple[Replica, Replica], fake_slack: FakeSlack, redis_url: str) -> None:
    import redis

    a, b = replicas
    slack = SlackRequests()

    def deliver(replica: Replica, event: dict[str, object], event_id: str, retry_num: int | None = None) -> None:
        extra = {"retry_num": retry_num} if retry_num is not None else {}
        body, headers = slack.event(event, event_id=event_id, **extra)
        response = httpx.post(f"{replica.base}/slack/events", content=body.encode(), headers=headers, timeout=30)
        assert response.status_code == 200, response.text

    event = slack.mention("How do I set up recurring invoices?")
    deliver(a, event, "Ev0REPLICARETRY")
    deliver(b, event, "Ev0REPLICARETRY", retry_num=1)  # Slack thought A was too slow
    fake_slack.final_answer(str(event["channel"]), str(event["ts"]), timeout=120)
    # B works through events in arrival order: once it has answered a later mention, it would
    # have answered the retry too had it not recognised it.
    later = slack.mention("How do I export invoices?")
    deliver(b, later, "Ev0LATERMENTION")
    fake_slack.final_answer(str(later["channel"]), str(later["ts"]), timeout=120)
    assert len(fake_slack.thread(str(event["channel"]), str(event["ts"]))) == 1
    client = redis.Redis.from_url(redis_url)
    assert client.exists("assistant:seen:slack:events:Ev0REPLICARETRY")
    client.close()
