"""Socket.IO connection state recovery (socket.io-client >= 4.6) on ANY pod, from the bus.

The protocol, as Node's socket.io 4.6+ speaks it: the CONNECT reply carries a private session
id (``40{"sid":S,"pid":P}``); every recoverable EVENT (no ack, not volatile, direct emits
included) carries a string offset as its LAST argument; a reconnecting client sends
``40{"pid":P,"offset":O,...auth}``. Success: the missed EVENTs in order, then CONNECT with the
same sid and pid (the client sets ``recovered``). Anything else: a fresh sid and pid.

How pushsvc does it, and why:

- Offsets are positions in the bus's one global order: an Event's resourceVersion and the
  message's index in it (``"<rv>-<i>"``). With recovery on, every recoverable emit — a direct
  emit to a sid of this very pod too — becomes an Event and reaches its clients only when it
  comes back through the watch (``KubernetesManager.emit``/``_handle_emit``). So a client sees
  the bus's order, an offset means the same on every pod, and a message is durable in the API
  server before any client can have seen it: a SIGKILLed pod cannot take with it a message
  that a recovery elsewhere would then be missing (the only way a recovery could be partial).
  The price: direct replies cost an API round trip and etcd writes (shared Events, batched
  by the outbox), only while recovery is on; ``error`` and ``server_shutdown`` stay volatile.
- History: every pod watches every bus Event already. Each keeps the recent recoverable
  messages in memory (bounded by count, bytes and age: pushsvc.recovery_bounds), filled at
  start by one paged list of the bus Events, then by its watch; a recovery replays from
  there, in order, each once, and live delivery takes over with no gap (the replay runs in
  one step with no greenlet switch and live packets to the recovering sid are held back
  until the CONNECT reply).
- Snapshots (sid, a SHA-256 of the pid, rooms with the positions they were joined/left at,
  the bus positions; nothing of the client's auth) travel on the bus too, as emits to a
  namespace no client can join (pods without recovery apply them as no-ops), signed with
  ``PUSHSVC_RECOVERY_SECRET`` because anyone with ``create`` on events could forge one (while
  it is rotated, ``PUSHSVC_RECOVERY_SECRET_PREVIOUS`` verifies too, never signs). They
  are written at connect, on room changes and at disconnect (batched, charged to the client's
  and the pod's budgets), and again every ``recovery_snapshot_interval_seconds`` (spread over
  it) — so a session idle for hours stays recoverable and a
  new pod learns it from Events younger than the retention window. A pod killed without
  notice wrote nothing at disconnect: its last snapshot says "up" and expires
  interval + window after it was written.
- A session belongs to whoever made it: its snapshot holds the auth mode and the token's
  ``sub``, and a reconnect is recovered only with the same (checked before the sid is
  restored, on the same auth data the connect handler reads), with every restored room
  either one the token's claims allow now or one the connect handler joins again (the user
  room, an app's own joins there: recorded from the connect, so what was sent to them while
  the client was away is replayed too). Anything else is a new session, never a partial one.
  A client's own ``socket.disconnect()`` (a Socket.IO DISCONNECT) ends the session on every
  pod: its "ended" record is a tombstone kept longer than any record it supersedes.
- Nothing from before the session is replayed, whatever offset a client sends: what it
  missed starts at the session's connect position at the earliest.
- No offset yet (socket.io #4888): the snapshot's connect position is used. An old offset of
  an idle client (#5282): the snapshot tells the last position sent to it; if the client has
  it, only what came after the snapshot matters. A session recovered elsewhere is taken over:
  its old pod drops it without writing (#4880). A reconnect before the snapshot arrived
  (redis-streams-adapter #26): a clean new session. An offset ahead of this pod's watch (the
  pod that sent it was a moment ahead, as in every reconnect storm) is recovered at once:
  the client has everything up to it, so nothing is replayed and live packets up to it are
  dropped for that session; nobody waits for the watch, and a made-up offset far ahead
  silences only its own session.

python-socketio methods wrapped here, each pinned in
tests/unit/test_engine_limits_match_the_pinned_libraries.py: ``Server._handle_connect`` (plan
a recovery before the connect handler runs), ``Server._send_packet`` (the CONNECT reply: the
replay, then ``{sid, pid}``), ``Server._send_eio_packet`` (live packets to a recovering sid are
held back), ``Server.disconnect`` (a session the server ends is not recoverable),
``Server._handle_disconnect`` (a session the client ends is not recoverable either),
``BaseManager.pre_connect`` (the recovered sid), ``BaseManager.basic_enter_room`` and
``BaseManager.basic_leave_room`` (rooms in the snapshot; ``BaseManager.basic_close_room`` goes
through the latter), ``BaseManager.basic_disconnect`` (the snapshot at disconnect). Relied on,
overridden in pushsvc.bus.manager: ``Manager.emit``, ``PubSubManager.emit``,
``PubSubManager._handle_emit`` (the offset) and ``PubSubManager._thread`` (one message at a
time from ``_listen``).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet
from socketio.packet import Packet

from pushsvc import metrics
from pushsvc.budget import ClientBudget, TokenBucket
from pushsvc.bus.contract import Position
from pushsvc.identity import AuthRefused, Identity, Permissions
from pushsvc.recovery_bounds import (
    HISTORY_ENTRY_BYTES,
    RefreshSchedule,
    SessionStore,
    SnapshotBudget,
    json_cost,
    snapshot_data,
)
from pushsvc.settings import Settings

if TYPE_CHECKING:  # the Kubernetes stack is imported only when that bus is in use
    from pushsvc.bus.manager import KubernetesManager
    from pushsvc.wsdirect import DirectWriter

logger = logging.getLogger(__name__)

#: Snapshots travel as emits to this namespace: no client is ever connected to it.
SNAPSHOT_NAMESPACE = "/pushsvc.recovery"
SNAPSHOT_EVENT = "snapshots"
#: Delivered at once, without an offset, never replayed (socket.io's ``volatile``).
VOLATILE_EVENTS = frozenset({"error", "server_shutdown"})
_CHUNK_BYTES = 64 * 1024
#: Refreshes that came due are gathered this long: one bus Event a second, not one a flush.
_REFRESH_TICK_SECONDS = 1.0
_MAX_ROOMS_IN_RECORD = 1000
_NONE: Position = (0, 0)


def offset_text(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def parse_offset(value: object) -> Position | None:
    """``"<rv>-<i>"`` → (rv, i); None for anything else (a client sends what it likes)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    rv, sep, index = value.partition("-")
    if not sep or not rv.isdigit() or not index.isdigit():
        return None
    return (int(rv), int(index))


