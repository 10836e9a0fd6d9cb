"""A fake of Slack's cloud for tests and benchmarks: a real HTTP + WebSocket server on 127.0.0.1.

``FakeSlack`` answers the Web API as Slack does (``{"ok": true, ...}`` with message
timestamps, ``{"ok": false, "error": ...}`` for bad calls, HTTP 429 with ``Retry-After`` when
told to), keeps the messages it was sent so tests can read a thread back, serves
``response_url`` webhooks, and runs a Socket Mode endpoint (``apps.connections.open`` hands
out its ``ws://`` URL; envelopes go down, acknowledgements come back). The real
``slack_sdk`` clients talk to it through ``base_url``; nothing is mocked inside the app.

``SlackRequests`` builds what Slack sends to an app in HTTP mode: signed event callbacks,
slash commands, block actions and view submissions.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"
SIGNING_SECRET = "test-signing-secret-0123456789"
TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float


@dataclass
class Message:
    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    streaming: bool = False
    streamed: bool = False
    edits: int = 0

    @property
    def rendered(self) -> str:
        """Everything a reader could see in the message: text plus every text in its blocks."""
        return self.text + "\n" + "\n".join(_block_texts(self.blocks))


def _block_texts(blocks: Any) -> list[str]:
    found: list[str] = []
    if isinstance(blocks, dict):
        for key, value in blocks.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_block_texts(value))
    elif isinstance(blocks, list):
        for item in blocks:
            found.extend(_block_texts(item))
    return found


def _chunks_text(args: dict[str, Any]) -> str:
    text = args.get("markdown_text") or ""
    chunks = args.get("chunks") or []
    if isinstance(chunks, str):
        chunks = json.loads(chunks)
    for chunk in chunks:
        if chunk.get("type") == "markdown_text":
            text += chunk.get("text", "")
    return text


class FakeSlack:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(self, *, streaming: bool = True) -> None:
        self.streaming = streaming
        self.calls: list[Call] = []
        self.messages: dict[str, Message] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url
        self.acks: dict[str, tuple[float, dict[str, Any]]] = {}  # envelope id -> (time, ack)
        self.envelopes_sent: dict[str, float] = {}
        self._faults: dict[str, list[tuple[int, str, int]]] = {}  # method -> [(status, error, retry_after)]
        self.ext_shared: set[str] = set()  # conversations shared with another organisation (Slack Connect)
        self._ts = itertools.count(1)
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name or uuid.uuid4().hex}"

    def start(self) -> FakeSlack:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ test controls

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get ``{"ok": false, "error": error}``."""
        with self._lock:
            self._faults.setdefault(method, []).extend([(200, error, 0)] * times)

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._faults.setdefault(method, []).extend([(429, "ratelimited", retry_after)] * times)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """Messages the bot posted in a thread, oldest first."""
        with self._lock:
            return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]

    def in_channel(self, channel: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages.values() if m.channel == channel]

    def everything_sent_to(self, channel: str) -> str:
        """All text the bot made visible in ``channel``: messages, edits, streams, ephemerals."""
        with self._lock:
            parts = [m.rendered for m in self.messages.values() if m.channel == channel]
            parts += [json.dumps(c.args) for c in self.calls
                      if c.args.get("channel") == channel or c.args.get("channel_id") == channel]
            parts += [json.dumps(e) for e in self.ephemeral if e.get("channel") == channel]
            parts += [json.dumps(r) for r in self.responses if r.get("_name") == channel]
        return "\n".join(parts)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Block until ``predicate()`` is truthy (re-checked on every call the server gets)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s; calls: {[c.method for c in self.calls]}")
                self._lock.wait(min(remaining, 0.05))

    def final_answer(self, channel: str, thread_ts: str, timeout: float = 10.0) -> Message:
        """The message in the thread that carries the 👍/👎 buttons, once it is there."""

        def done() -> Message | None:
            for m in self.thread(channel, thread_ts):
                if not m.streaming and any(b.get("block_id") == "feedback" for b in m.blocks):
                    return m
            return None

        found: Message = self.wait_for(done, timeout)
        return found

    # ------------------------------------------------------------------ Socket Mode

    def send_envelope(self, payload: dict[str, Any], *, kind: str = "events_api",
                      retry_attempt: int = 0, envelope_id: str | None = None) -> str:
        """Push an envelope down every open socket; returns its id (acks are in ``acks``)."""
        envelope_id = envelope_id or uuid.uuid4().hex
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind != "events_api",
                   "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""}
        assert self._loop is not None

        async def push() -> None:
            with self._lock:
                self.envelopes_sent[envelope_id] = time.perf_counter()
            for ws in list(self._sockets):
                await ws.send_str(json.dumps(message))

        asyncio.run_coroutine_threadsafe(push(), self._loop).result(5)
        return envelope_id

    def wait_connected(self, timeout: float = 10.0) -> None:
        self.wait_for(lambda: self._sockets, timeout)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0APP"}}))
        with self._lock:
            self._sockets.append(ws)
            self._lock.notify_all()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    with self._lock:
                        self.acks[ack.get("envelope_id", "")] = (time.perf_counter(), ack)
                        self._lock.notify_all()
        finally:
            with self._lock:
                if ws in self._sockets:
                    self._sockets.remove(ws)
        return ws

    # ------------------------------------------------------------------ HTTP handlers

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.responses.append(dict(body, _name=request.match_info["name"]))
            self._lock.notify_all()
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        for key in ("blocks", "chunks", "view", "prompts"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        with self._lock:
            self.calls.append(Call(method, args, token, time.perf_counter()))
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
            self._lock.notify_all()
        if fault is not None:
            status, error, retry_after = fault
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        with self._lock:
            self._lock.notify_all()
        return web.json_response(body)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    # Web API methods, named after Slack's ("chat.postMessage" -> _m_chat_postMessage).

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fake.slack.test/", "team": "Test", "user": "assistant",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        with self._lock:
            self.messages[ts] = Message(channel, ts, args.get("text", ""), args.get("blocks") or [],
                                        args.get("thread_ts"))
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text", ""), "ts": ts}}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            message = self.messages.get(args.get("ts", ""))
            if message is None or message.channel != args.get("channel"):
                return {"ok": False, "error": "message_not_found"}
            if "text" in args:
                message.text = args["text"]
            if "blocks" in args:
                message.blocks = args["blocks"] or []
            message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        with self._lock:
            self.ephemeral.append(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": args.get("channel"),
                "permalink": f"https://fake.slack.test/archives/{args.get('channel')}/p{args.get('message_ts')}"}

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "unknown_method"}
        channel = args.get("channel", "")
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not (args.get("recipient_user_id") and args.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_user_id"}
        ts = self._next_ts()
        with self._lock:
            self.messages[ts] = Message(channel, ts, _chunks_text(args), [], args["thread_ts"], streaming=True,
                                        streamed=True)
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            message = self.messages.get(args.get("ts", ""))
            if message is None or not message.streaming:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            message.text += _chunks_text(args)
            message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            message = self.messages.get(args.get("ts", ""))
            if message is None or not message.streaming:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            message.text += _chunks_text(args)
            message.blocks = args.get("blocks") or []
            message.streaming = False
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": {"ts": message.ts}}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": dict(args.get("view") or {}, id="V" + uuid.uuid4().hex[:8].upper())}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_assistant_threads_setTitle(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel") or ""
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            shared = channel in self.ext_shared
        info: dict[str, Any] = {"id": channel, "is_channel": channel.startswith("C"),
                                "is_group": channel.startswith("G"), "is_im": channel.startswith("D"),
                                "is_ext_shared": shared, "is_shared": shared, "is_org_shared": False,
                                "is_pending_ext_shared": False, "is_member": True}
        return {"ok": True, "channel": info}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "messages": [], "has_more": False}


