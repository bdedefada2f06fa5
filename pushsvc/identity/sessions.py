"""The Principal of each connection on this process, its user's connections, and expiries."""

from __future__ import annotations

import heapq
import threading
from typing import TYPE_CHECKING

from pushsvc.identity.principal import Principal

if TYPE_CHECKING:
    from pushsvc.settings import Settings


class Sessions:
    """The Principal of each connection on this process, its user's sessions, and expiries.

    Expiries sit in a heap of ``(expires_at, sid)``; a refresh pushes a new entry and the old
    one is skipped when it comes up. The heap is rebuilt when stale entries outnumber live
    ones, so it stays within twice the number of connections (plus a constant).
    """

    def __init__(self) -> None:
        self._by_sid: dict[str, Principal] = {}
        self._by_sub: dict[str, set[str]] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def add(self, sid: str, principal: Principal) -> None:
        with self._lock:
            old = self._by_sid.get(sid)
            if old is not None and old.sub != principal.sub:
                self._drop_sub(sid, old.sub)
            self._by_sid[sid] = principal
            self._by_sub.setdefault(principal.sub, set()).add(sid)
            if principal.expires_at is not None:
                heapq.heappush(self._expiries, (principal.expires_at, sid))
                if len(self._expiries) > 2 * len(self._by_sid) + 1024:
                    self._rebuild()

    def remove(self, sid: str) -> None:
        with self._lock:
            principal = self._by_sid.pop(sid, None)
            if principal is not None:
                self._drop_sub(sid, principal.sub)

    def _drop_sub(self, sid: str, sub: str) -> None:
        sids = self._by_sub.get(sub)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._by_sub[sub]

    def _rebuild(self) -> None:
        self._expiries = [(p.expires_at, sid) for sid, p in self._by_sid.items()
                          if p.expires_at is not None]
        heapq.heapify(self._expiries)

    def principal(self, sid: str) -> Principal | None:
        return self._by_sid.get(sid)

    def sids_of(self, sub: str) -> list[str]:
        """Session ids of ``sub``'s connections on this process."""
        with self._lock:
            return sorted(self._by_sub.get(sub, ()))

    def users(self) -> list[str]:
        with self._lock:
            return sorted(self._by_sub)

    def __len__(self) -> int:
        return len(self._by_sid)

    def expired(self, now: float, leeway: float) -> list[str]:
        """Pop and return the sids whose current token expired before ``now - leeway``."""
        out = []
        with self._lock:
            while self._expiries and self._expiries[0][0] + leeway <= now:
                exp, sid = heapq.heappop(self._expiries)
                principal = self._by_sid.get(sid)
                if principal is not None and principal.expires_at == exp:
                    out.append(sid)
        return out

    def stale_heap_entries(self) -> int:
        return len(self._expiries) - sum(
            1 for p in self._by_sid.values() if p.expires_at is not None)


def sweep_interval(settings: Settings) -> float:
    return max(0.05, settings.jwt_expiry_sweep_seconds)
