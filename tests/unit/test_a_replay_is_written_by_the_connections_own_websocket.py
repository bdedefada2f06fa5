"""A recovery's replay on pushsvc's engine (pushsvc.engineio): the missed messages' WebSocket
frames are built once for every recovering client and written by the connection's own
WebSocket writer, in order, in one write — not packet by packet through the send path; a
client that is still polling gets them through the send path, each with its offset.

A real pushsvc.engineio Session and WebSocket over a socket pair, read back with wsproto as a
client; the Socket.IO server and the bus around Recovery are stand-ins (only ``eio.sockets``
and ``host_id`` are read here). End to end on both engines: tests/recovery.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from pushsvc.engineio.bounds import Limits
from pushsvc.engineio.session import Session
from pushsvc.engineio.websocket import WebSocket
from pushsvc.recovery import Recovery
from pushsvc.settings import Settings


class _Engine:
    def __init__(self) -> None:
        self.sockets: dict[str, Session] = {}


class _Server:
    def __init__(self) -> None:
        self.eio = _Engine()


class _Bus:
    host_id = "this-pod"


def _message(text: str) -> dict[str, Any]:
    return {"method": "emit", "event": "chat", "data": [text], "binary": False,
            "namespace": "/", "room": None, "skip_sid": None, "callback": None,
            "host_id": "another-pod"}


@pytest.fixture
def recovery() -> Recovery:
    settings = Settings(recovery_enabled=True,
                        recovery_secret="unit-test-recovery-secret-0123")
    recovery = Recovery(settings=settings, server=_Server(), manager=_Bus())
    for index, text in enumerate(["one", "two", "three"]):
        recovery.history.add((100 + index, 0), _message(text), at=0.0)
    return recovery


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(2)]
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def _websocket_session(recovery: Recovery, sid: str, sock: socket.socket) -> Session:
    session = Session(recovery.server.eio, sid, "127.0.0.1", {}, "websocket")
    session.ws = WebSocket(sock, Limits(), on_overflow=lambda: None)
    recovery.server.eio.sockets[sid] = session
    return session


def _read_texts(sock: socket.socket, count: int) -> tuple[list[str], int]:
    """The text messages a client reads, and in how many recv() calls they came."""
    client = Connection(ConnectionType.CLIENT)
    texts: list[str] = []
    reads = 0
    sock.settimeout(5.0)
    while len(texts) < count:
        client.receive_data(sock.recv(65536))
        reads += 1
        texts += [event.data for event in client.events() if isinstance(event, TextMessage)]
    return texts, reads


def test_frames_are_built_once_and_written_by_each_connections_websocket(
        recovery: Recovery, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    sent: list[Any] = []
    missed = recovery.history.between((0, 0), (999, 0))
    held_before = recovery.history.bytes
    (first_ours, first_theirs), (second_ours, second_theirs) = pairs
    _websocket_session(recovery, "first", first_ours)
    _websocket_session(recovery, "second", second_ours)

    recovery._replay("first", missed, lambda eio_sid, pkt: sent.append(pkt))
    frames = [entry.frame for entry in missed]
    assert all(frame is not None for frame in frames)
    held_after_first = recovery.history.bytes
    assert held_after_first == held_before + sum(len(f or b"") for f in frames)

    recovery._replay("second", missed, lambda eio_sid, pkt: sent.append(pkt))
    assert [entry.frame for entry in missed] == frames
    assert all(entry.frame is frame for entry, frame in zip(missed, frames, strict=True))
    assert recovery.history.bytes == held_after_first  # built (and charged) once

    assert sent == []  # nothing went packet by packet
    expected = [f'42["chat","{text}","{100 + i}-0"]' for i, text in enumerate(
        ["one", "two", "three"])]
    for theirs in (first_theirs, second_theirs):
        texts, reads = _read_texts(theirs, 3)
        assert texts == expected
        assert reads == 1  # one write of all three frames


def test_a_polling_client_gets_the_packets_through_the_send_path(recovery: Recovery) -> None:
    session = Session(recovery.server.eio, "polling", "127.0.0.1", {}, "polling")
    recovery.server.eio.sockets["polling"] = session
    sent: list[tuple[str, Any]] = []
    missed = recovery.history.between((0, 0), (999, 0))

    recovery._replay("polling", missed, lambda eio_sid, pkt: sent.append((eio_sid, pkt)))

    assert [eio_sid for eio_sid, _ in sent] == ["polling"] * 3
    assert [json.loads(pkt.encode()[1:]) for _, pkt in sent] == [
        ["chat", "one", "100-0"], ["chat", "two", "101-0"], ["chat", "three", "102-0"]]
    assert all(entry.frame is None for entry in missed)