# ---------------------------------------------------------------------- what Slack sends to the app


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackRequests:
    """Builds HTTP-mode requests the way Slack sends them; ``signed`` adds the headers."""

    def __init__(self, secret: str = SIGNING_SECRET) -> None:
        self.secret = secret
        self._ts = itertools.count(1)

    def next_ts(self) -> str:
        return f"{int(time.time()) - 100}.{next(self._ts):06d}"

    def signed(self, body: str, *, content_type: str, timestamp: int | None = None, secret: str | None = None,
               retry_num: int | None = None) -> tuple[str, dict[str, str]]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
                   "X-Slack-Signature": sign(body, timestamp, secret or self.secret)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return body, headers

    @staticmethod
    def event_payload(event: dict[str, Any], *, event_id: str | None = None,
                      ext_shared: bool | None = None) -> dict[str, Any]:
        """An ``event_callback`` body; ``ext_shared`` sets Slack's ``is_ext_shared_channel`` flag
        (None leaves it out, as in payloads that do not carry it)."""
        payload = {"token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
                   "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
                   "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}], "event": event}
        if ext_shared is not None:
            payload["is_ext_shared_channel"] = ext_shared
        return payload

    def event(self, event: dict[str, Any], *, event_id: str | None = None, ext_shared: bool | None = None,
              **kw: Any) -> tuple[str, dict[str, str]]:
        return self.signed(json.dumps(self.event_payload(event, event_id=event_id, ext_shared=ext_shared)),
                           content_type="application/json", **kw)

    def mention(self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", ts: str | None = None,
                thread_ts: str | None = None, user_team: str = TEAM) -> dict[str, Any]:
        event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts or self.next_ts(),
                 "channel": channel, "team": TEAM, "user_team": user_team, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def message(self, text: str, *, channel: str = "C0GENERAL", user: str | None = "U0ALICE", ts: str | None = None,
                thread_ts: str | None = None, channel_type: str = "channel", **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"type": "message", "text": text, "ts": ts or self.next_ts(), "channel": channel,
                                 "channel_type": channel_type, "team": TEAM, **extra}
        if user:
            event["user"] = user
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def form(self, fields: dict[str, str], **kw: Any) -> tuple[str, dict[str, str]]:
        return self.signed(urllib.parse.urlencode(fields), content_type="application/x-www-form-urlencoded", **kw)

    def command(self, text: str, *, response_url: str, channel: str = "C0GENERAL", user: str = "U0ALICE",
                command: str = "/ask") -> tuple[str, dict[str, str]]:
        return self.form({"token": "legacy", "team_id": TEAM, "channel_id": channel, "channel_name": "general",
                          "user_id": user, "user_name": "alice", "command": command, "text": text,
                          "response_url": response_url, "trigger_id": "trig." + uuid.uuid4().hex,
                          "api_app_id": "A0APP"})

    def interaction(self, payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
        return self.form({"payload": json.dumps(payload)})

    @staticmethod
    def block_action(action_id: str, value: str, *, channel: str, message: dict[str, Any] | None,
                     response_url: str, user: str = "U0ALICE", ephemeral: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0APP", "trigger_id": "trig." + uuid.uuid4().hex, "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": ephemeral,
                          "message_ts": (message or {}).get("ts", "1.000001")},
            "response_url": response_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": "feedback", "value": value,
                         "action_ts": str(time.time())}],
        }
        if message is not None and not ephemeral:
            payload["message"] = message
        return payload

    @staticmethod
    def view_submission(view: dict[str, Any], values: dict[str, Any], *, user: str = "U0ALICE") -> dict[str, Any]:
        return {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
                "api_app_id": "A0APP", "view": dict(view, state={"values": values})}

    @staticmethod
    def view_closed(view: dict[str, Any], *, user: str = "U0ALICE") -> dict[str, Any]:
        return {"type": "view_closed", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
                "api_app_id": "A0APP", "view": view, "is_cleared": False}
