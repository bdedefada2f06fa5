"""Two reconnects with one pid, recovered at the same moment on two pods, leave one live
connection for the session's sid, not two.

A session recovered on another pod is dropped where it was (socket.io #4880), found by its
snapshot's generation being higher. Two recoveries at once on two pods both raise it by one,
and neither used to give way: two live connections shared one sid, each getting the other's
messages (a cloned tab, a replayed handshake). Now the later record keeps the session on both
pods' reading. Raw frames, both CONNECTs sent before either pod can have heard of the other.
"""

from __future__ import annotations

import json
import time

import websocket

from pushsvc.testing.topology import LocalTopology
from tests.deploy.recovery import notify_numbered
from tests.recovery.conftest import Observers
from tests.support.raw_engineio import RawWebSocket
from tests.support.tokens import Tokens


def _closed(ws: RawWebSocket) -> bool:
    """Read what is waiting (answering pings); True once the server closed it."""
    try:
        while True:
            frame = ws.recv(timeout=0.1)
            if frame is None or frame == "1":
                return True
            if frame == "2":
                ws.send_text("3")
            elif isinstance(frame, str) and frame.startswith("41"):
                return True
    except websocket.WebSocketTimeoutException:
        return False


def test_two_recoveries_of_one_pid_at_once_on_two_pods_leave_one_connection(
    topology: LocalTopology, tokens: Tokens, observers: Observers,
) -> None:
    token = tokens.mint("dana")
    first = RawWebSocket(topology.pods[0].url)
    try:
        connected = first.sio_connect(auth={"token": token})
        observers.recorded(connected["pid"], "at connect", lambda r: r["s"] == "up")
        # The broadcast that told the observers is the last message it got: its offset is
        # what a socket.io-client would send back.
        frame = first.recv_until(lambda f: isinstance(f, str) and f.startswith("42")
                                 and "synced #" in f)
        offset = json.loads(frame[2:])[-1]
    finally:
        first.close()
    observers.recorded(connected["pid"], "after the cut", lambda r: r["s"] == "down")

    with RawWebSocket(topology.pods[1].url) as one, RawWebSocket(topology.pods[2].url) as two:
        one.handshake()
        two.handshake()
        auth = "40" + json.dumps({"token": token, "pid": connected["pid"], "offset": offset})
        one.send_text(auth)
        two.send_text(auth)
        answers = [json.loads(ws.recv_until(lambda f: isinstance(f, str)
                                            and f.startswith("40"))[2:]) for ws in (one, two)]
        assert [a["pid"] for a in answers] == [connected["pid"]] * 2  # both recovered
        deadline = time.monotonic() + 30
        closed = [False, False]
        while not any(closed) and time.monotonic() < deadline:
            closed = [_closed(one), _closed(two)]
        assert closed.count(True) == 1, "one of the two connections is dropped"
        survivor = two if closed[0] else one
        live = notify_numbered(topology, "dana's own", 1, room="user:dana")
        survivor.recv_until(lambda f: isinstance(f, str) and live[-1] in f)
