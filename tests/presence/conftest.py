"""Fixtures for the presence tests: three real pods on the Kubernetes API emulator, JWT mode.

Intervals are short (1 s, so a Lease lasts 3 s) and the Engine.IO heartbeat too (a frozen
client's session times out in about 2 s), so presence changes show in seconds. Clients
connect with tokens minted here: ``presence_client(pod, "alice", rooms=[...],
presence=[...])``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pushsvc.testing.kubeapi import start_kubeapi
from tests.bus.cluster import Cluster, start_cluster, stop_cluster
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.sio_client import RecordingClient, wait_until
from tests.support.tokens import Tokens, jwt_env

INTERVAL = 1.0
LEASE_SECONDS = 3
PRESENCE_ENV = jwt_env(
    PUSHSVC_PRESENCE="true",
    PUSHSVC_PRESENCE_INTERVAL_SECONDS=str(INTERVAL),
    PUSHSVC_PRESENCE_NOTICE_ROOMS="team-*",
    PUSHSVC_PRESENCE_CLIENT_QUERIES_PER_SECOND="50",
    PUSHSVC_PING_INTERVAL_SECONDS="1",
    PUSHSVC_PING_TIMEOUT_SECONDS="1",
)

Connect = Callable[..., RecordingClient]


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture(scope="session")
def presence_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("presence")
    log_dir = REPO_ROOT / "artifacts" / "presence" / workdir.name
    with start_kubeapi(workdir / "kubeapi") as api:
        c = start_cluster(api, pods=3, log_dir=log_dir, env=PRESENCE_ENV)
        try:
            c.wait_all_watching()
            wait_until(lambda: len(leases(c)) >= 3, timeout=60, what="three presence Leases")
            yield c
        finally:
            stop_cluster(c)


@pytest.fixture
def presence_client(presence_cluster: Cluster, tokens: Tokens) -> Iterator[Connect]:
    """Connect a client as ``sub`` to pod ``pod``, joined to ``rooms``; closed after the test."""
    made: list[RecordingClient] = []

    def connect(pod: int, sub: str, *, rooms: tuple[str, ...] = (),
                presence: list[str] | None = None) -> RecordingClient:
        claim: dict[str, Any] = {"rooms": ["team-*", "report-*", "other-*"]}
        if presence is not None:
            claim["presence"] = presence
        token = tokens.mint(sub, pushsvc=claim)
        client = RecordingClient(transports=["websocket"]).connect(
            presence_cluster.pods[pod].url, auth={"token": token})
        made.append(client)
        for room in rooms:
            join(client, room)
        return client

    yield connect
    for client in made:
        client.close()


def join(client: RecordingClient, room: str) -> None:
    answer = client.call("join", {"room": room})
    assert answer.get("ok") is True, answer


def leave(client: RecordingClient, room: str) -> None:
    answer = client.call("leave", {"room": room})
    assert answer.get("ok") is True, answer


def ask(client: RecordingClient, room: str) -> dict[str, Any]:
    """The client's presence question; the ack is the answer."""
    answer: dict[str, Any] = client.call("pushsvc_presence", {"room": room})
    return answer


def wait_for_answer(client: RecordingClient, room: str, predicate: Callable[[dict[str, Any]],
                    bool], *, timeout: float = 30) -> dict[str, Any]:
    """Ask until the answer matches (presence converges within a few intervals)."""
    seen: list[dict[str, Any]] = []

    def check() -> dict[str, Any] | None:
        answer = ask(client, room)
        seen.append(answer)
        return answer if predicate(answer) else None

    try:
        return wait_until(check, timeout=timeout, interval=0.3, what=f"presence of {room}")
    except AssertionError as err:
        raise AssertionError(f"{err}; last answer: {seen[-1] if seen else None}") from None


def users(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((m["user"], m["pod"]) for m in answer["members"])


def leases(c: Cluster) -> list[dict[str, Any]]:
    out = c.kubectl("get", "leases", "-n", c.namespace, "-l", "pushsvc.io/presence=pushsvc",
                    "-o", "json")
    return list(json.loads(out)["items"])
