"""The emulator's etcd: Events, one global resourceVersion counter, history and a state file.

Every write advances one counter shared by all namespaces, as etcd's revision does. History (the
changes a watch can resume from) is an append-only list searched with bisect, trimmed only by
compaction, so creates stay O(1) however many Events exist. Compaction is what bounds it, as in
a cluster: kube-apiserver compacts etcd every interval (5 min) to the revision it saw one
interval earlier (``compact_tick``), and the emulator also keeps at most ``max_history``
changes, the oldest compacted first (a busy cluster's history is just as gone after a while).
A watch, or a continued list, from before the compaction point gets 410 Expired. The state
file is append-only too (one JSON line per write); it is rewritten as a snapshot at start and
whenever a compaction finds more appended to it than its last snapshot held, so the disk
levels off too (state_file.py).
"""

from __future__ import annotations

import bisect
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from .objects import (
    GENERATE_ALPHABET,
    LEASE_GROUP,
    Change,
    check_preconditions,
    now_rfc3339,
    serialize,
    serialize_lease,
)
from .state_file import MIN_REWRITE_BYTES, StateFile
from .status import ApiError, already_exists, conflict, not_found

log = logging.getLogger(__name__)

ETCD_REQUEST_LIMIT = 1536 * 1024
#: Changes kept for watches to resume from (each holds the object twice, ~5 KB for a bus
#: Event): about 50 MiB at most, minutes of a busy demo.
DEFAULT_MAX_HISTORY = 10_000


