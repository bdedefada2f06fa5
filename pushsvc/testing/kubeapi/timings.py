"""Bench-only side channel: when the emulator accepted each Event and wrote it to each watch.

Off unless the emulator runs with ``--record-timings``: nothing is added to the objects it
serves (the pods decode exactly what they would otherwise), and the only cost on the measured
path is a ``time.time()`` and a list append per Event and per watch write. The records are
read (and cleared) with ``GET /_emulator/timings``; at most ``limit`` Events are kept, oldest
dropped. Times are ``time.time()`` (CLOCK_REALTIME): comparable with the other processes of a
benchmark on the same machine.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class Timings:
    """Per created Event (by resourceVersion): name, request parsed, accepted, writes."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._events: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._arrived: float | None = None

    def arriving(self, arrived: float | None) -> None:
        """The create request about to be stored was parsed at ``arrived``."""
        self._arrived = arrived

    def accepted(self, rv: int, name: str, when: float) -> None:
        """The store committed the Event (before any watch is offered its line)."""
        arrived, self._arrived = self._arrived, None
        self._events[rv] = {"name": name, "arrived": arrived, "accepted": when, "written": []}
        while len(self._events) > self.limit:
            self._events.popitem(last=False)

    def written(self, rvs: list[int], when: float) -> None:
        for rv in rvs:
            record = self._events.get(rv)
            if record is not None:
                record["written"].append(when)

    def take(self) -> dict[str, dict[str, Any]]:
        """Every record so far, by Event name; the store of records starts empty again."""
        events = {r["name"]: r for r in self._events.values()}
        self._events = OrderedDict()
        return events
