"""Deeply nested or undecodable packets are refused before any parsing or handler: one log line.

A packet nesting 20,000 levels made json.loads raise RecursionError, logged with a full
traceback per message (200 messages: 335 KB of log). Now nesting past PUSHSVC_MAX_JSON_DEPTH
is measured before parsing; the client gets an ``error`` event (code too_deep), the server
logs one line per client and counts the rest. Any other undecodable Socket.IO packet closes
that connection (as the socket.io protocol says and Node does), with one line and no
traceback; so does an undecodable Engine.IO frame.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import websocket

from tests.support import PushsvcProcess, RecordingClient, wait_until
from tests.support.probes import metric
from tests.support.raw_engineio import RawPolling, RawWebSocket

DEEP = '2["my_event",' + "[" * 20000 + "]" * 20000 + "]"
REFUSED = "pushsvc_engine_refused_packets_total"
CLOSED = "pushsvc_engine_closed_connections_total"


def _log_growth(server: PushsvcProcess, start: int) -> list[str]:
    return server.read_log()[start:].splitlines()


def _error_code(frame: object) -> bool:
    return isinstance(frame, str) and '"code":"too_deep"' in frame


def test_two_hundred_deep_messages_over_websocket_log_one_line_and_get_an_error(
    server: PushsvcProcess, clients: Callable[..., RecordingClient],
) -> None:
    bystander = clients(transports=["websocket"]).connect(server.url)
    start = len(server.read_log())
    before = metric(server.url, REFUSED, reason="too_deep")
    with RawWebSocket(server.url) as attacker:
        attacker.sio_connect()
        for _ in range(200):
            attacker.send_text("4" + DEEP)
        frame = attacker.recv_until(_error_code)
        assert '"event":"?"' in frame and "32 levels" in frame
        attacker.emit("my_event", {"data": "after"})
        attacker.recv_until(lambda f: isinstance(f, str) and '"after"' in f)
    wait_until(lambda: metric(server.url, REFUSED, reason="too_deep") >= before + 200,
               what="200 refusals counted")
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")
    lines = _log_growth(server, start)
    assert len([ln for ln in lines if "too_deep" in ln]) == 1
    assert len(lines) <= 5 and not any("Traceback" in ln for ln in lines), lines


def test_two_hundred_deep_messages_over_polling_log_one_line_and_get_an_error(
    server: PushsvcProcess, clients: Callable[..., RecordingClient],
) -> None:
    bystander = clients(transports=["polling"]).connect(server.url)
    start = len(server.read_log())
    with RawPolling(server.url) as attacker:
        attacker.sio_connect()
        for _ in range(200 // 4):
            assert attacker.post(["4" + DEEP] * 4).status_code == 200
        packets = attacker.get_until(_error_code)
        assert any(_error_code(p) for p in packets)
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")
    lines = _log_growth(server, start)
    assert len([ln for ln in lines if "too_deep" in ln]) == 1
    assert len(lines) <= 5 and not any("Traceback" in ln for ln in lines), lines


@pytest.mark.parametrize("packet", [
    "42{}", "42[]", "421", '42[1,"x"]', "49", "44{}", "42[", '43["no id"]', "451-[]",
    '42/nsp,["x"', "4" + "0" * 200,
])
def test_an_undecodable_socketio_packet_closes_the_connection_with_one_line_and_no_traceback(
    server: PushsvcProcess, clients: Callable[..., RecordingClient], packet: str,
) -> None:
    bystander = clients(transports=["websocket"]).connect(server.url)
    start = len(server.read_log())
    before = metric(server.url, CLOSED, reason="bad_packet")
    with RawWebSocket(server.url) as client:
        client.sio_connect()
        for _ in range(20):
            try:
                client.send_text(packet)
            except (OSError, websocket.WebSocketException):
                break  # already closed
        assert client.closed_by_server()
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")
    assert metric(server.url, CLOSED, reason="bad_packet") == before + 1
    lines = _log_growth(server, start)
    assert not any("Traceback" in ln or "handler error" in ln for ln in lines), lines
    assert len(lines) <= 3, lines


@pytest.mark.parametrize("frame", ["", "x", "bA", "\u00e9"])
def test_an_undecodable_engineio_frame_closes_only_that_websocket(
    server: PushsvcProcess, clients: Callable[..., RecordingClient], frame: str,
) -> None:
    bystander = clients(transports=["websocket"]).connect(server.url)
    start = len(server.read_log())
    with RawWebSocket(server.url) as client:
        client.sio_connect()
        client.send_text(frame)
        assert client.closed_by_server()
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")
    lines = _log_growth(server, start)
    assert not any("Traceback" in ln for ln in lines), lines
    assert len([ln for ln in lines if "bad_frame" in ln]) == 1


@pytest.mark.parametrize("body", [b"\xff\xfe", b"x", b"d=", ("4" + "\x1e4" * 20).encode()])
def test_an_undecodable_polling_payload_gets_400_and_ends_only_that_session(
    server: PushsvcProcess, body: bytes,
) -> None:
    start = len(server.read_log())
    with RawPolling(server.url) as client:
        client.sio_connect()
        assert client.post(body).status_code == 400
        assert client.get() == [] or client.get() == []
        client.sid = ""
    lines = _log_growth(server, start)
    assert not any("Traceback" in ln for ln in lines), lines
    assert len([ln for ln in lines if "bad_frame" in ln]) == 1
