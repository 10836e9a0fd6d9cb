"""Real Redis and PostgreSQL servers for tests, started from the Debian packages in a temp dir, and
llama.cpp's OpenAI-compatible server (llama-cpp-python's, from the dev install).

Each starts on a free loopback port with its data in a temporary directory and is stopped at
the end. When the binary is missing (``scripts/install.sh --dev`` installs ``redis-server`` and
``postgresql``), the test is skipped with the reason and the fix.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """Poll ``ready`` until it holds; fail at once if the server process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready in {timeout:.0f}s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` (no persistence); yields its ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (apt-get install redis-server, or scripts/install.sh --dev)")
    import redis

    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    try:
        wait_until(ready, process, "redis-server", timeout=30)
        yield url
    finally:
        client.close()
        _stop(process)


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (``initdb`` + ``postgres``); yields a ``postgresql://`` URL.

    Its directory is made under the system temp dir (not pytest's, which is private to root), so
    the server can run as the packaged ``postgres`` user when the tests run as root.
    """
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql, or scripts/install.sh --dev)")
    import psycopg

    directory = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    data = directory / "pgdata"
    port = free_port()
    uid: int | None = None
    gid: int | None = None
    if os.geteuid() == 0:  # postgres refuses to run as root: run as the packaged 'postgres' user
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
        os.chown(directory, user.pw_uid, user.pw_gid)
        uid, gid = user.pw_uid, user.pw_gid
    process: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "assistant", "--auth=trust",
                               "-E", "UTF8", "--no-sync"], capture_output=True, cwd=directory, user=uid, group=gid)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-500:]}")
        process = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(directory),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory, user=uid, group=gid)
        url = f"postgresql://assistant@127.0.0.1:{port}/postgres"

        def ready() -> bool:
            try:
                with psycopg.connect(url, connect_timeout=1):
                    return True
            except psycopg.OperationalError:
                return False

        wait_until(ready, process, "postgres", timeout=60)
        yield url
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def llamacpp_server(model: Path, alias: str, log: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` on ``model``, served as ``alias``; yields its ``/v1`` URL. Its
    output goes to ``log`` (uvicorn's access lines show each request)."""
    import sys

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                                    "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
                                    "--n_ctx", "2048", "--n_threads", "2"], stdout=out, stderr=subprocess.STDOUT)

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, process, "llama.cpp server", timeout=60)
        yield url
    finally:
        _stop(process)