def pid_key(pid: str) -> str:
    """What a snapshot is stored under: the pid is the secret, never kept or logged."""
    return hashlib.sha256(pid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _span(value: Any) -> list[Position | None] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    joined = parse_offset(value[0])
    left = None if value[1] is None else parse_offset(value[1])
    if joined is None or (value[1] is not None and left is None):
        return None
    return [joined, left]


@dataclass
class Snapshot:
    """One session as every pod may know it (never the pid itself)."""

    key: str
    sid: str
    owner: str  # host_id of the pod holding it
    gen: int  # +1 at each recovery: an older owner's late writes lose
    state: str  # "up", "down" (the client went away), "ended" (the server ended it)
    at: float  # wall time of this record
    pos: Position  # its deliveries' start (connect, or last recovery)
    seen: Position  # the owner's bus position when this record was written
    last: Position | None  # last recoverable message sent to it (None: nothing since pos)
    floor: Position  # offsets below are not trusted (its pod delivered out of order)
    rooms: dict[str, list[Position | None]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    #: Whose session it is: the auth mode it was made under and its token's ``sub`` (None:
    #: no token). A recovery must present the same (an older record without them: "").
    mode: str = ""
    user: str | None = None
    #: Rooms the server's connect handler put it in (the user room too): at a recovery the
    #: connect handler decides them again; every other room is checked against the claims.
    connect_rooms: set[str] = field(default_factory=set)

    def record(self) -> dict[str, Any]:
        return {
            "k": self.key, "sid": self.sid, "o": self.owner, "g": self.gen, "s": self.state,
            "at": round(self.at, 3), "p": offset_text(self.pos), "sn": offset_text(self.seen),
            "l": None if self.last is None else offset_text(self.last),
            "f": offset_text(self.floor), "d": self.data, "m": self.mode, "u": self.user,
            "cr": sorted(room for room in self.connect_rooms if room in self.rooms),
            "r": {room: [offset_text(span[0]), None if span[1] is None else offset_text(span[1])]
                  for room, span in self.rooms.items() if span[0] is not None},
        }

    @classmethod
    def parse(cls, raw: Any) -> Snapshot | None:
        """A record from a bus Event (untrusted: any oddity → None)."""
        if not isinstance(raw, dict):
            return None
        try:
            pos, seen, floor = (parse_offset(raw.get(k)) for k in ("p", "sn", "f"))
            last = None if raw.get("l") is None else parse_offset(raw.get("l"))
            rooms_raw = raw.get("r")
            if pos is None or seen is None or floor is None or not isinstance(rooms_raw, dict) \
                    or len(rooms_raw) > _MAX_ROOMS_IN_RECORD or (raw.get("l") is not None
                                                                 and last is None):
                return None
            rooms: dict[str, list[Position | None]] = {}
            for room, value in rooms_raw.items():
                span = _span(value)
                if not isinstance(room, str) or span is None:
                    return None
                rooms[room] = span
            key, sid, owner, gen, state, at, data = (
                raw["k"], raw["sid"], raw["o"], raw["g"], raw["s"], raw["at"], raw.get("d", {}))
            mode, user, connect_rooms = raw.get("m", ""), raw.get("u"), raw.get("cr", [])
            if not (isinstance(key, str) and isinstance(sid, str) and isinstance(owner, str)
                    and isinstance(gen, int) and state in ("up", "down", "ended")
                    and isinstance(at, int | float) and isinstance(data, dict)
                    and isinstance(mode, str) and (user is None or isinstance(user, str))
                    and isinstance(connect_rooms, list)
                    and all(isinstance(room, str) and room in rooms for room in connect_rooms)):
                return None
            return cls(key=key, sid=sid, owner=owner, gen=gen, state=state, at=float(at),
                       pos=pos, seen=seen, last=last, floor=floor, rooms=rooms, data=data,
                       mode=mode, user=user, connect_rooms=set(connect_rooms))
        except (KeyError, TypeError, ValueError):
            return None

    def wants(self, position: Position, message: dict[str, Any]) -> bool:
        """Would this session have received this emit, live?"""
        skip = message.get("skip_sid")
        if skip == self.sid or (isinstance(skip, list) and self.sid in skip):
            return False
        room = message.get("room")
        if room is None:
            return True
        for name in [room] if isinstance(room, str) else room:
            if name == self.sid:
                return True
            span = self.rooms.get(name)
            if span is not None and span[0] is not None and span[0] < position and (
                    span[1] is None or position <= span[1]):
                return True
        return False


@dataclass(slots=True)
class _Entry:
    pos: Position
    at: float  # monotonic seconds when this pod saw it
    message: dict[str, Any]
    frame: bytes | None = None  # its replayed WebSocket frame, built once for every client
    cost: int = 0  # about the bytes it holds (pushsvc.recovery_bounds.json_cost)


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


#: Who a connect is, as its connect handler sees it: (auth mode, token ``sub`` or None, what
#: the token allows).
_Who = tuple[str, str | None, Permissions]


@dataclass
class _Plan:
    snapshot: Snapshot
    pid: str
    start: Position  # replay what comes after this
    offset: Position | None  # the client's own, if it sent one


class Recovery:
    """Connection state recovery for one python-socketio server and its Kubernetes manager."""

    def __init__(self, *, settings: Settings, server: Any, manager: KubernetesManager,
                 identity: Identity | None = None) -> None:
        assert settings.recovery_secret is not None
        self.settings = settings
        self.server = server
        self.manager = manager
        self.identity = identity if identity is not None else Identity(settings)
        self.window = settings.recovery_window_seconds
        self.interval = settings.recovery_snapshot_interval_seconds
        self._secret = settings.recovery_secret.get_secret_value().encode()
        # While the key is rotated, snapshots signed with the one it replaces still verify.
        self._previous_secret = (settings.recovery_secret_previous.get_secret_value().encode()
                                 if settings.recovery_secret_previous else None)
        self.history = History(
            max_messages=settings.recovery_history_max_messages,
            max_age_seconds=self.window + self.interval + 30.0,
            max_bytes=settings.recovery_history_max_bytes,
        )
        self.sessions = SessionStore()  # every pod's, by pid key; bytes estimated
        self.refreshes = RefreshSchedule(
            interval=self.interval, per_second=settings.recovery_snapshot_refreshes_per_second)
        self.budget = SnapshotBudget(
            pod_bytes=TokenBucket(rate=settings.recovery_snapshot_pod_bytes_per_second,
                                  burst=settings.recovery_snapshot_pod_burst_bytes),
            client_budget=lambda sid: None)
        self._refreshing: set[str] = set()  # dirty keys only a refresh made dirty (free)
        self.local: dict[str, Snapshot] = {}  # this pod's connected ones, by sid
        self.ready = False
        self.floor: Position = _NONE
        self._highest: Position | None = None
        self._dirty: dict[str, Snapshot] = {}
        self._pending: dict[str, _Plan] = {}
        self._recovering: dict[str, _Plan] = {}
        self._connect_pos: dict[str, Position | None] = {}
        self._auth: dict[str, dict[str, Any]] = {}
        # Between pre_connect and the CONNECT reply: the sid of each eio sid, and the rooms
        # the connect handler put that sid in (with the bus position of each join).
        self._connecting: dict[str, str] = {}
        self._joining: dict[str, dict[str, Position]] = {}
        self._who: dict[str, _Who] = {}  # eio sid -> who its connect is (reconnects)
        self._raw_auth: dict[str, Any] = {}  # eio sid -> its CONNECT's auth data
        # After a recovery, live packets the client already has are dropped: those replayed
        # with the CONNECT reply, and any at or before its own offset (this pod's watch may be
        # behind the pod that sent it). eio sid -> (drop nothing after, replayed, its offset).
        self._replayed: dict[str, tuple[Position, set[Position], Position]] = {}
        self._last_sent: dict[str, Position] = {}
        self._kicked: set[str] = set()
        self._ending: set[str] = set()
        self._taken: set[str] = set()
        self._ready_event: Any = None
        metrics.recovery_sessions.set_function(lambda: len(self.sessions))
        metrics.recovery_history.set_function(lambda: len(self.history.entries))
        metrics.recovery_sessions_bytes.set_function(lambda: self.sessions.bytes)
        metrics.recovery_history_bytes.set_function(lambda: self.history.bytes)

    # --- the manager's tap ------------------------------------------------------------
    def recoverable(self, event: str, namespace: str, callback: object) -> bool:
        return namespace == "/" and callback is None and event not in VOLATILE_EVENTS

    def observe(self, position: Position, message: dict[str, Any], *, own: bool) -> bool:
        if self._highest is not None and position < self._highest:
            self._out_of_order(position)
        elif self._highest is None or position > self._highest:
            self._highest = position
        if message.get("method") != "emit":
            return True
        namespace = message.get("namespace") or "/"
        if namespace == SNAPSHOT_NAMESPACE:
            if message.get("event") == SNAPSHOT_EVENT:
                self._apply_records(message.get("data"))
            return False
        if self.recoverable(message.get("event", ""), namespace, message.get("callback")):
            self.history.add(position, message, at=time.monotonic())
        return True

    def _out_of_order(self, position: Position) -> None:
        # A relist handed an older Event out after newer ones: a client of this pod may hold
        # an offset with a gap below it. Offsets below what was delivered so far are no longer
        # trusted for this pod's sessions.
        assert self._highest is not None
        if self.floor < self._highest:
            self.floor = self._highest
            logger.warning("recovery: this pod delivered bus position %s after %s; offsets of "
                           "its clients below %s no longer recover", offset_text(position),
                           offset_text(self._highest), offset_text(self._highest))
            for snapshot in self.local.values():
                snapshot.floor = self.floor
                self._dirty[snapshot.key] = snapshot

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
                self.manager.host_id and snapshot.sid not in self._taken and \
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
        seen = self.manager.position or self.manager.start_position() or _NONE
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
        self.manager._publish({
            "method": "emit", "event": SNAPSHOT_EVENT, "data": [records], "binary": False,
            "namespace": SNAPSHOT_NAMESPACE, "room": None, "skip_sid": None, "callback": None,
            "host_id": self.manager.host_id,
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
        while self.manager.start_position() is None and time.monotonic() < deadline:
            self.server.sleep(0.05)
        start = self.manager.start_position()
        if start is None:
            logger.error("recovery: the bus watch did not start within 60 s; this pod "
                         "recovers only sessions from after its start")
            self.history.complete_from = self.manager.position or _NONE
            self.ready = True
            return
        from emitter.wire import decode_event

        found: list[tuple[Position, dict[str, Any]]] = []
        partial = False
        try:
            pages = self.manager.watcher.transport.list_pages()
            for number, page in enumerate(pages):
                if number >= self.settings.recovery_history_max_pages:
                    partial = True
                    metrics.recovery_dropped.labels(reason="preload_pages").inc()
                    break
                for item in page.items:
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
            elif self.recoverable(message.get("event", ""), message.get("namespace") or "/",
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

    # --- hooks ------------------------------------------------------------------------
    def _eio_of(self, sid: str) -> str | None:
        try:
            eio: str | None = self.manager.eio_sid_from_sid(sid, "/")
            return eio
        except KeyError:
            return None

    def _plan(self, auth: dict[str, Any], who: _Who | None) -> _Plan | None:
        result = self._decide(auth, who)
        if isinstance(result, str):
            metrics.recoveries.labels(result=result).inc()
            logger.info("recovery refused (%s): a new session instead", result)
            return None
        return result

    def _wait_ready(self, deadline: float) -> None:
        if self.ready:
            return
        if self._ready_event is None:
            self._ready_event = self.server.eio.create_event()
        self._ready_event.wait(max(0.0, deadline - time.monotonic()))

    def _identify(self, auth: Any, environ: Any) -> _Who | None:
        """(auth mode, sub, permissions) of a connect, as its connect handler will see it;
        None for a token the connect handler will refuse."""
        identity = self.identity
        expected = self.settings.auth_token
        if identity.mode == "token" and expected is not None:
            # The shared token, as the connect handler checks it: a pid without it must not
            # even make this pod drop the session's live connection (pre_connect does).
            given = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(given, str) or not hmac.compare_digest(
                    given.encode("utf-8", "surrogatepass"),
                    expected.get_secret_value().encode("utf-8", "surrogatepass")):
                return None
        try:
            principal = identity.authenticate(auth, environ)
        except AuthRefused:
            return None
        except Exception as exc:  # the connect handler refuses it too ("connection check failed")
            logger.warning("recovery: %s while checking a reconnect's token; a new session",
                           type(exc).__name__)
            return None
        return (identity.mode, None if principal is None else principal.sub,
                identity.permissions_of(principal))

    def _decide(self, auth: dict[str, Any], who: _Who | None) -> _Plan | str:
        pid = auth["pid"]
        wait_until = time.monotonic() + self.settings.recovery_catch_up_seconds
        self._wait_ready(wait_until)
        if not self.ready:
            return "behind"
        snapshot = self.sessions.get(pid_key(pid))
        if snapshot is None:
            return "unknown"
        if snapshot.state == "ended":
            return "ended"
        if self._expired(snapshot, time.time()):
            return "expired"
        # A session belongs to the token it was made with: the same auth mode and ``sub``, and
        # every room it gets back without the connect handler deciding it again is one the
        # claims allow now (a pid is no key to somebody else's session, nor to a room the
        # token no longer grants). The sid is restored before the connect handler runs, so
        # this is checked here, on the same auth data.
        if who is None:
            return "refused"
        mode, sub, permissions = who
        if snapshot.mode != mode or snapshot.user != sub:
            return "identity"
        if any(span[1] is None and room not in snapshot.connect_rooms
               and not permissions.may_join(room) for room, span in snapshot.rooms.items()):
            return "forbidden_room"
        offset = None
        if auth.get("offset") is not None:
            offset = parse_offset(auth.get("offset"))
            if offset is None:
                return "unknown"
        # Nothing from before the session: whatever offset the client sends ("0-0", an old
        # session's, a made-up one), what it missed starts at its connect position.
        base = snapshot.pos if offset is None else max(offset, snapshot.pos)
        if base < snapshot.floor:
            return "out_of_order"
        # An offset ahead of this pod's watch (the pod that sent it was a moment ahead) needs
        # no wait: the client has everything up to it, nothing is replayed, and live packets
        # up to it are dropped for this session (a made-up offset silences only its own).
        complete = self.history.complete_from
        if complete is None:
            return "history_gone"
        up_to_date = snapshot.last is None if offset is None else (
            snapshot.last is None or offset >= snapshot.last)
        boundary = max(base, snapshot.seen)
        if up_to_date and (complete <= boundary or self._complete_after(snapshot, boundary)):
            # Nothing was sent to it between its offset and the snapshot: only what came
            # after the snapshot can be missing (an idle client's old offset still works).
            start = max(base, complete)
        elif complete <= base:
            start = base
        else:
            return "history_gone"
        plan = _Plan(snapshot=snapshot, pid=pid, start=start, offset=offset)
        if len(self._missed(plan, self.manager.position or start)) > \
                self.settings.recovery_max_missed_messages:
            return "too_many"
        return plan

    def _complete_after(self, snapshot: Snapshot, boundary: Position) -> bool:
        """Is every message after the snapshot's position here, though the history starts
        later (the oldest bus Event is younger than the snapshot: a quiet or new bus)?

        Yes when the start-up list read every Event, no bound dropped one since, and the
        snapshot is younger than the retention: an Event after it was made after it, and
        only Events older than the retention are ever deleted.
        """
        history = self.history
        return history.listed_all and (
            history.dropped_upto is None or history.dropped_upto <= boundary) and (
            snapshot.at > time.time() - self.settings.retention_seconds + 5.0)

    def _missed(self, plan: _Plan, upto: Position) -> list[_Entry]:
        return self.history.missed_by(plan.snapshot, plan.start, upto)

    def install(self) -> None:
        server, manager = self.server, self.manager
        manager.tap = self
        manager.outbox_keeps_namespace = SNAPSHOT_NAMESPACE
        original_connect = server._handle_connect
        original_send = server._send_packet
        original_send_eio = server._send_eio_packet
        original_disconnect = server.disconnect
        original_handle_disconnect = server._handle_disconnect
        original_pre_connect = manager.pre_connect
        original_enter = manager.basic_enter_room
        original_leave = manager.basic_leave_room
        original_basic_disconnect = manager.basic_disconnect

        def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
            if (namespace or "/") == "/":
                self._auth[eio_sid] = snapshot_data(data)
                self._raw_auth[eio_sid] = data
                if isinstance(data, dict) and isinstance(data.get("pid"), str):
                    who = self._identify(data, server.environ.get(eio_sid))
                    if who is not None:
                        self._who[eio_sid] = who
                    plan = self._plan(data, who)
                    if plan is not None:
                        self._pending[eio_sid] = plan
            try:
                return original_connect(eio_sid, namespace, data)
            finally:
                self._pending.pop(eio_sid, None)
                self._recovering.pop(eio_sid, None)
                self._connect_pos.pop(eio_sid, None)
                self._auth.pop(eio_sid, None)
                self._who.pop(eio_sid, None)
                self._raw_auth.pop(eio_sid, None)
                connecting = self._connecting.pop(eio_sid, None)
                if connecting is not None:
                    self._joining.pop(connecting, None)

        def pre_connect(eio_sid: str, namespace: str) -> Any:
            if (namespace or "/") != "/":
                return original_pre_connect(eio_sid, namespace)
            plan = self._pending.pop(eio_sid, None)
            if plan is None:
                sid = original_pre_connect(eio_sid, namespace)
            else:
                old = plan.snapshot.sid
                if manager.is_connected(old, "/") or manager.is_pre_connected(old, "/"):
                    self._taken.add(old)  # its stale connection on this very pod
                    server.disconnect(old, "/", ignore_queue=True)
                server.eio.generate_id = lambda: old
                try:
                    sid = original_pre_connect(eio_sid, namespace)
                finally:
                    del server.eio.generate_id
                if sid is None:
                    return None
                # The connect handler puts the session in its connect rooms again (or not).
                for room, span in plan.snapshot.rooms.items():
                    if span[1] is None and room not in plan.snapshot.connect_rooms:
                        original_enter(sid, "/", room, eio_sid=eio_sid)
                self._recovering[eio_sid] = plan
            if sid is not None:
                self._connecting[eio_sid] = sid
                self._joining[sid] = {}
            self._connect_pos[eio_sid] = manager.position or manager.start_position()
            return sid

        def send_packet(eio_sid: str, pkt: Any) -> Any:
            if pkt.packet_type == sio_packet.CONNECT and (pkt.namespace or "/") == "/" \
                    and isinstance(pkt.data, dict) and isinstance(pkt.data.get("sid"), str):
                self._connected(eio_sid, pkt, original_send)
            return original_send(eio_sid, pkt)

        def send_eio_packet(eio_sid: str, eio_pkt: Any) -> Any:
            current = manager.current
            if current is not None and threading.get_ident() == manager.listener_ident:
                if eio_sid in self._recovering:
                    return None  # replayed from the history with the CONNECT reply instead
                replayed = self._replayed.get(eio_sid)
                if replayed is not None:
                    through, positions, skip = replayed
                    if current <= skip or current in positions:
                        return None
                    if current > through:
                        del self._replayed[eio_sid]
                if eio_sid in server.eio.sockets:  # a fan-out yields: it may have left meanwhile
                    self._last_sent[eio_sid] = current
            return original_send_eio(eio_sid, eio_pkt)

        def disconnect(sid: str, namespace: str | None = None, ignore_queue: bool = False) -> Any:
            if not ignore_queue and (namespace or "/") == "/" and manager.is_connected(sid, "/"):
                # What the server sent it just before (a goodbye) reaches it through the bus:
                # end the session after that, in the bus's order; without the bus, soon.
                self._ending.add(sid)
                manager.publish_disconnect(sid, "/")
                server.start_background_task(self._end_later, sid, original_disconnect)
                return None
            self._kicked.add(sid)
            try:
                return original_disconnect(sid, namespace, ignore_queue=ignore_queue)
            finally:
                self._kicked.discard(sid)

        def handle_disconnect(eio_sid: str, namespace: str | None, reason: Any = None) -> Any:
            # A Socket.IO DISCONNECT from the client (``socket.disconnect()``) ends the session
            # for good, as in Node's socket.io: socket.io-client keeps its pid afterwards, so
            # the next connect from that tab — maybe another user's — would recover it. The
            # same reason from a closing Engine.IO connection (its CLOSE packet, a network
            # cut) arrives with the Engine.IO socket already closing: that one is recoverable.
            if (namespace or "/") == "/" and reason == server.reason.CLIENT_DISCONNECT:
                socket = server.eio.sockets.get(eio_sid)
                sid = manager.sid_from_eio_sid(eio_sid, "/")
                if socket is not None and not socket.closing and not socket.closed \
                        and sid is not None and manager.is_connected(sid, "/"):
                    self._ending.add(sid)
            return original_handle_disconnect(eio_sid, namespace, reason)

        def basic_enter_room(sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
            result = original_enter(sid, namespace, room, eio_sid=eio_sid)
            if namespace != "/" or not isinstance(room, str) or room == sid:
                return result
            joining = self._joining.get(sid)
            if joining is not None:  # the connect handler's (the snapshot does not exist yet)
                joining.setdefault(room, manager.position or _NONE)
                return result
            snapshot = self.local.get(sid)
            if snapshot is not None:
                span = snapshot.rooms.get(room)
                if span is None or span[1] is not None:
                    snapshot.rooms[room] = [manager.position or _NONE, None]
                    snapshot.connect_rooms.discard(room)  # joined later: the claims decide
                    self._write(snapshot)
            return result

        def basic_leave_room(sid: str, namespace: str, room: Any) -> Any:
            joining = self._joining.get(sid) if namespace == "/" else None
            if joining is not None and isinstance(room, str):
                joining.pop(room, None)
            snapshot = self.local.get(sid) if namespace == "/" else None
            if snapshot is not None and isinstance(room, str):
                span = snapshot.rooms.get(room)
                if span is not None and span[1] is None:
                    span[1] = manager.position or _NONE
                    self._write(snapshot)
            return original_leave(sid, namespace, room)

        def basic_disconnect(sid: str, namespace: str, **kwargs: Any) -> Any:
            if namespace == "/":
                eio_sid = self._eio_of(sid)
                snapshot = self.local.pop(sid, None)
                if snapshot is not None and sid not in self._taken:
                    ended = sid in self._kicked or sid in self._ending
                    snapshot.state = "ended" if ended else "down"
                    if eio_sid is not None and eio_sid in self._last_sent:
                        snapshot.last = self._last_sent[eio_sid]
                    self._write(snapshot)
                self._taken.discard(sid)
                self._ending.discard(sid)
                if eio_sid is not None:
                    self._last_sent.pop(eio_sid, None)
                    self._replayed.pop(eio_sid, None)
            return original_basic_disconnect(sid, namespace, **kwargs)

        server._handle_connect = handle_connect
        server._send_packet = send_packet
        server._send_eio_packet = send_eio_packet
        server.disconnect = disconnect
        server._handle_disconnect = handle_disconnect
        manager.pre_connect = pre_connect
        manager.basic_enter_room = basic_enter_room  # type: ignore[method-assign]
        manager.basic_leave_room = basic_leave_room  # type: ignore[method-assign]
        manager.basic_disconnect = basic_disconnect  # type: ignore[method-assign]
        server.start_background_task(self.run)

    def _end_later(self, sid: str, disconnect: Any) -> None:
        self.server.sleep(self.settings.recovery_catch_up_seconds + 2.0)
        if sid in self._ending and self.manager.is_connected(sid, "/"):
            disconnect(sid, "/", ignore_queue=True)

    def _connected(self, eio_sid: str, pkt: Any, send: Any) -> None:
        """The CONNECT reply: replay what was missed first, or start a new session."""
        sid = pkt.data["sid"]
        plan = self._recovering.pop(eio_sid, None)
        connect_pos = self._connect_pos.pop(eio_sid, None)
        auth = self._auth.pop(eio_sid, {})
        joined = self._joining.pop(sid, {})
        mode, user = self._owner(eio_sid, sid)
        upto = self.manager.position or self.manager.start_position() or _NONE
        if plan is not None and plan.snapshot.sid == sid:
            plan.snapshot = self._as_reconnected(plan.snapshot, joined)
            missed = self._missed(plan, upto)
            complete = self.history.complete_from
            if complete is not None and complete <= plan.start:
                self._replay(eio_sid, missed, send)
                metrics.recovery_replayed.inc(len(missed))
                metrics.recoveries.labels(result="recovered").inc()
                skip = plan.offset or _NONE
                self._replayed[eio_sid] = (max(upto, skip), {entry.pos for entry in missed},
                                           skip)
                last = missed[-1].pos if missed else plan.offset
                if last is not None:
                    self._last_sent[eio_sid] = last
                old = plan.snapshot
                snapshot = Snapshot(
                    key=old.key, sid=sid, owner=self.manager.host_id, gen=old.gen + 1,
                    state="up", at=time.time(), pos=upto if plan.offset is None and last is None
                    else old.pos, seen=upto, last=last, floor=max(self.floor, _NONE),
                    rooms={r: s for r, s in old.rooms.items() if s[1] is None},
                    data=old.data, mode=old.mode, user=old.user,
                    connect_rooms=set(old.connect_rooms))
                self.local[sid] = snapshot
                self._write(snapshot)
                self._learn(snapshot)
                pkt.data = {"sid": sid, "pid": plan.pid}
                logger.info("recovered session %s: %d missed message(s) replayed", sid,
                            len(missed))
                return
            metrics.recoveries.labels(result="history_gone").inc()
        pid = secrets.token_urlsafe(18)
        start = connect_pos or upto
        # Every room it is in goes in its first snapshot: the user room and whatever the
        # connect handler joined (the snapshot did not exist when they did), and rooms a
        # recovery that could not finish had already restored.
        restored = plan.snapshot.rooms if plan is not None and plan.snapshot.sid == sid else {}
        rooms: dict[str, list[Position | None]] = {
            room: [upto, None] for room, span in restored.items()
            if span[1] is None and room not in joined}
        rooms.update({room: [at, None] for room, at in joined.items()})
        snapshot = Snapshot(
            key=pid_key(pid), sid=sid, owner=self.manager.host_id, gen=0, state="up",
            at=time.time(), pos=start, seen=start, last=None, floor=self.floor,
            rooms=rooms, data=auth, mode=mode, user=user, connect_rooms=set(joined))
        self.local[sid] = snapshot
        self._write(snapshot)
        pkt.data = {"sid": sid, "pid": pid}

    def _owner(self, eio_sid: str, sid: str) -> tuple[str, str | None]:
        """(auth mode, sub) of a connect being accepted: what the recovery check found, or
        the Principal the connect handler registered (the same check; no second token
        verification per connect), or — an app's own connect handler — the check itself."""
        who = self._who.get(eio_sid)
        if who is None:
            principal = self.identity.principal(sid)
            if principal is not None:
                return self.identity.mode, principal.sub
            if self.identity.jwt:
                who = self._identify(self._raw_auth.get(eio_sid),
                                     self.server.environ.get(eio_sid))
        return (who[0], who[1]) if who is not None else (self.identity.mode, None)

    def _as_reconnected(self, old: Snapshot, joined: dict[str, Position]) -> Snapshot:
        """The session as this reconnect restores it: its connect rooms are the ones the
        connect handler joined again (kept from when it first joined them, so what was sent
        to them while it was away is replayed); one it no longer joins is not restored."""
        rooms = {room: span for room, span in old.rooms.items()
                 if span[1] is not None or room not in old.connect_rooms or room in joined}
        for room, at in joined.items():
            if room not in rooms or rooms[room][1] is not None:
                rooms[room] = [at, None]
        return Snapshot(key=old.key, sid=old.sid, owner=old.owner, gen=old.gen,
                        state=old.state, at=old.at, pos=old.pos, seen=old.seen, last=old.last,
                        floor=old.floor, rooms=rooms, data=old.data, mode=old.mode,
                        user=old.user, connect_rooms=set(joined))

    def _replay(self, eio_sid: str, missed: list[_Entry], send: Any) -> None:
        """Send the missed EVENTs in order: on a WebSocket as one write of frames built once
        per message for every recovering client (a storm replays the same few seconds to
        a thousand of them), else packet by packet."""
        writer = self._direct_writer(eio_sid)
        if writer is None:
            for entry in missed:
                send(eio_sid, self._event_packet(entry))
            return
        from pushsvc.wsdirect import encode_frame  # under gevent only, as the writer

        frames: list[bytes] = []
        for entry in missed:
            if entry.frame is None:
                pkt = self._event_packet(entry)
                encoded = pkt.encode()
                if not isinstance(encoded, str):  # binary: a packet and its attachments
                    if frames:
                        writer.write(b"".join(frames))
                        frames = []
                    send(eio_sid, pkt)
                    continue
                self.history.charge_frame(entry, encode_frame(
                    eio_packet.Packet(eio_packet.MESSAGE, data=encoded)))
            assert entry.frame is not None
            frames.append(entry.frame)
        if frames:
            writer.write(b"".join(frames))

    def _direct_writer(self, eio_sid: str) -> DirectWriter | None:
        from pushsvc.wsdirect import DirectWriter

        socket = self.server.eio.sockets.get(eio_sid)
        queue = getattr(socket, "queue", None)
        if socket is None or socket.closed or not isinstance(queue, DirectWriter):
            return None
        return queue

    def _event_packet(self, entry: _Entry) -> Packet:
        message = entry.message
        data = list(message.get("data") or [])
        if message.get("binary") and data:
            attachments = [base64.b64decode(a) for a in data[1:]]
            data = list(Packet.reconstruct_binary(data[0], attachments))
        return Packet(sio_packet.EVENT, namespace="/",
                      data=[message.get("event"), *data, offset_text(entry.pos)])


def _order(snapshot: Snapshot) -> tuple[int, Position, str, float]:
    """Which of two records of one session is newer (see ``Recovery._learn``)."""
    return (snapshot.gen, snapshot.pos, snapshot.owner, snapshot.at)


def install(*, settings: Settings, server: Any, manager: Any,
            client_budget: Callable[[str], ClientBudget | None] | None = None,
            identity: Identity | None = None) -> Recovery | None:
    """Turn recovery on for this server if the settings ask and the bus can carry it."""
    if not settings.recovery_enabled:
        return None
    from pushsvc.bus.manager import KubernetesManager

    if not isinstance(manager, KubernetesManager):
        logger.warning("recovery: PUSHSVC_RECOVERY_ENABLED needs the Kubernetes bus; off")
        return None
    recovery = Recovery(settings=settings, server=server, manager=manager, identity=identity)
    if client_budget is not None:  # snapshot writes a client causes cost its publish budget
        recovery.budget.client_budget = client_budget
    recovery.install()
    logger.info("recovery on: window %.0f s, snapshots every %.0f s", recovery.window,
                recovery.interval)
    return recovery
