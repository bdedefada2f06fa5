"""Whatever offset a reconnect sends, nothing from before the session is replayed.

A client chooses its offset. With its own pid and ``"0-0"`` it used to get every broadcast
still in the pod's history (minutes of it) though its session did not exist then — the same
with an offset kept from an older session, or a made-up one. What a session missed now
starts at its connect position at the earliest. Raw Engine.IO/Socket.IO frames against real
pods on the emulated bus: the replay is what arrives before the CONNECT reply.
"""

from __future__ import annotations

import json

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.recovery import notify_numbered
from tests.recovery.conftest import Observers
from tests.support.raw_engineio import RawWebSocket
from tests.support.tokens import Tokens


def _replayed_then_connect(ws: RawWebSocket, auth: dict[str, object]) -> tuple[list[str],
                                                                              dict[str, str]]:
    """Texts of the nuke_response EVENTs before the CONNECT reply, and the reply's data."""
    ws.handshake()
    ws.send_text("40" + json.dumps(auth))
    replayed: list[str] = []
    while True:
        frame = ws.recv_until(lambda f: isinstance(f, str) and f[:2] in ("40", "42", "44"))
        if frame.startswith("40"):
            return replayed, json.loads(frame[2:])
        assert not frame.startswith("44"), frame
        event, *args = json.loads(frame[2:])
        if event == "nuke_response" and isinstance(args[0], dict):
            replayed.append(str(args[0].get("data")))


def _offset_of(ws: RawWebSocket, text: str) -> str:
    frame = ws.recv_until(lambda f: isinstance(f, str) and f.startswith('42["nuke_response"')
                          and json.loads(f[2:])[1].get("data") == text)
    return str(json.loads(frame[2:])[-1])


@pytest.mark.parametrize("offset", ["0-0", "an older session's", "made up", "1-0"])
def test_a_reconnect_gets_only_what_its_session_missed_whatever_offset_it_sends(
    offset: str, topology: LocalTopology, tokens: Tokens, observers: Observers,
) -> None:
    token = tokens.mint("carol")
    with RawWebSocket(topology.pods[0].url) as older:
        older.sio_connect(auth={"token": token})
        before = notify_numbered(topology, f"before the session ({offset})", 3)
        old_offset = _offset_of(older, before[0])
    sent = {"0-0": "0-0", "an older session's": old_offset, "1-0": "1-0",
            "made up": f"{int(old_offset.split('-')[0]) - 1}-7"}[offset]

    first = RawWebSocket(topology.pods[0].url)
    try:
        pid = first.sio_connect(auth={"token": token})["pid"]
        observers.recorded(pid, "at connect", lambda r: r["s"] == "up")
    finally:
        first.close()  # a network cut: no Socket.IO DISCONNECT
    observers.recorded(pid, "after the cut", lambda r: r["s"] == "down")
    missed = notify_numbered(topology, f"while away ({offset})", 2)

    with RawWebSocket(topology.pods[1].url) as again:
        replayed, connect = _replayed_then_connect(
            again, {"token": token, "pid": pid, "offset": sent})
    assert connect["pid"] == pid  # recovered
    assert [t for t in replayed if t.startswith(("before", "while"))] == missed
