"""Deeply nested client data is refused with ``too_deep``, in one log line, never a traceback.

The handlers checked a message's size with ``json.dumps``, which recurses: data nested
close to Python's recursion limit parses (the packet decoder runs on a shorter stack) but
made the size check raise RecursionError, a traceback per message. The depth is now
checked first without recursion. By default the Engine.IO/Socket.IO layer refuses such data
before any handler runs (PUSHSVC_MAX_JSON_DEPTH, tested with the packet-layer limits); here
that setting is raised to its maximum so the handlers' own check is what answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import websocket

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until

Clients = Callable[..., RecordingClient]


@pytest.fixture(scope="module")
def server(server_logs: Path) -> Iterator[PushsvcProcess]:
    """A server whose packet layer lets deep data through to the handlers."""
    with start_pushsvc(env={"PUSHSVC_MAX_JSON_DEPTH": "1000"}, log_dir=server_logs) as proc:
        yield proc


def _send_raw(server: PushsvcProcess, event_frame: str) -> tuple[websocket.WebSocket, str]:
    ws = websocket.create_connection(
        f"ws://{server.host}:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    assert str(ws.recv()).startswith("0{")
    ws.send("40")
    sid = ""
    while not sid:
        frame = str(ws.recv())
        if frame.startswith("40"):
            sid = json.loads(frame[2:])["sid"]
    ws.send(event_frame)
    return ws, sid


def _ack(ws: websocket.WebSocket, ack_id: int) -> object:
    for _ in range(50):
        frame = str(ws.recv())
        if frame == "2":
            ws.send("3")
        elif frame.startswith(f"43{ack_id}["):
            return json.loads(frame[len(f"43{ack_id}"):])[0]
    raise AssertionError("no ack")


@pytest.mark.parametrize("depth", [34, 900])
def test_nested_data_is_refused_with_too_deep(server: PushsvcProcess, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    ws, sid = _send_raw(server, f'427["my_event",{{"data":{nested}}}]')
    try:
        ack = _ack(ws, 7)
    finally:
        ws.close()
    assert ack == {"ok": False, "event": "my_event", "code": "too_deep",
                   "reason": "message is nested deeper than 32 levels"}
    lines = wait_until(lambda: [line for line in server.read_log().splitlines() if sid in line
                                and "too_deep" in line], what="the log line")
    assert len(lines) == 1
    assert "RecursionError" not in server.read_log()


def test_many_deep_messages_cost_one_log_line(server: PushsvcProcess) -> None:
    nested = "[" * 900 + "]" * 900
    ws, sid = _send_raw(server, f'421["my_event",{{"data":{nested}}}]')
    try:
        for n in range(2, 21):
            ws.send(f'42{n}["unknown_thing",{{"data":{nested}}}]')
        assert isinstance(_ack(ws, 20), dict)
    finally:
        ws.close()
    log = server.read_log()
    assert len([line for line in log.splitlines() if sid in line]) <= 2  # connect + too_deep
    assert "Traceback" not in log


def test_a_shallow_message_still_works(server: PushsvcProcess, clients: Clients) -> None:
    client = clients(transports=["websocket"]).connect(server.url)
    assert client.call("my_event", {"data": "flat"}) == {"ok": True}
