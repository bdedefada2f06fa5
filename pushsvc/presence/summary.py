"""One pod's presence summary: which rooms have members here, bounded in rooms, members and bytes.

Each pod writes one summary per interval into an annotation of its own Lease (see
``leases.py``); every other pod reads it. So the summary must be small however many clients a
pod holds, and anything read from a Lease is untrusted (anyone with ``update`` on leases in the
namespace could write one):

- **Bounded on the way out.** Rooms are kept largest first up to ``max_rooms``; each kept room
  carries its exact member count, and members are listed (sid, user, since) until
  ``max_members`` in all or ``max_bytes`` of JSON would be passed. What does not fit is
  counted (``dropped_rooms``, ``dropped_members``), so a reader knows the summary is partial.
- **Checked on the way in.** :func:`decode` refuses a summary over :data:`MAX_SUMMARY_BYTES`
  before parsing, an unknown version, and any field of the wrong type or size
  (:class:`SummaryError`); the caller skips that pod's summary and counts it.

The wire form (annotation ``pushsvc.io/presence``, schema version 1), compact on purpose::

    {"v": 1, "pod": "pushsvc-0", "ts": 1733300000,
     "rooms": [["team", 3, [["<sid>", "alice", 1733299990], ...]], ...],
     "dropped": [<rooms not carried>, <members not listed>]}

``since`` is whole Unix seconds as seen by the writing pod (when it first saw that member in
that room, so within one interval of the join).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

VERSION = 1
#: The most any reader accepts: the API server's 256 KiB annotation total, less room for
#: the Lease's other metadata.
MAX_SUMMARY_BYTES = 250_000
_MAX_NAME = 256  # room names (as the protocol allows), subjects, pod names, sids


class SummaryError(ValueError):
    """A summary that is not one (too large, bad JSON, wrong shape); the reason is safe to log."""


@dataclass(frozen=True, slots=True)
class Member:
    """One connection in one room: its Socket.IO sid, its user (None without JWT auth), the
    pod it is connected to, and since when (Unix seconds, within one interval)."""

    sid: str
    user: str | None
    pod: str
    since: int

    def as_dict(self, *, with_sid: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"user": self.user, "pod": self.pod, "since": self.since}
        if with_sid:
            out["sid"] = self.sid
        return out


@dataclass(frozen=True, slots=True)
class RoomEntry:
    """A room in a summary: its exact member count on that pod and the members listed."""

    count: int
    members: tuple[tuple[str, str | None, int], ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """A decoded (or freshly built) summary of one pod."""

    pod: str
    ts: int
    rooms: Mapping[str, RoomEntry]
    dropped_rooms: int = 0
    dropped_members: int = 0
    size: int = field(default=0, compare=False)  # encoded bytes (0 until encoded)

    @property
    def truncated(self) -> bool:
        return bool(self.dropped_rooms or self.dropped_members)

    def members_of(self, room: str) -> list[Member]:
        entry = self.rooms.get(room)
        if entry is None:
            return []
        return [Member(sid, user, self.pod, since) for sid, user, since in entry.members]

    def count(self, room: str) -> int:
        entry = self.rooms.get(room)
        return entry.count if entry is not None else 0

    def complete_for(self, room: str) -> bool:
        """True when this summary lists every member it has of ``room`` (a room it does not
        carry may have been dropped when rooms were truncated)."""
        entry = self.rooms.get(room)
        if entry is None:
            return self.dropped_rooms == 0
        return len(entry.members) == entry.count


def build(pod: str, rooms: Mapping[str, Mapping[str, tuple[str | None, int]]], *, now: float,
          max_rooms: int, max_members: int, max_bytes: int) -> tuple[Summary, bytes]:
    """The summary of ``rooms`` (room -> {sid: (user, since)}) within the bounds, and its bytes.

    The byte bound is kept by counting each element's encoded size as it is added, so the
    cost is one pass over what is carried, not repeated encodes.
    """
    budget = min(max_bytes, MAX_SUMMARY_BYTES) - 64 - _json_len(pod)
    order = sorted(rooms.items(), key=lambda item: (-len(item[1]), item[0]))
    kept: dict[str, RoomEntry] = {}
    out_rooms: list[list[Any]] = []
    dropped_rooms = dropped_members = listed = 0
    for room, members in order:
        if not members:
            continue
        cost = _json_len(room) + len(str(len(members))) + 8
        if len(kept) >= max_rooms or cost > budget:
            dropped_rooms += 1
            dropped_members += len(members)
            continue
        budget -= cost
        entries: list[tuple[str, str | None, int]] = []
        for sid, (user, since) in sorted(members.items(), key=lambda kv: (kv[1][1], kv[0])):
            item_cost = _json_len(sid) + (_json_len(user) if user is not None else 4) + 15
            if listed >= max_members or item_cost > budget:
                break
            budget -= item_cost
            listed += 1
            entries.append((sid, user, int(since)))
        dropped_members += len(members) - len(entries)
        kept[room] = RoomEntry(len(members), tuple(entries))
        out_rooms.append([room, len(members), [list(e) for e in entries]])
    doc = {"v": VERSION, "pod": pod, "ts": int(now), "rooms": out_rooms,
           "dropped": [dropped_rooms, dropped_members]}
    data = orjson.dumps(doc)
    summary = Summary(pod, int(now), kept, dropped_rooms, dropped_members, len(data))
    return summary, data


def _json_len(text: str) -> int:
    return len(orjson.dumps(text))


def decode(data: str | bytes) -> Summary:
    """Parse and check a summary read from a Lease; :class:`SummaryError` if it is not one."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_SUMMARY_BYTES:
        raise SummaryError(f"summary of {len(raw)} bytes is over {MAX_SUMMARY_BYTES}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SummaryError("summary is not JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise SummaryError("summary has no known version")
    pod, ts, rooms, dropped = doc.get("pod"), doc.get("ts"), doc.get("rooms"), doc.get("dropped")
    if not isinstance(pod, str) or not _name(pod) or not isinstance(ts, int) or not _count(ts) \
            or not isinstance(rooms, list):
        raise SummaryError("summary lacks pod, ts or rooms")
    if not (isinstance(dropped, list) and len(dropped) == 2 and all(map(_count, dropped))):
        raise SummaryError("summary has a bad 'dropped' field")
    kept: dict[str, RoomEntry] = {}
    for item in rooms:
        if not (isinstance(item, list) and len(item) == 3 and _name(item[0])
                and _count(item[1]) and isinstance(item[2], list)
                and len(item[2]) <= item[1]):
            raise SummaryError("summary has a malformed room")
        members = []
        for m in item[2]:
            if not (isinstance(m, list) and len(m) == 3 and _name(m[0])
                    and (m[1] is None or _name(m[1])) and _count(m[2])):
                raise SummaryError("summary has a malformed member")
            members.append((m[0], m[1], m[2]))
        kept[item[0]] = RoomEntry(item[1], tuple(members))
    return Summary(pod, ts, kept, dropped[0], dropped[1], len(raw))


def _name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_NAME


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
