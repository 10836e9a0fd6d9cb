"""``assistant serve`` as an operator runs it: a subprocess on 127.0.0.1 over a published index."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_assistant_serve_answers_the_widget_api_and_serves_the_demo(example_index: Settings, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(example_index.data_dir, data_dir, ignore=shutil.ignore_patterns("store.sqlite*", "handoffs"))
    port = _free_port()
    origin = "https://help.ledgerly.example"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "SLACK_"))}
    env.update(ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_LLM_BACKEND="extractive", ASSISTANT_ALLOWED_ORIGINS=origin,
               HF_HUB_OFFLINE="1")
    command = [sys.executable, "-c", "from assistant.cli import main; main()", "serve", "--host", "127.0.0.1",
               "--port", str(port)]
    server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "assistant serve did not come up"
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/readyz").status_code == 200
            assert "widget.js" in client.get("/demo").text
            own = client.post("/v1/session", headers={"Origin": base})  # development: its own demo page
            assert own.status_code == 200
            token = client.post("/v1/session", headers={"Origin": origin}).json()["token"]
            answer = client.post("/v1/chat", json={"message": "How do I set up recurring invoices?"}, headers={
                "Origin": origin, "Authorization": f"Bearer {token}", "Accept": "application/json"})
            assert answer.status_code == 200 and answer.json()["sources"]
        assert (data_dir / "store.sqlite").exists()  # conversations recorded in ASSISTANT_DATA_DIR
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
