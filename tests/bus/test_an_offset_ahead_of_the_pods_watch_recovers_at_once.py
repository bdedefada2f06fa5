"""A reconnect whose offset is ahead of the pod's watch is recovered at once.

In a reconnect storm the pod a client lands on is often a moment behind the one it came from:
its offset is ahead of this pod's watch. The client has everything up to that offset, so the
pod recovers it without waiting (it used to wait for its watch, up to 3 s, then give a new
session), replays nothing, and drops for that session the live messages up to the offset as
they arrive. A made-up offset far ahead — anyone who knows their own pid can send one —
silences only that session and parks nothing. Raw frames against a real pod on the emulated
Kubernetes bus, numbered notifications one Event each.
"""

from __future__ import annotations

import json

import pytest
import websocket

from emitter import Emitter
from pushsvc.recovery import parse_offset
from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.support.raw_engineio import RawWebSocket
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # one pod: cluster_factory(..., pods=1)

ENV = {
    **LIFTED_CLIENT_LIMITS,
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
}
AHEAD = 30  # resource versions
COUNT = 60


def _notify(cluster: Cluster, texts: list[str]) -> None:
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        for text in texts:
            em.notify("nuke_response", {"data": text})  # one Event each


def _events(ws: RawWebSocket, last: str) -> list[tuple[str, tuple[int, int]]]:
    """(text, offset) of every nuke_response until the one whose text is ``last`` (the
    connect handler's "Connected" greeting among them)."""
    got: list[tuple[str, tuple[int, int]]] = []
    while not got or got[-1][0] != last:
        frame = ws.recv_until(lambda f: isinstance(f, str) and f.startswith('42["nuke_response"'))
        _event, data, offset = json.loads(frame[2:])
        position = parse_offset(offset)
        assert position is not None
        got.append((data["data"], position))
    return got


def _frames_within(ws: RawWebSocket, seconds: float) -> list[str | bytes]:
    """Every frame but pings the server sends in the next ``seconds``."""
    frames: list[str | bytes] = []
    try:
        while (frame := ws.recv(timeout=seconds)) is not None:
            if frame != "2":
                frames.append(frame)
    except websocket.WebSocketTimeoutException:
        pass
    return frames


def test_an_offset_ahead_of_the_watch_recovers_at_once_and_skips_only_what_the_client_has(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1, env=ENV)
    cluster.wait_all_watching()
    url = cluster.pods[0].url
    with RawWebSocket(url) as first:
        pid = first.sio_connect()["pid"]
        _notify(cluster, ["before"])
        rv = _events(first, "before")[-1][1][0]
    wait_until(lambda: cluster.metric(0, "pushsvc_recovery_sessions") >= 1,
               what="the pod to know the session")
    recovered = cluster.metric(0, 'pushsvc_recoveries_total{result="recovered"}')

    with RawWebSocket(url) as ahead, RawWebSocket(url) as made_up, \
            RawWebSocket(url) as bystander:
        bystander.sio_connect()
        # Both name the same session: the second recovery takes it over from the first.
        assert ahead.sio_connect(auth={"pid": pid, "offset": f"{rv + AHEAD}-0"})["pid"] == pid
        assert cluster.metric(0, 'pushsvc_recoveries_total{result="recovered"}') \
            == recovered + 1
        texts = [f"n #{i}" for i in range(1, COUNT + 1)]
        _notify(cluster, texts)
        everything = [e for e in _events(bystander, texts[-1]) if e[0].startswith("n #")]
        assert [text for text, _ in everything] == texts  # others miss nothing

        got = [e for e in _events(ahead, texts[-1]) if e[0].startswith("n #")]
        # Exactly what came after its offset: a tail of the sequence, in order, each once.
        assert got == [(t, p) for t, p in everything if p > (rv + AHEAD, 0)]
        assert 0 < len(got) < COUNT

        # A made-up offset far ahead: recovered too, and only that session hears nothing.
        again = made_up.sio_connect(auth={"pid": pid, "offset": "99999999999-0"})
        assert again["pid"] == pid
        _notify(cluster, ["after"])
        assert _events(bystander, "after")[-1][0] == "after"
        assert _frames_within(made_up, 1.0) == []
