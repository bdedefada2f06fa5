"""Token buckets: how much one client, or this whole pod, may send or publish.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a message
costs tokens (1 per message, or its size in bytes) and passes only if every bucket it is
charged to has them. Bursts are allowed, a sustained rate is not: a page that sends ten
messages on load passes, a loop that sends forever gets refused.

Pure Python, no Flask or gevent; time comes from an injectable clock so the logic is
tested without sleeping. Handlers run in one gevent worker (greenlets never preempt each
other between two plain Python statements), so no lock is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Clock = Callable[[], float]


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second; starts full.

    :param rate: tokens added per second.
    :param burst: the bucket's size, the most that can be spent at once.
    :param clock: monotonic seconds (``time.monotonic`` by default).
    """

    __slots__ = ("rate", "burst", "_tokens", "_stamp", "_clock")

    def __init__(self, *, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)

    def can_take(self, cost: float) -> bool:
        self._refill()
        return self._tokens >= cost

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are enough; say whether it passed."""
        self._refill()
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    def spend(self, cost: float) -> None:
        """Spend tokens just checked with ``can_take`` (no refill in between)."""
        self._tokens -= cost

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens


def take_all(charges: Sequence[tuple[TokenBucket, float]]) -> int | None:
    """Charge every bucket its cost, or none of them.

    Returns None when all passed (and were charged), else the index of the first bucket
    that was short (nothing charged): a message refused by the pod's budget must not also
    use up the client's.
    """
    for index, (bucket, cost) in enumerate(charges):
        if not bucket.can_take(cost):
            return index
    for bucket, cost in charges:
        bucket.spend(cost)
    return None


class StrikeCounter:
    """Counts refusals in fixed windows: ``hit()`` is true once ``limit`` is reached.

    :param limit: refusals within one window that make ``hit()`` return true.
    :param window: the window's length in seconds.
    """

    __slots__ = ("limit", "window", "_count", "_start", "_clock")

    def __init__(self, *, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._count = 0
        self._start = clock()

    def hit(self) -> bool:
        now = self._clock()
        if now - self._start >= self.window:
            self._start = now
            self._count = 0
        self._count += 1
        return self._count >= self.limit


@dataclass
class ClientBudget:
    """Everything one connected client is allowed, and what it was already told about.

    ``logged`` holds the breach kinds already logged for this client, so a client that
    keeps breaking one rule costs one log line, not one per message.
    """

    events: TokenBucket
    publish_messages: TokenBucket
    publish_bytes: TokenBucket
    rate_strikes: StrikeCounter
    logged: set[str] = field(default_factory=set)
    disconnecting: bool = False

    def first_time(self, kind: str) -> bool:
        """True the first time this client breaks ``kind`` (then log it); false after."""
        if kind in self.logged:
            return False
        self.logged.add(kind)
        return True
