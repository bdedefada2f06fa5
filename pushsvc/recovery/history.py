"""The recent recoverable bus messages a pod keeps, indexed by target, bounded."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from pushsvc import metrics
from pushsvc.bus.contract import Position
from pushsvc.recovery.bounds import HISTORY_ENTRY_BYTES, json_cost
from pushsvc.recovery.snapshot import Snapshot


@dataclass(slots=True)
class _Entry:
    pos: Position
    at: float  # monotonic seconds when this pod saw it
    message: dict[str, Any]
    frame: bytes | None = None  # its replayed WebSocket frame, built once for every client
    cost: int = 0  # about the bytes it holds (pushsvc.recovery.bounds.json_cost)


def _entry_pos(entry: _Entry) -> Position:
    return entry.pos


def _targets(message: dict[str, Any]) -> list[str | None]:
    room = message.get("room")
    if room is None:
        return [None]
    if isinstance(room, str):
        return [room]
    return list(dict.fromkeys(r for r in room if isinstance(r, str)))


class History:
    """The recent recoverable bus messages, in bus order, bounded by count, bytes and age.

    ``complete_from``: every recoverable message after this position is here (None: not
    known yet — the start-up list has not finished). Each message is also indexed by its
    target (every room it went to; None for a broadcast), so what one session missed is
    found from its own rooms, its sid and the broadcasts: a reconnect storm leaves a reply
    to each reconnecting sid in the history, and a scan of everything for each of N
    recoveries would cost N² (it did: most of a pod's CPU in a rolling restart).
    """

    def __init__(self, *, max_messages: int, max_age_seconds: float,
                 max_bytes: int = 1 << 62) -> None:
        self.max_messages = max_messages
        self.max_age_seconds = max_age_seconds
        self.max_bytes = max_bytes
        self.bytes = 0  # the entries' estimated memory, bounded by max_bytes
        self.entries: list[_Entry] = []
        self._positions: list[Position] = []
        self._by_target: dict[str | None, list[_Entry]] = {}
        self.complete_from: Position | None = None
        #: The start-up list read every bus Event there was (none left out by a page limit
        #: or an error): every Event younger than the retention is here, unless dropped.
        self.listed_all = False
        self.dropped_upto: Position | None = None  # the newest message dropped by a bound

    def add(self, position: Position, message: dict[str, Any], *, at: float) -> None:
        entry = _Entry(position, at, message, cost=HISTORY_ENTRY_BYTES + json_cost(message))
        if not self._positions or position > self._positions[-1]:
            self._positions.append(position)
            self.entries.append(entry)
            for target in _targets(message):
                self._by_target.setdefault(target, []).append(entry)
        else:  # a relist delivered it late: keep the order anyway
            index = bisect.bisect_left(self._positions, position)
            if index < len(self._positions) and self._positions[index] == position:
                return
            self._positions.insert(index, position)
            self.entries.insert(index, entry)
            for target in _targets(message):
                bisect.insort(self._by_target.setdefault(target, []), entry, key=_entry_pos)
        self.bytes += entry.cost
        if len(self.entries) > self.max_messages + self.max_messages // 10:
            self._drop(len(self.entries) - self.max_messages, reason="history_full")
        if self.bytes > self.max_bytes:
            self._drop_bytes(self.max_bytes - self.max_bytes // 10)

    def charge_frame(self, entry: _Entry, frame: bytes) -> None:
        """``entry``'s replay frame was built: it is held as long as the entry."""
        entry.frame = frame
        entry.cost += len(frame)
        self.bytes += len(frame)
        if self.bytes > self.max_bytes:
            self._drop_bytes(self.max_bytes - self.max_bytes // 10)

    def _drop_bytes(self, goal: int) -> None:
        """The oldest messages go until at most ``goal`` bytes are held (a tenth below the
        bound, so a flood does not drop one at a time)."""
        count, held = 0, self.bytes
        while count < len(self.entries) and held > goal:
            held -= self.entries[count].cost
            count += 1
        if count:
            self._drop(count, reason="history_bytes")

    def trim(self, now: float) -> None:
        cut = 0
        while cut < len(self.entries) and self.entries[cut].at < now - self.max_age_seconds:
            cut += 1
        if cut:
            self._drop(cut, reason="")

    def _drop(self, count: int, *, reason: str) -> None:
        last = self._positions[count - 1]
        self.bytes -= sum(entry.cost for entry in self.entries[:count])
        del self.entries[:count]
        del self._positions[:count]
        for target in list(self._by_target):
            entries = self._by_target[target]
            cut = bisect.bisect_right(entries, last, key=_entry_pos)
            if cut == len(entries):
                del self._by_target[target]
            elif cut:
                del entries[:cut]
        if self.complete_from is None or last > self.complete_from:
            self.complete_from = last
        if self.dropped_upto is None or last > self.dropped_upto:
            self.dropped_upto = last
        if reason:
            metrics.recovery_dropped.labels(reason=reason).inc(count)

    def between(self, after: Position, upto: Position) -> list[_Entry]:
        start = bisect.bisect_right(self._positions, after)
        end = bisect.bisect_right(self._positions, upto)
        return self.entries[start:end]

    def missed_by(self, snapshot: Snapshot, after: Position, upto: Position) -> list[_Entry]:
        """What ``snapshot``'s session would have received live in (after, upto], in order."""
        sid = snapshot.sid
        targets: list[str | None] = [None, sid]
        targets += [room for room, span in snapshot.rooms.items()
                    if room != sid and (span[1] is None or span[1] > after)]
        found: dict[Position, _Entry] = {}
        for target in targets:
            entries = self._by_target.get(target)
            if not entries:
                continue
            start = bisect.bisect_right(entries, after, key=_entry_pos)
            end = bisect.bisect_right(entries, upto, key=_entry_pos)
            for index in range(start, end):
                entry = entries[index]
                found[entry.pos] = entry
        return [found[pos] for pos in sorted(found)
                if snapshot.wants(pos, found[pos].message)]
