"""A token the check cannot even encode (a lone surrogate) is refused, and leaves no session.

Before the fix, ``auth {"token": "\\ud800"}`` made the token comparison raise
UnicodeEncodeError: python-socketio left that client pre-connected — in the manager's
rooms, so it received every broadcast — and never removed it, so closed sockets were still
counted as clients to drain.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import socketio
import websocket

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.probes import metric

TOKEN = "right-token-\u00e9"
LONE_SURROGATE_CONNECT = '40{"token":"\\ud800"}'  # JSON text: the escape, not the character
Clients = Callable[..., RecordingClient]


@pytest.fixture
def guarded(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = {"PUSHSVC_AUTH_TOKEN": TOKEN, "PUSHSVC_PING_INTERVAL_SECONDS": "3"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc




def _raw_socket(proc: PushsvcProcess) -> websocket.WebSocket:
    ws = websocket.create_connection(
        f"ws://{proc.host}:{proc.port}/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    opening = str(ws.recv())
    assert opening.startswith("0{")
    return ws


def _recv_until(ws: websocket.WebSocket, prefix: str) -> list[str]:
    """Frames up to and including the first one starting with ``prefix`` (pongs answered)."""
    frames: list[str] = []
    for _ in range(100):
        frame = str(ws.recv())
        if frame == "2":
            ws.send("3")
            continue
        frames.append(frame)
        if frame.startswith(prefix):
            return frames
    raise AssertionError(f"no frame starting with {prefix!r} in {frames}")


def test_a_lone_surrogate_token_is_refused_and_gets_no_broadcast(
    guarded: PushsvcProcess, clients: Clients
) -> None:
    ws = _raw_socket(guarded)
    try:
        ws.send(LONE_SURROGATE_CONNECT)
        refusal = _recv_until(ws, "44")[-1]
        assert json.loads(refusal[2:]) == {"message": "unauthorized"}

        member = clients(transports=["websocket"]).connect(guarded.url, auth={"token": TOKEN})
        member.emit("my_broadcast_event", {"data": "for members only"})
        member.wait_for_reply("for members only")
        # A valid CONNECT on the same socket is answered after anything already queued for
        # it: a broadcast delivered to the refused client would show up before this reply.
        # The "Connected" reply of this second connect comes right after it (a connect
        # handler's emits follow the CONNECT).
        ws.send("40" + json.dumps({"token": TOKEN}))
        frames = _recv_until(ws, "40")
        assert frames[-1].startswith('40{"sid":')
        frames.append(str(ws.recv()))
        assert [f for f in frames if f.startswith('42["nuke_response"')] == [
            '42["nuke_response",{"data":"Connected"}]'
        ]
    finally:
        ws.close()


def test_the_python_client_with_a_lone_surrogate_token_is_refused(
    guarded: PushsvcProcess, clients: Clients
) -> None:
    client = clients(transports=["websocket"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(guarded.url, auth={"token": "\ud800"})
    assert client.received("connect_error") == [{"message": "unauthorized"}]
    assert "Traceback" not in guarded.read_log()


def test_refused_sockets_leave_no_session_to_count_or_drain(
    guarded: PushsvcProcess, clients: Clients
) -> None:
    sockets = [_raw_socket(guarded) for _ in range(20)]
    for ws in sockets:
        ws.send(LONE_SURROGATE_CONNECT)
        _recv_until(ws, "44")
    member = clients(transports=["websocket"]).connect(guarded.url, auth={"token": TOKEN})
    member.wait_for_reply("Connected")
    assert metric(guarded.url, "pushsvc_socketio_sessions") == 1
    assert metric(guarded.url, "pushsvc_connected_clients") == 1
    for ws in sockets:
        ws.close()
    member.close()
    wait_until(lambda: metric(guarded.url, "pushsvc_socketio_sessions") == 0,
               what="no Socket.IO session left")
    assert metric(guarded.url, "pushsvc_connected_clients") == 0
    assert metric(guarded.url, "pushsvc_refused_connections_total") == 20

    guarded.stop(signal.SIGTERM)
    log = guarded.read_log()
    assert "drain finished: 0 client(s) told" in log
    assert "\ud800" not in log and TOKEN not in log and "Traceback" not in log
