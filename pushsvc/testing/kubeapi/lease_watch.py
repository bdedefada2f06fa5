"""Watches of coordination.k8s.io/v1 Leases (presence: every pod watches the others' Leases).

Unlike Events, the real API server keeps Leases in its watch cache, so a watch from a recent
resourceVersion replays what changed since; one from before the cache's window gets the
``410 Expired`` ERROR line. The emulator keeps the last ``maxlen`` Lease changes for that
window. A watch with no resourceVersion (or ``"0"``) starts with a synthetic ADDED for every
Lease that matches, like the real one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson

from .objects import Change, serialize_lease
from .selectors import Predicate
from .status import EXPIRED_STATUS
from .store import Store
from .watch import Watcher, WatchHub


class LeaseChanges:
    """The store's Lease listener: a bounded change history plus the open Lease watches."""

    def __init__(self, *, since: int, maxlen: int = 2000) -> None:
        self.changes: deque[Change] = deque(maxlen=maxlen)
        self.hub = WatchHub()
        #: The store's revision when this history began (a restart loses the one before).
        self.since = since

    def __call__(self, change: Change) -> None:
        self.changes.append(change)
        self.hub(change)

    def after(self, rv: int) -> list[Change] | None:
        """Changes above ``rv``; None when ``rv`` is older than the kept window."""
        if rv < self.since or (len(self.changes) == self.changes.maxlen
                               and rv < self.changes[0].rv - 1):
            return None
        return [c for c in self.changes if c.rv > rv]

    def open(self, store: Store, *, namespace: str | None, predicate: Predicate | None,
             rv: int, timeout_s: float, sock: Any) -> Iterable[bytes]:
        """Register a watch (atomically: nothing yields before it is in the hub) and return
        its body."""
        w = Watcher(namespace=namespace, predicate=predicate, as_table=False,
                    include="Metadata", deadline=time.monotonic() + timeout_s, after=rv)
        initial: list[bytes] = []
        if rv == 0:
            for obj in store.lease_items(namespace):
                if w.wants(obj):
                    initial.append(b'{"type":"ADDED","object":' + serialize_lease(obj) + b"}\n")
            w.after = store.rv
        else:
            changes = self.after(rv)
            if changes is None:
                initial.append(orjson.dumps({"type": "ERROR", "object": EXPIRED_STATUS}) + b"\n")
                w.closed = True
            else:
                initial.extend(c.line() for c in changes if w.wants(c.obj))
        if not w.closed:
            self.hub.watchers.add(w)
        return self.hub.stream(w, initial, sock)