class Store(StateFile):
    """Events in memory plus history; callers run in one OS thread (gevent), so no locks."""

    def __init__(self, *, event_ttl: float, state_file: Path | None = None,
                 max_history: int = DEFAULT_MAX_HISTORY) -> None:
        if max_history < 1:
            raise ValueError("max_history must be at least 1")
        self.event_ttl = event_ttl
        self.max_history = max_history
        # Trim in steps of a tenth, so that each write costs O(1) amortized.
        self._history_slack = max(1, max_history // 10)
        self._tick_rv = 0  # the revision seen at the previous compact_tick()
        self._appended = 0  # bytes written to the state file since its last rewrite
        self._snapshot_bytes = 0  # the size of that rewrite
        self.objects: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        # coordination.k8s.io/v1 Leases: their own keys, the same revision counter and no
        # TTL; their watches and watch window are in lease_watch.py (lease_listeners).
        self.leases: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        self.count = 0
        self.rv = 1  # a fresh etcd starts with revision 1
        self.compacted = 0
        self.history: list[Change] = []
        self._history_rvs: list[int] = []
        # uid -> (expiry time, namespace, name), in creation order, which is expiry order (one
        # TTL for all); a deleted Event leaves at once, so this holds the live Events only.
        self._expiry: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        self.tokens: dict[str, str] = {}
        self.listeners: list[Callable[[Change], None]] = []
        #: Lease changes (ADDED, MODIFIED, DELETED) for Lease watches (lease_watch.py).
        self.lease_listeners: list[Callable[[Change], None]] = []
        self.stats = {"creates": 0, "deletes": 0, "updates": 0, "expired": 0}
        self._state_file = state_file
        self._fh: IO[bytes] | None = None
        if state_file is not None:
            self._load(state_file)

    # ----------------------------------------------------------------- reads
    def get(self, namespace: str, name: str) -> tuple[dict[str, Any], bytes]:
        try:
            return self.objects[namespace][name]
        except KeyError:
            raise not_found(name) from None

    def iter_objects(self, namespace: str | None, start_after: tuple[str, str] | None = None
                     ) -> Iterator[tuple[str, str, dict[str, Any], bytes]]:
        """Objects in etcd key order (namespace, then name), optionally after a key."""
        namespaces = [namespace] if namespace is not None else sorted(self.objects)
        for ns in namespaces:
            if start_after is not None and ns < start_after[0]:
                continue
            bucket = self.objects.get(ns)
            if not bucket:
                continue
            for name in sorted(bucket):
                if start_after is not None and (ns, name) <= start_after:
                    continue
                obj, raw = bucket[name]
                yield ns, name, obj, raw

    def changes_after(self, rv: int) -> list[Change] | None:
        """Changes with a resourceVersion above ``rv``; None when ``rv`` is compacted away."""
        if rv < self.compacted:
            return None
        return self.history[bisect.bisect_right(self._history_rvs, rv):]

    # ---------------------------------------------------------------- writes
    def create(self, namespace: str, obj: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        meta = obj.setdefault("metadata", {})
        bucket = self.objects.setdefault(namespace, {})
        name = meta.get("name")
        if not name:
            prefix = meta["generateName"]
            for _ in range(8):  # the registry retries generateName collisions
                name = prefix + "".join(random.choices(GENERATE_ALPHABET, k=5))
                if name not in bucket:
                    break
            meta["name"] = name
        if name in bucket:
            raise already_exists(name)
        created = time.time()
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(created)
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        meta.pop("managedFields", None)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        self._next_rv(meta)
        raw = serialize(obj)
        if len(raw) > ETCD_REQUEST_LIMIT:
            self.rv -= 1
            raise ApiError(500, "etcdserver: request is too large")
        bucket[name] = (obj, raw)
        self.count += 1
        self._expiry[meta["uid"]] = (created + self.event_ttl, namespace, name)
        self.stats["creates"] += 1
        self._record("ADDED", obj, raw)
        return obj, raw

    def update(self, namespace: str, name: str, obj: dict[str, Any]
               ) -> tuple[dict[str, Any], bytes]:
        old, _ = self.get(namespace, name)
        meta = obj.setdefault("metadata", {})
        given_rv = meta.get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise conflict(name)
        for key in ("uid", "creationTimestamp", "namespace", "name"):
            meta[key] = old["metadata"][key]
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        self._next_rv(meta)
        raw = serialize(obj)
        self.objects[namespace][name] = (obj, raw)
        self.stats["updates"] += 1
        self._record("MODIFIED", obj, raw)
        return obj, raw

    def delete(self, namespace: str, name: str, preconditions: dict[str, Any] | None = None
               ) -> tuple[dict[str, Any], bytes]:
        old, _ = self.get(namespace, name)
        check_preconditions(old, preconditions)
        del self.objects[namespace][name]
        self.count -= 1
        self._expiry.pop(old["metadata"].get("uid", ""), None)
        # The DELETED object carries the revision of the deletion, as etcd3's watcher sets it.
        obj = dict(old)
        obj["metadata"] = dict(old["metadata"])
        self._next_rv(obj["metadata"])
        raw = serialize(obj)
        self.stats["deletes"] += 1
        self._record("DELETED", obj, raw)
        return obj, raw

    # ---------------------------------------------------------------- leases
    def lease_get(self, namespace: str, name: str) -> tuple[dict[str, Any], bytes]:
        try:
            return self.leases[namespace][name]
        except KeyError:
            raise not_found(name, "leases", LEASE_GROUP) from None

    def lease_items(self, namespace: str | None) -> list[dict[str, Any]]:
        namespaces = [namespace] if namespace is not None else sorted(self.leases)
        return [self.leases[ns][n][0] for ns in namespaces if ns in self.leases
                for n in sorted(self.leases[ns])]

    def lease_create(self, namespace: str, obj: dict[str, Any]
                     ) -> tuple[dict[str, Any], bytes]:
        meta = obj.setdefault("metadata", {})
        bucket = self.leases.setdefault(namespace, {})
        name = meta.get("name")
        if not name:
            name = meta["generateName"] + "".join(random.choices(GENERATE_ALPHABET, k=5))
            meta["name"] = name
        if name in bucket:
            raise already_exists(name, "leases", LEASE_GROUP)
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("managedFields", None)
        return self._lease_put(namespace, name, obj)

    def lease_update(self, namespace: str, name: str, obj: dict[str, Any]
                     ) -> tuple[dict[str, Any], bytes]:
        old, _ = self.lease_get(namespace, name)
        meta = obj.setdefault("metadata", {})
        given_rv = meta.get("resourceVersion")
        # Optimistic concurrency: an update carrying a resourceVersion other than the stored
        # one lost a race (leader election relies on exactly this 409).
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise conflict(name, "leases", LEASE_GROUP)
        for key in ("uid", "creationTimestamp", "namespace", "name"):
            meta[key] = old["metadata"][key]
        return self._lease_put(namespace, name, obj)

    def lease_delete(self, namespace: str, name: str,
                     preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        old, _ = self.lease_get(namespace, name)
        check_preconditions(old, preconditions, resource="leases", group=LEASE_GROUP)
        del self.leases[namespace][name]
        self.rv += 1
        self._append(orjson.dumps({"LD": [namespace, name, self.rv]}) + b"\n")
        if self.lease_listeners:
            gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.rv)}}
            self._lease_changed("DELETED", gone)
        return old

    def _lease_put(self, namespace: str, name: str, obj: dict[str, Any]
                   ) -> tuple[dict[str, Any], bytes]:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        self._next_rv(obj["metadata"])
        raw = serialize_lease(obj)
        bucket = self.leases.setdefault(namespace, {})
        kind = "MODIFIED" if name in bucket else "ADDED"
        bucket[name] = (obj, raw)
        self._append(orjson.dumps({"L": obj}) + b"\n")
        if self.lease_listeners:
            self._lease_changed(kind, obj, raw)
        return obj, raw

    def _lease_changed(self, kind: str, obj: dict[str, Any], raw: bytes | None = None) -> None:
        change = Change(self.rv, kind, obj, raw if raw is not None else serialize_lease(obj))
        for listener in self.lease_listeners:
            listener(change)

    def expire(self, now: float | None = None) -> int:
        """Delete Events whose TTL lease ran out (O(1) per Event: the map is in time order)."""
        now = time.time() if now is None else now
        removed = 0
        while self._expiry and next(iter(self._expiry.values()))[0] <= now:
            uid, (_, ns, name) = self._expiry.popitem(last=False)
            current = self.objects.get(ns, {}).get(name)
            if current is not None and current[0]["metadata"].get("uid") == uid:
                self.delete(ns, name)
                self.stats["deletes"] -= 1
                self.stats["expired"] += 1
                removed += 1
        if removed:
            log.info("expired %d events past their TTL", removed)
        return removed

    def compact(self, rv: int | None = None, *, why: str = "requested") -> int:
        """Forget the changes up to ``rv`` (default: all of them); watches from before it get
        410 Expired. Returns the compaction point."""
        target = self.rv if rv is None else rv
        if target <= self.compacted:
            return self.compacted
        cut = bisect.bisect_right(self._history_rvs, target)
        del self.history[:cut]
        del self._history_rvs[:cut]
        self.compacted = target
        self._append(b'{"c":' + str(target).encode() + b"}\n")
        log.info("compacted history to resourceVersion %d (%s): %d changes kept", target, why,
                 len(self.history))
        if self._appended > max(MIN_REWRITE_BYTES, self._snapshot_bytes):
            self._rewrite_state_file()
        return target

    def compact_tick(self) -> int:
        """One round of kube-apiserver's compactor: compact to the revision seen at the
        previous round, so a change stays watchable for one to two intervals."""
        target, self._tick_rv = self._tick_rv, self.rv
        return self.compact(target, why="periodic")

    def _trim_history(self) -> None:
        if len(self.history) > self.max_history + self._history_slack:
            self.compact(self._history_rvs[-self.max_history - 1],
                         why=f"more than {self.max_history} changes")

    def snapshot(self) -> dict[str, Any]:
        """Everything a restore needs (objects are never changed in place, so shallow copies)."""
        return {"objects": {ns: dict(bucket) for ns, bucket in self.objects.items()},
                "leases": {ns: dict(bucket) for ns, bucket in self.leases.items()},
                "rv": self.rv, "compacted": self.compacted, "history": list(self.history),
                "history_rvs": list(self._history_rvs), "expiry": OrderedDict(self._expiry)}

    def restore(self, snap: dict[str, Any]) -> None:
        """Go back to a snapshot, resourceVersion included (an etcd restore from backup)."""
        self.objects = {ns: dict(bucket) for ns, bucket in snap["objects"].items()}
        self.leases = {ns: dict(bucket) for ns, bucket in snap.get("leases", {}).items()}
        self.count = sum(len(b) for b in self.objects.values())
        self.rv = snap["rv"]
        self.compacted = snap["compacted"]
        self.history = list(snap["history"])
        self._history_rvs = list(snap["history_rvs"])
        self._expiry = OrderedDict(snap["expiry"])
        self._tick_rv = min(self._tick_rv, self.rv)
        self._rewrite_state_file()
        log.info("restored a snapshot: %d events, resourceVersion %d", self.count, self.rv)

    def add_token(self, token: str, user: str) -> None:
        self.tokens[token] = user
        self._append(orjson.dumps({"t": [token, user]}) + b"\n")

    # -------------------------------------------------------------- internals
    def _next_rv(self, meta: dict[str, Any]) -> None:
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)

    def _record(self, kind: str, obj: dict[str, Any], raw: bytes) -> None:
        change = Change(self.rv, kind, obj, raw)
        self.history.append(change)
        self._history_rvs.append(self.rv)
        self._append(b'{"e":"' + kind.encode() + b'","o":' + raw + b"}\n")
        for listener in self.listeners:
            listener(change)
        self._trim_history()
