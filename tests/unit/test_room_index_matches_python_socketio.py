"""The room index answers exactly what python-socketio's own scans answer.

Random sequences of connects, joins, leaves, close_room and disconnects run on
python-socketio's ``Manager`` and on pushsvc's ``IndexedManager`` side by side; after every
step both hold the same rooms and report the same rooms for every client.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import socketio

from pushsvc.bus.rooms import IndexedManager

NS = "/"


class _FakeEio:
    def __init__(self) -> None:
        self._ids = itertools.count()

    def generate_id(self) -> str:
        return f"sid{next(self._ids)}"


class _FakeServer:
    def __init__(self) -> None:
        self.eio = _FakeEio()
        self.packet_class = socketio.packet.Packet


def _manager(cls: type[Any]) -> Any:
    manager = cls()
    manager.set_server(_FakeServer())
    return manager


def _snapshot(manager: Any) -> dict[Any, dict[str, str]]:
    return {room: dict(members) for room, members in manager.rooms.get(NS, {}).items()}


@pytest.mark.parametrize("seed", range(20))
def test_random_room_operations_leave_both_managers_identical(seed: int) -> None:
    rng = random.Random(seed)
    plain, indexed = _manager(socketio.Manager), _manager(IndexedManager)
    connected: list[str] = []
    room_names = [f"room{i}" for i in range(5)]
    for step in range(300):
        op = rng.choice(["connect", "connect", "join", "join", "leave", "close", "disconnect"])
        if op == "connect" or not connected:
            eio_sid = f"eio{step}"
            sids = {m.connect(eio_sid, NS) for m in (plain, indexed)}
            assert len(sids) == 1
            connected.append(sids.pop())
        elif op == "join":
            sid, room = rng.choice(connected), rng.choice(room_names)
            for m in (plain, indexed):
                m.enter_room(sid, NS, room)
        elif op == "leave":
            sid, room = rng.choice(connected), rng.choice(room_names)
            for m in (plain, indexed):
                m.leave_room(sid, NS, room)
        elif op == "close":
            room = rng.choice(room_names)
            for m in (plain, indexed):
                m.close_room(room, NS)
        else:
            sid = connected.pop(rng.randrange(len(connected)))
            for m in (plain, indexed):
                m.disconnect(sid, NS)
        assert _snapshot(indexed) == _snapshot(plain)
        for sid in connected:
            assert sorted(indexed.get_rooms(sid, NS)) == sorted(plain.get_rooms(sid, NS))


def test_a_disconnected_client_has_no_rooms() -> None:
    manager = _manager(IndexedManager)
    sid = manager.connect("eio0", NS)
    manager.enter_room(sid, NS, "a")
    manager.disconnect(sid, NS)
    assert manager.get_rooms(sid, NS) == []
    assert manager.rooms == {}
