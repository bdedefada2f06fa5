"""Merging summaries into answers: this pod's live rooms plus every live pod's last summary.

A pod's own members come from its live room table (exact, age 0); every other pod's from the
last summary its Lease carried, with its age as observed on THIS pod's clock (the time since
the watch delivered it: no clock is compared across pods). A summary older than its Lease's
``leaseDurationSeconds`` is a dead pod's and is left out, so a pod that dies without notice
drops out of every answer one lease duration after its last renewal at the latest.

An answer is truncated when a listed pod's summary could not carry the whole room (or dropped
rooms, so it may hold members of this one), or when the list was cut at the answer's cap; its
count is then a lower bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pushsvc.presence.summary import Member, RoomEntry, Summary


@dataclass(frozen=True, slots=True)
class Answer:
    """Who is in ``room`` across pods.

    :ivar count: members on every live pod (a lower bound when ``truncated``).
    :ivar members: up to the list cap, oldest first.
    :ivar truncated: the count or the list is incomplete (a summary's bounds or the cap).
    :ivar pods: the age in seconds of each live pod's summary that was used (0 for this pod).
    """

    room: str
    count: int
    members: tuple[Member, ...]
    truncated: bool
    pods: dict[str, float] = field(default_factory=dict)

    def as_dict(self, *, with_sid: bool = True) -> dict[str, Any]:
        return {"room": self.room, "count": self.count, "truncated": self.truncated,
                "members": [m.as_dict(with_sid=with_sid) for m in self.members],
                "pods": {pod: round(age, 1) for pod, age in sorted(self.pods.items())}}


@dataclass(slots=True)
class _Remote:
    summary: Summary
    received: float  # monotonic, on this pod
    duration: float  # the Lease's leaseDurationSeconds


def local_summary(pod: str, rooms: dict[str, dict[str, tuple[str | None, int]]],
                  now: float) -> Summary:
    """This pod's live rooms as a Summary without bounds (it never leaves the process)."""
    return Summary(pod, int(now), {
        room: RoomEntry(len(members), tuple(
            (sid, user, since) for sid, (user, since) in members.items()))
        for room, members in rooms.items() if members})


class PresenceView:
    """The other pods' summaries, as the Lease watch delivered them, and the merge."""

    def __init__(self, *, own_pod: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.own_pod = own_pod
        self._clock = clock
        self._remote: dict[str, _Remote] = {}  # by Lease name

    def put(self, lease: str, summary: Summary, *, duration: float) -> None:
        self._remote[lease] = _Remote(summary, self._clock(), duration)

    def drop(self, lease: str) -> None:
        self._remote.pop(lease, None)

    def clear(self) -> None:
        self._remote.clear()

    def live(self) -> list[tuple[Summary, float]]:
        """Every other pod's summary that is still alive, with its age in seconds; one per pod
        (the newest), so a second Lease naming a pod never counts its members twice."""
        now = self._clock()
        newest: dict[str, tuple[Summary, float]] = {}
        for remote in self._remote.values():
            age = now - remote.received
            pod = remote.summary.pod
            if age > remote.duration or pod == self.own_pod:
                continue
            if pod not in newest or age < newest[pod][1]:
                newest[pod] = (remote.summary, age)
        return list(newest.values())

    def stale(self) -> int:
        """Leases seen whose summary has outlived its duration (dead or stopped pods)."""
        now = self._clock()
        return sum(1 for r in self._remote.values() if now - r.received > r.duration)

    def oldest_age(self) -> float:
        return max((age for _, age in self.live()), default=0.0)

    def answer(self, room: str, local: Summary | None, *, list_max: int) -> Answer:
        summaries: list[tuple[Summary, float]] = [(local, 0.0)] if local is not None else []
        summaries.extend(self.live())
        return merge(room, summaries, list_max=list_max)


def merge(room: str, summaries: Iterable[tuple[Summary, float]], *, list_max: int) -> Answer:
    """Combine ``(summary, age)`` pairs (one per pod) into the answer for ``room``."""
    count = 0
    truncated = False
    members: list[Member] = []
    pods: dict[str, float] = {}
    for summary, age in summaries:
        pods[summary.pod] = age
        count += summary.count(room)
        members.extend(summary.members_of(room))
        truncated = truncated or not summary.complete_for(room)
    members.sort(key=lambda m: (m.since, m.pod, m.sid))
    if len(members) > list_max:
        members = members[:list_max]
        truncated = True
    return Answer(room, count, tuple(members), truncated, pods)
