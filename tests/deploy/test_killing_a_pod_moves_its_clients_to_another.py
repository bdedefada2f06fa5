"""Kill one pushsvc process: HAProxy's /readyz check marks it DOWN, its clients reconnect
through HAProxy to another pod, and every client keeps receiving notifications.

Clients poll from distinct source addresses (so they spread over the pods) and then
upgrade to WebSocket from 127.0.0.1: the SERVERID cookie carries the upgrade to the
pod that issued the session. Notifications come from `pushsvc-notify` running as the
notifier ServiceAccount through the emulated Kubernetes API (the Events bus).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.clients import source_session
from tests.deploy.conftest import SOURCES, TEST_POD_ENV, require_tool
from tests.support import RecordingClient, wait_until


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[LocalTopology]:
    require_tool("haproxy")
    with LocalTopology(tmp_path / "topology", bus="kubernetes", pod_env=TEST_POD_ENV) as topology:
        yield topology


def _pod_of(topology: LocalTopology, client: RecordingClient) -> int:
    cookie = client.sio.eio.http.cookies.get("SERVERID")
    assert cookie, "HAProxy set no SERVERID cookie"
    return topology.pod_for_cookie(cookie)


def _notify_and_wait(topology: LocalTopology, clients: list[RecordingClient], text: str) -> None:
    topology.notify(event="nuke_response", data=f'{{"data": "{text}"}}')
    for client in clients:
        client.wait_for_reply(text, timeout=20)


def test_clients_of_a_killed_pod_reconnect_elsewhere_and_keep_receiving_notifications(
    topology: LocalTopology,
) -> None:
    clients = [
        RecordingClient(reconnection=True, http_session=source_session(ip)) for ip in SOURCES
    ]
    try:
        for client in clients:
            client.connect(topology.url)
        wait_until(lambda: all(c.transport == "websocket" for c in clients), timeout=15,
                   what="every client to upgrade to WebSocket")
        pods = [_pod_of(topology, c) for c in clients]
        assert len(set(pods)) >= 2, pods
        _notify_and_wait(topology, clients, "before the kill")

        victim = max(set(pods), key=pods.count)
        moved = [c for c, pod in zip(clients, pods, strict=True) if pod == victim]
        victim_name = topology.server_names[victim]
        topology.pods[victim].stop(signal.SIGKILL, timeout=10)

        wait_until(
            lambda: topology.server_states()[victim_name].status.startswith("DOWN"),
            timeout=30, what=f"HAProxy to mark {victim_name} DOWN",
        )
        states = topology.server_states()
        assert all(s.status == "UP" for n, s in states.items() if n != victim_name), states

        wait_until(lambda: all(c.connects >= 2 and c.connected for c in moved), timeout=30,
                   what="the killed pod's clients to reconnect")
        for client in moved:
            assert _pod_of(topology, client) != victim
        _notify_and_wait(topology, clients, "after the kill")
    finally:
        for client in clients:
            client.close()
