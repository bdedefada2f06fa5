"""Fixtures for the Engine.IO layer's tests: real servers on pushsvc's engine.

``echo`` and ``sio`` are the apps of ``conformance_apps.py`` (the servers the two protocol
suites' READMEs describe: maxPayload 1,000,000, connectTimeout 1,000 ms) under gunicorn with
``pushsvc.engineio.worker.Worker``; their heartbeat is 1,500/1,200 ms here, not the suites'
300/200, so a test client on a loaded CI machine answers its pings in time.
``engine_pushsvc`` is ``pushsvc serve``; ``serve_with`` starts ``pushsvc serve`` with more
settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from pushsvc.testing.procs import console_script, free_port, spawn, stop_process
from tests.support import PushsvcProcess, start_pushsvc
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS

LOGS = REPO_ROOT / "artifacts" / "engineio"
HEARTBEAT = {"PUSHSVC_PING_INTERVAL_SECONDS": "1.5", "PUSHSVC_PING_TIMEOUT_SECONDS": "1.2"}


class AppServer:
    """One gunicorn process serving a conformance app."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path

    def read_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _serve_app(app: str, env: dict[str, str]) -> Iterator[AppServer]:
    port = free_port()
    log_path = LOGS / f"{app}-{port}.log"
    popen = spawn(
        [console_script("gunicorn"), "-k", WORKER_CLASS, "-w", "1", "-b", f"127.0.0.1:{port}",
         "--no-control-socket", f"tests.engineio.conformance_apps:{app}"],
        log_path=log_path, cwd=REPO_ROOT, env={**_base_env(), **env})
    url = f"http://127.0.0.1:{port}"
    path = "/engine.io/" if app == "echo_app" else "/socket.io/"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}{path}?EIO=4&transport=polling", timeout=5)
            break
        except requests.RequestException:  # refused, or the worker still importing the app
            if popen.poll() is not None or time.monotonic() > deadline:
                stop_process(popen, timeout=5)
                raise RuntimeError(f"{app} did not start; log {log_path}") from None
            time.sleep(0.1)
    try:
        yield AppServer(url, log_path)
    finally:
        stop_process(popen, timeout=10)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}


@pytest.fixture(scope="session")
def echo() -> Iterator[AppServer]:
    """The Engine.IO echo server at /engine.io/ on pushsvc's engine."""
    yield from _serve_app("echo_app", HEARTBEAT)


@pytest.fixture(scope="session")
def sio() -> Iterator[AppServer]:
    """The Socket.IO server of the socket.io-protocol suite on pushsvc's engine."""
    yield from _serve_app("socketio_app", HEARTBEAT)


@pytest.fixture
def app_with() -> Iterator[Callable[..., AppServer]]:
    """Start a conformance app with settings: ``app_with("echo_app", env)``."""
    stack: list[Iterator[AppServer]] = []

    def start(app: str, env: dict[str, str] | None = None) -> AppServer:
        gen = _serve_app(app, env or {})
        stack.append(gen)
        return next(gen)

    yield start
    for gen in stack:
        next(gen, None)


@pytest.fixture(scope="session")
def engine_pushsvc() -> Iterator[PushsvcProcess]:
    """``pushsvc serve``."""
    env = {"PUSHSVC_PING_INTERVAL_SECONDS": "3"}
    with start_pushsvc(env=env, log_dir=LOGS) as proc:
        yield proc


@pytest.fixture
def serve_with() -> Iterator[Callable[..., PushsvcProcess]]:
    """Start ``pushsvc serve`` with settings: ``serve_with(env)``."""
    started: list[PushsvcProcess] = []

    def start(env: dict[str, str] | None = None) -> PushsvcProcess:
        proc = start_pushsvc(env=env, log_dir=LOGS)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
