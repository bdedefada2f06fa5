"""Without stickiness long-polling breaks behind HAProxy; the cookie keeps a browser on its
pod even when its address changes, which `balance source` alone does not.

Each case runs the shipped config with one stickiness mechanism removed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.clients import (
    abandon,
    echo_round_trips,
    polling_client,
    servers_by_source,
    session_works,
    statuses,
)
from tests.deploy.conftest import SOURCES, TEST_POD_ENV, without_cookie, without_stickiness
from tests.support import RecordingClient

pytestmark = pytest.mark.topology  # it starts its pods itself

# A broken session is noticed when a long-poll ends: a short ping interval keeps the
# failing cases quick (the shipped timeouts are above any ping interval up to 40 s).
FAST_PING = {"PUSHSVC_PING_INTERVAL_SECONDS": "3", "PUSHSVC_PING_TIMEOUT_SECONDS": "3"}


def _topology(tmp_path: Path, transform: Callable[[str], str] | None) -> LocalTopology:
    return LocalTopology(tmp_path / "topology", bus="memory", config_transform=transform,
                         pod_env={**TEST_POD_ENV, **FAST_PING})


def _first_servers(topology: LocalTopology) -> dict[str, str]:
    """Which server each source address is sent to first (a handshake, no cookie)."""
    for ip in SOURCES:
        client = polling_client(ip)
        try:
            client.connect(topology.url)
        finally:
            client.close()
    landed = servers_by_source(topology.haproxy_log())
    return {ip: landed[ip][0] for ip in SOURCES}


def _two_addresses_on_different_pods(topology: LocalTopology) -> tuple[str, str]:
    first = _first_servers(topology)
    a = SOURCES[0]
    b = next((ip for ip in SOURCES if first[ip] != first[a]), None)
    assert b is not None, f"every address hashes to one pod: {first}"
    return a, b


def test_long_polling_fails_with_round_robin_and_no_cookie(tmp_path: Path) -> None:
    with _topology(tmp_path, without_stickiness) as topology:
        client = polling_client(SOURCES[0])
        try:
            assert not session_works(client, topology.url)
        finally:
            abandon(client)
        # The pod that did not issue the session answers 400 (unknown session id).
        assert 400 in statuses(topology.haproxy_log())
        # WebSocket-only clients need no stickiness: one connection, one pod.
        with RecordingClient(transports=["websocket"]) as ws:
            ws.connect(topology.url)
            echo_round_trips(ws, 2, tag="ws")


def test_the_cookie_keeps_a_browser_on_its_pod_when_its_address_changes(
    tmp_path: Path,
) -> None:
    with _topology(tmp_path, None) as topology:
        a, b = _two_addresses_on_different_pods(topology)
        offset = len(topology.haproxy_log())
        client = polling_client(a, b)  # every request from the other address, in turn
        try:
            assert session_works(client, topology.url)
            landed = servers_by_source(topology.haproxy_log()[offset:])
        finally:
            client.close()
        # Both addresses' requests went to the pod that issued the session.
        assert len(set(landed[a] + landed[b])) == 1, landed


def test_balance_source_alone_loses_a_browser_whose_address_changes(tmp_path: Path) -> None:
    with _topology(tmp_path, without_cookie) as topology:
        a, b = _two_addresses_on_different_pods(topology)
        client = polling_client(a, b)
        try:
            assert not session_works(client, topology.url)
        finally:
            abandon(client)
        assert 400 in statuses(topology.haproxy_log())
