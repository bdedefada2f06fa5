"""The store's state file: one JSON line per write, replayed at start, rewritten as a snapshot.

Append-only, so a write costs one line. It is rewritten as a snapshot at start and whenever a
compaction finds more appended to it than its last snapshot held (and at least
``MIN_REWRITE_BYTES``), so it stays under twice the live data and the disk levels off. Lines:
``{"rv", "compacted"}`` (a snapshot's head; Jobs' revisions), ``{"t"}`` a token, ``{"obj"}`` a
live Event, ``{"e"}``/``{"h"}`` a change (live / history only), ``{"c"}`` a compaction,
``{"L"}``/``{"LD"}`` a Lease written / deleted.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import orjson

from .objects import Change, parse_rfc3339, serialize, serialize_lease

log = logging.getLogger(__name__)

#: The state file is not rewritten for less than this many appended bytes.
MIN_REWRITE_BYTES = 1024 * 1024


class StateFile:
    """The persistence half of :class:`~.store.Store` (a mixin: it reads and fills the store's
    maps; callers run in one OS thread, so no locks)."""

    objects: dict[str, dict[str, tuple[dict[str, Any], bytes]]]
    leases: dict[str, dict[str, tuple[dict[str, Any], bytes]]]
    tokens: dict[str, str]
    history: list[Change]
    _history_rvs: list[int]
    _expiry: OrderedDict[str, tuple[float, str, str]]
    max_history: int
    event_ttl: float
    count: int
    rv: int
    compacted: int
    _state_file: Path | None
    _fh: IO[bytes] | None
    _appended: int
    _snapshot_bytes: int

    def _append(self, line: bytes) -> None:
        if self._fh is not None:
            self._fh.write(line)
            self._fh.flush()
            self._appended += len(line)

    def _rewrite_state_file(self) -> None:
        if self._fh is None or self._state_file is None:
            return
        self._fh.close()
        self._write_snapshot(self._state_file)
        self._fh = open(self._state_file, "ab")  # noqa: SIM115 - lives as long as the store
        self._appended = 0
        self._snapshot_bytes = self._state_file.stat().st_size
        log.info("rewrote the state file: %d events, %d changes of history", self.count,
                 len(self.history))

    def _load(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._replay(path)
            if len(self.history) > self.max_history:
                # Silently, before the state file is open: the snapshot below records it.
                cut = len(self.history) - self.max_history
                self.compacted = max(self.compacted, self._history_rvs[cut - 1])
                del self.history[:cut]
                del self._history_rvs[:cut]
            log.info(
                "loaded state file: %d events, resourceVersion %d, compacted at %d",
                self.count, self.rv, self.compacted,
            )
        self._write_snapshot(path)
        self._snapshot_bytes = path.stat().st_size
        self._fh = open(path, "ab")  # noqa: SIM115 - lives as long as the store

    def _replay(self, path: Path) -> None:
        with open(path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("ignoring a torn line at the end of the state file")
                    continue
                if "e" in rec:
                    self._replay_change(rec["e"], rec["o"], live=True)
                elif "h" in rec:
                    self._replay_change(rec["h"], rec["o"], live=False)
                elif "obj" in rec:
                    obj = rec["obj"]
                    meta = obj["metadata"]
                    raw = serialize(obj)
                    self.objects.setdefault(meta["namespace"], {})[meta["name"]] = (obj, raw)
                elif "c" in rec:
                    self.compacted = max(self.compacted, rec["c"])
                    cut = bisect.bisect_right(self._history_rvs, self.compacted)
                    del self.history[:cut]
                    del self._history_rvs[:cut]
                elif "rv" in rec:
                    self.rv = max(self.rv, rec["rv"])
                    self.compacted = max(self.compacted, rec.get("compacted", 0))
                elif "t" in rec:
                    self.tokens[rec["t"][0]] = rec["t"][1]
                elif "L" in rec:
                    lease = rec["L"]
                    lmeta = lease["metadata"]
                    self.leases.setdefault(lmeta["namespace"], {})[lmeta["name"]] = (
                        lease, serialize_lease(lease))
                    self.rv = max(self.rv, int(lmeta["resourceVersion"]))
                elif "LD" in rec:
                    self.leases.get(rec["LD"][0], {}).pop(rec["LD"][1], None)
                    self.rv = max(self.rv, rec["LD"][2])
        self.count = sum(len(b) for b in self.objects.values())
        entries = []
        for ns, bucket in self.objects.items():
            for name, (obj, _) in bucket.items():
                created = parse_rfc3339(obj["metadata"]["creationTimestamp"])
                entries.append((created + self.event_ttl, ns, name, obj["metadata"]["uid"]))
        entries.sort()
        self._expiry = OrderedDict((uid, (at, ns, name)) for at, ns, name, uid in entries)

    def _replay_change(self, kind: str, obj: dict[str, Any], *, live: bool) -> None:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta = obj["metadata"]
        rv = int(meta["resourceVersion"])
        raw = serialize(obj)
        if live:
            bucket = self.objects.setdefault(meta["namespace"], {})
            if kind == "DELETED":
                bucket.pop(meta["name"], None)
            else:
                bucket[meta["name"]] = (obj, raw)
        self.rv = max(self.rv, rv)
        self.history.append(Change(rv, kind, obj, raw))
        self._history_rvs.append(rv)

    def _write_snapshot(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps({"rv": self.rv, "compacted": self.compacted}) + b"\n")
            for token, user in self.tokens.items():
                fh.write(orjson.dumps({"t": [token, user]}) + b"\n")
            for bucket in self.objects.values():
                for obj, _ in bucket.values():
                    fh.write(orjson.dumps({"obj": obj}) + b"\n")
            for bucket in self.leases.values():
                for obj, _ in bucket.values():
                    fh.write(orjson.dumps({"L": obj}) + b"\n")
            for change in self.history:
                fh.write(b'{"h":"' + change.type.encode() + b'","o":' + change.raw + b"}\n")
        os.replace(tmp, path)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
