"""Fixtures for the push server's tests: one shared real gunicorn process, clients, artifacts.

``server`` is one ``pushsvc serve`` for the whole tests/server run (default
settings but close_room on, in-memory bus); tests that need other settings start their own with
``start_pushsvc``. Clients made by ``clients`` are closed after each test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.pushsvc_proc import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts" / "server"
NODE = shutil.which("node") or "node"
BUS_NAMESPACE = "pushsvc"
_API_RBAC = (REPO_ROOT / "rbac" / "api.yaml").read_text()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture(scope="session")
def server_logs() -> Path:
    path = ARTIFACTS / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / _slug(request.node.name)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def server(server_logs: Path) -> Iterator[PushsvcProcess]:
    """One shared pushsvc with default settings."""
    # A short ping interval bounds how long python-socketio clients wait for a pending
    # long-poll GET when they close after a server-side disconnect.
    # close_room is off by default; the demo protocol tests use it.
    env = {"PUSHSVC_PING_INTERVAL_SECONDS": "3", "PUSHSVC_ALLOW_CLIENT_CLOSE_ROOM": "true"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc


@pytest.fixture
def clients() -> Iterator[Callable[..., RecordingClient]]:
    """Make RecordingClients (``clients(transports=["polling"])``); all closed at teardown."""
    made: list[RecordingClient] = []

    def make(**kwargs: object) -> RecordingClient:
        client = RecordingClient(**kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=["websocket", "polling"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def kube_pods(
    kubeapi: Any, server_logs: Path
) -> Iterator[Callable[..., list[PushsvcProcess]]]:
    """Start pods on one emulator's Kubernetes bus (``kube_pods(2, env={...})``), each
    running as the shipped ``pushsvc-api`` ServiceAccount; returns once every pod watches."""
    started: list[PushsvcProcess] = []
    kubeapi.set_rbac(_API_RBAC)
    kubeconfig = kubeapi.kubeconfig_for(BUS_NAMESPACE, "pushsvc-api")

    def start(count: int, *, env: dict[str, str] | None = None) -> list[PushsvcProcess]:
        first = len(started)
        for k in range(count):
            pod_env = {
                "PUSHSVC_BUS": "kubernetes",
                "PUSHSVC_BUS_NAMESPACE": BUS_NAMESPACE,
                "PUSHSVC_KUBECONFIG": str(kubeconfig),
                "PUSHSVC_POD_NAME": f"pushsvc-{first + k}",
                "PUSHSVC_PING_INTERVAL_SECONDS": "3",
                **(env or {}),
            }
            started.append(start_pushsvc(env=pod_env, log_dir=server_logs))
        wait_until(lambda: kubeapi.stats()["open_watches"] >= len(started), timeout=60,
                   what="every pod watching")
        return started[first:]

    yield start
    for pod in started:
        pod.stop()
