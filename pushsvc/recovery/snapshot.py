"""A session snapshot, as every pod may know it, and the bus positions it is made of.

A position is ``(Event resourceVersion, index in the Event)``; its text ``"<rv>-<i>"`` is the
offset clients hold. A snapshot is parsed from untrusted bus Events: any oddity is ``None``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pushsvc.bus.contract import Position

#: Snapshots travel as emits to this namespace: no client is ever connected to it.
SNAPSHOT_NAMESPACE = "/pushsvc.recovery"
SNAPSHOT_EVENT = "snapshots"
#: Delivered at once, without an offset, never replayed (socket.io's ``volatile``).
VOLATILE_EVENTS = frozenset({"error", "server_shutdown"})
_MAX_ROOMS_IN_RECORD = 1000
_NONE: Position = (0, 0)



def recoverable(event: str, namespace: str, callback: object) -> bool:
    """Does this emit reach clients with an offset (and go in the history)?"""
    return namespace == "/" and callback is None and event not in VOLATILE_EVENTS


def offset_text(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def parse_offset(value: object) -> Position | None:
    """``"<rv>-<i>"`` → (rv, i); None for anything else (a client sends what it likes)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    rv, sep, index = value.partition("-")
    if not sep or not rv.isdigit() or not index.isdigit():
        return None
    return (int(rv), int(index))


def pid_key(pid: str) -> str:
    """What a snapshot is stored under: the pid is the secret, never kept or logged."""
    return hashlib.sha256(pid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _span(value: Any) -> list[Position | None] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    joined = parse_offset(value[0])
    left = None if value[1] is None else parse_offset(value[1])
    if joined is None or (value[1] is not None and left is None):
        return None
    return [joined, left]


@dataclass
class Snapshot:
    """One session as every pod may know it (never the pid itself)."""

    key: str
    sid: str
    owner: str  # host_id of the pod holding it
    gen: int  # +1 at each recovery: an older owner's late writes lose
    state: str  # "up", "down" (the client went away), "ended" (the server ended it)
    at: float  # wall time of this record
    pos: Position  # its deliveries' start (connect, or last recovery)
    seen: Position  # the owner's bus position when this record was written
    last: Position | None  # last recoverable message sent to it (None: nothing since pos)
    floor: Position  # offsets below are not trusted (its pod delivered out of order)
    rooms: dict[str, list[Position | None]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    #: Whose session it is: the auth mode it was made under and its token's ``sub`` (None:
    #: no token). A recovery must present the same (an older record without them: "").
    mode: str = ""
    user: str | None = None
    #: Rooms the server's connect handler put it in (the user room too): at a recovery the
    #: connect handler decides them again; every other room is checked against the claims.
    connect_rooms: set[str] = field(default_factory=set)

    def record(self) -> dict[str, Any]:
        return {
            "k": self.key, "sid": self.sid, "o": self.owner, "g": self.gen, "s": self.state,
            "at": round(self.at, 3), "p": offset_text(self.pos), "sn": offset_text(self.seen),
            "l": None if self.last is None else offset_text(self.last),
            "f": offset_text(self.floor), "d": self.data, "m": self.mode, "u": self.user,
            "cr": sorted(room for room in self.connect_rooms if room in self.rooms),
            "r": {room: [offset_text(span[0]), None if span[1] is None else offset_text(span[1])]
                  for room, span in self.rooms.items() if span[0] is not None},
        }

    @classmethod
    def parse(cls, raw: Any) -> Snapshot | None:
        """A record from a bus Event (untrusted: any oddity → None)."""
        if not isinstance(raw, dict):
            return None
        try:
            pos, seen, floor = (parse_offset(raw.get(k)) for k in ("p", "sn", "f"))
            last = None if raw.get("l") is None else parse_offset(raw.get("l"))
            rooms_raw = raw.get("r")
            if pos is None or seen is None or floor is None or not isinstance(rooms_raw, dict) \
                    or len(rooms_raw) > _MAX_ROOMS_IN_RECORD or (raw.get("l") is not None
                                                                 and last is None):
                return None
            rooms: dict[str, list[Position | None]] = {}
            for room, value in rooms_raw.items():
                span = _span(value)
                if not isinstance(room, str) or span is None:
                    return None
                rooms[room] = span
            key, sid, owner, gen, state, at, data = (
                raw["k"], raw["sid"], raw["o"], raw["g"], raw["s"], raw["at"], raw.get("d", {}))
            mode, user, connect_rooms = raw.get("m", ""), raw.get("u"), raw.get("cr", [])
            if not (isinstance(key, str) and isinstance(sid, str) and isinstance(owner, str)
                    and isinstance(gen, int) and state in ("up", "down", "ended")
                    and isinstance(at, int | float) and isinstance(data, dict)
                    and isinstance(mode, str) and (user is None or isinstance(user, str))
                    and isinstance(connect_rooms, list)
                    and all(isinstance(room, str) and room in rooms for room in connect_rooms)):
                return None
            return cls(key=key, sid=sid, owner=owner, gen=gen, state=state, at=float(at),
                       pos=pos, seen=seen, last=last, floor=floor, rooms=rooms, data=data,
                       mode=mode, user=user, connect_rooms=set(connect_rooms))
        except (KeyError, TypeError, ValueError):
            return None

    def wants(self, position: Position, message: dict[str, Any]) -> bool:
        """Would this session have received this emit, live?"""
        skip = message.get("skip_sid")
        if skip == self.sid or (isinstance(skip, list) and self.sid in skip):
            return False
        room = message.get("room")
        if room is None:
            return True
        for name in [room] if isinstance(room, str) else room:
            if name == self.sid:
                return True
            span = self.rooms.get(name)
            if span is not None and span[0] is not None and span[0] < position and (
                    span[1] is None or position <= span[1]):
                return True
        return False


def _order(snapshot: Snapshot) -> tuple[int, Position, str, float]:
    """Which of two records of one session is newer (see ``Recovery._learn``)."""
    return (snapshot.gen, snapshot.pos, snapshot.owner, snapshot.at)
