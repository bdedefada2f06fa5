"""Snapshots to and from the bus: signed, batched, charged and paced writes of this pod's
sessions, every pod's records learnt, the periodic refresh, and the start-up list."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from pushsvc import metrics
from pushsvc.bus.contract import Position
from pushsvc.recovery.snapshot import (
    _NONE,
    SNAPSHOT_EVENT,
    SNAPSHOT_NAMESPACE,
    Snapshot,
    _order,
    recoverable,
)
from pushsvc.recovery.state import State

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024
#: Refreshes that came due are gathered this long: one bus Event a second, not one a flush.
_REFRESH_TICK_SECONDS = 1.0


class Publisher(State):
    """Snapshots on the bus, the background task and the start-up list."""

    # --- snapshots on the bus ---------------------------------------------------------
    def _sign(self, record: dict[str, Any], secret: bytes | None = None) -> str:
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(secret or self._secret, body, hashlib.sha256).hexdigest()[:32]

    def _verified(self, signature: str, body: dict[str, Any]) -> bool:
        if hmac.compare_digest(signature, self._sign(body)):
            return True
        if self._previous_secret is not None and hmac.compare_digest(
                signature, self._sign(body, self._previous_secret)):
            metrics.previous_secret_verified.labels(secret="recovery").inc()
            return True
        return False

    def _apply_records(self, data: Any) -> None:
        records = data[0] if isinstance(data, list) and data else None
        if not isinstance(records, list):
            return
        for raw in records:
            if not isinstance(raw, dict) or not isinstance(raw.get("sig"), str):
                continue
            body = {k: v for k, v in raw.items() if k != "sig"}
            if not self._verified(raw["sig"], body):
                metrics.recovery_dropped.labels(reason="bad_signature").inc()
                continue
            snapshot = Snapshot.parse(body)
            if snapshot is not None:
                self._learn(snapshot)

    def _learn(self, snapshot: Snapshot) -> None:
        known = self.sessions.get(snapshot.key)
        # Newer: a higher gen; at one gen, the later recovery (its deliveries start further
        # on the bus: a client that moved on faster than the records crossed the bus), then
        # the higher owner (two recoveries at once on two pods: every pod reads the same
        # winner), then the later record.
        if known is not None and (known.state == "ended" or _order(snapshot) < _order(known)):
            return  # an ended session stays ended, whatever record comes after
        self.sessions[snapshot.key] = snapshot
        mine = self.local.get(snapshot.sid)
        if mine is not None and mine.key == snapshot.key and snapshot.owner != \
                self.bus.host_id and snapshot.sid not in self._taken and \
                _order(snapshot)[:3] > _order(mine)[:3]:
            # Recovered on another pod: this copy is stale (its connection is gone). Two
            # reconnects with one pid recovered at once on two pods (the same gen): the
            # higher owner keeps the session on both pods' reading, so one sid never has two
            # live connections.
            self._taken.add(snapshot.sid)
            self.server.start_background_task(self.server.disconnect, snapshot.sid, "/",
                                              ignore_queue=True)
        if self.sessions.over(max_count=self.settings.recovery_max_sessions,
                              max_bytes=self.settings.recovery_sessions_max_bytes):
            self._sweep(time.time(), force=True)

    def _write(self, snapshot: Snapshot) -> None:
        self._dirty[snapshot.key] = snapshot
        self._refreshing.discard(snapshot.key)  # a change the client caused: charged

    def _publish_dirty(self) -> None:
        dirty, self._dirty = self._dirty, {}
        refreshing, self._refreshing = self._refreshing, set()
        chunk: list[dict[str, Any]] = []
        size = 0
        now = time.time()
        seen = self._stand() or _NONE
        pod_short = False
        for snapshot in dirty.values():
            if pod_short and snapshot.key not in refreshing:
                self._dirty.setdefault(snapshot.key, snapshot)  # the pod's budget is spent
                continue
            snapshot.at = now
            snapshot.seen = max(snapshot.seen, seen)
            eio_sid = self._eio_of(snapshot.sid) if snapshot.state == "up" else None
            if eio_sid is not None and eio_sid in self._last_sent:
                snapshot.last = self._last_sent[eio_sid]
            self._prune_rooms(snapshot)
            record = snapshot.record()
            record["sig"] = self._sign(record)
            encoded = len(json.dumps(record, separators=(",", ":")))
            if encoded > self.settings.recovery_max_snapshot_bytes:
                metrics.recovery_dropped.labels(reason="snapshot_too_large").inc()
                continue
            if snapshot.key not in refreshing:
                short = self.budget.charge(snapshot.sid, encoded)
                if short is not None:  # waits, coalesced with its later changes
                    metrics.recovery_snapshots_deferred.labels(scope=short).inc()
                    self._dirty.setdefault(snapshot.key, snapshot)
                    pod_short = short == "pod"
                    continue
            if snapshot.state == "up" and snapshot.sid in self.local:
                self.refreshes.written(snapshot.sid)
            else:
                self.refreshes.forget(snapshot.sid)
            self._learn(snapshot)
            if chunk and size + encoded > _CHUNK_BYTES:
                self._send_records(chunk)
                chunk, size = [], 0
            chunk.append(record)
            size += encoded
        if chunk:
            self._send_records(chunk)

    def _send_records(self, records: list[dict[str, Any]]) -> None:
        metrics.recovery_snapshots_published.inc(len(records))
        self.bus.publish({
            "method": "emit", "event": SNAPSHOT_EVENT, "data": [records], "binary": False,
            "namespace": SNAPSHOT_NAMESPACE, "room": None, "skip_sid": None, "callback": None,
            "host_id": self.bus.host_id,
        })

    def _prune_rooms(self, snapshot: Snapshot) -> None:
        oldest = self.history.complete_from
        if oldest is None:
            return
        for room in [r for r, (_, left) in snapshot.rooms.items()
                     if left is not None and left < oldest]:
            del snapshot.rooms[room]

    def _expired(self, snapshot: Snapshot, now: float) -> bool:
        if snapshot.state == "up":
            return now > snapshot.at + self.interval + self.window + 1.0
        if snapshot.state == "ended":
            # A tombstone: kept as long as any "up" record it supersedes could still be
            # recoverable, so a late or replayed one cannot bring the session back.
            return now > snapshot.at + self.interval + self.window + 2.0
        return now > snapshot.at + self.window

    def _sweep(self, now: float, *, force: bool = False) -> None:
        for key in [k for k, s in self.sessions.items() if self._expired(s, now)]:
            if self.sessions[key].sid not in self.local:
                del self.sessions[key]
        bounds = dict(max_count=self.settings.recovery_max_sessions,
                      max_bytes=self.settings.recovery_sessions_max_bytes)
        if force and self.sessions.over(**bounds):
            oldest, reason = self.sessions.oldest_beyond(**bounds)
            for key in oldest:
                del self.sessions[key]
            metrics.recovery_dropped.labels(reason=reason).inc(len(oldest))

    def run(self) -> None:
        """The background task: start-up list, then batched snapshot writes and refreshes."""
        self._preload()
        next_sweep = time.monotonic() + 10.0
        next_refresh = 0.0
        while True:
            self.server.sleep(self.settings.recovery_flush_seconds)
            try:
                now = time.monotonic()
                if now >= next_refresh:  # spread over the interval, paced, a batch a second
                    next_refresh = now + _REFRESH_TICK_SECONDS
                    for sid in self.refreshes.due():
                        snapshot = self.local.get(sid)
                        if snapshot is None:
                            self.refreshes.forget(sid)
                        elif snapshot.key not in self._dirty:
                            self._dirty[snapshot.key] = snapshot
                            self._refreshing.add(snapshot.key)
                if now >= next_sweep:
                    next_sweep = now + 10.0
                    self.history.trim(now)
                    self._sweep(time.time())
                if self._dirty:
                    self._publish_dirty()
            except Exception:  # a bug here must not end recovery for the pod's lifetime
                logger.exception("recovery: snapshot task failed; continuing")

    def _preload(self) -> None:
        """Learn the recent history and snapshots from the bus Events that exist now."""
        deadline = time.monotonic() + 60.0
        while self._stand() is None and time.monotonic() < deadline:
            self.server.sleep(0.05)
        start = self._stand()
        if start is None:
            logger.error("recovery: the bus watch did not start within 60 s; this pod "
                         "recovers only sessions from after its start")
            self.history.complete_from = self.position or _NONE
            self.ready = True
            return
        from emitter.wire import decode_event

        found: list[tuple[Position, dict[str, Any]]] = []
        partial = False
        try:
            pages = self.bus.listed_events()
            for number, page in enumerate(pages):
                if number >= self.settings.recovery_history_max_pages:
                    partial = True
                    metrics.recovery_dropped.labels(reason="preload_pages").inc()
                    break
                for item in page:
                    version = str(item.get("metadata", {}).get("resourceVersion", ""))
                    if not version.isdigit() or int(version) > start[0]:
                        continue  # the watch delivers it
                    try:
                        envelope = decode_event(item)
                    except Exception:  # untrusted: the watcher logs and counts these
                        continue
                    for index, one in enumerate(envelope.messages):
                        found.append(((int(version), index), one.model_dump()))
        except Exception as exc:
            partial = True
            logger.warning("recovery: the start-up list failed (%s); this pod recovers only "
                           "sessions from after its start", type(exc).__name__)
        found.sort(key=lambda item: item[0])
        at = time.monotonic()
        for position, message in found:
            if message.get("method") != "emit":
                continue
            if (message.get("namespace") or "/") == SNAPSHOT_NAMESPACE:
                if message.get("event") == SNAPSHOT_EVENT:
                    self._apply_records(message.get("data"))
            elif recoverable(message.get("event", ""), message.get("namespace") or "/",
                                  message.get("callback")):
                self.history.add(position, message, at=at)
        self.history.listed_all = not partial
        if partial or not found:
            self.history.complete_from = start
        else:
            first = found[0][0]
            self.history.complete_from = (first[0], -1)
        self.ready = True
        if self._ready_event is not None:
            self._ready_event.set()
        logger.info("recovery ready: %d recent message(s), %d session snapshot(s) from the "
                    "bus; window %.0f s", len(self.history.entries), len(self.sessions),
                    self.window)
