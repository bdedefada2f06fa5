"""What connection state recovery may hold and write: kinds of data, bytes, and pace.

Recovery (pushsvc.recovery) keeps two things for clients it may never see again, and writes
one of them to etcd: session snapshots (every pod keeps every pod's) and the recent history
of recoverable bus messages. Without bounds in bytes, both were an attacker's storage:

- A snapshot kept the client's CONNECT ``auth`` dict minus a few secret-looking key names:
  a 3,500-character pad made every snapshot 4 KiB in etcd and in every pod's memory, and
  keys such as ``pass`` or ``bearer`` went into the Events. The connect checks run again on
  every recovery with the auth the client sends then, so a snapshot needs none of it:
  :func:`snapshot_data` keeps nothing the client chose (the allowlist is empty). Room
  names are the only client-chosen text left, and they passed the join checks (at most
  ``MAX_ROOM_CHARS`` each, ``max_rooms_per_client`` of them) before they got there.
- Snapshot writes were free: every connect, room change and disconnect published one,
  whatever the client's or the pod's publish budget. :class:`SnapshotBudget` charges the
  ones a client causes to that client's publish byte budget (the one its own publishes
  use) and to a pod-wide snapshot byte budget; a write that is short waits (it stays
  dirty, coalesced with later changes of the same session) instead of being lost.
- The history and the snapshots were bounded by count only: 200,000 messages of up to
  250 KiB, 200,000 snapshots of up to 4 KiB. :func:`json_cost` and :func:`snapshot_cost`
  estimate what an entry really costs in this process (a parsed ``[{}, {}, ...]`` is 18 ×
  its JSON), :class:`SessionStore` keeps the snapshots' total, and the history evicts its
  oldest messages past its byte bound like past its count bound — so a recovery that
  needed them is refused (a clean new session), never partial.
- The periodic refresh of every local snapshot came at once, every interval: one burst
  of Event writes per pod that every pod then had to read. :class:`RefreshSchedule`
  spreads them: a session's first refresh falls anywhere in its first interval, later
  ones an interval (minus up to a tenth) after its last write, at most
  ``per_second`` a second (recovery gathers the due ones once a second into one Event).
"""

from __future__ import annotations

import heapq
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pushsvc.sio.budget import ClientBudget, TokenBucket

if TYPE_CHECKING:
    from pushsvc.recovery.snapshot import Snapshot

#: Auth keys a snapshot keeps (none: the connect checks run again on recovery with the
#: auth the client sends then; its identity is what those checks find, not what it sent).
SNAPSHOT_AUTH_KEYS: frozenset[str] = frozenset()

# What one snapshot costs in memory beyond its rooms and data, and each room more than its
# name (measured with tracemalloc on CPython 3.11: ~1,180 B with no room, +225 B per room of
# 12 characters, and the owner fields; see tests/unit/test_recovery_bounds.py).
SNAPSHOT_BASE_BYTES = 1000
SNAPSHOT_ROOM_BYTES = 230
SNAPSHOT_SET_BYTES = 216  # an empty set
SNAPSHOT_SET_ENTRY_BYTES = 90  # its own str, parsed apart from the rooms' keys, and a slot
#: One history entry beyond its message (the entry, its position, its slots in the indexes).
HISTORY_ENTRY_BYTES = 320


def snapshot_data(auth: Any) -> dict[str, Any]:
    """What a snapshot keeps of the client's CONNECT auth: only :data:`SNAPSHOT_AUTH_KEYS`."""
    if not isinstance(auth, dict):
        return {}
    return {k: auth[k] for k in SNAPSHOT_AUTH_KEYS if k in auth}


def json_cost(value: Any) -> int:
    """About the bytes a parsed JSON value holds in this process (``sys.getsizeof`` of each
    object, walked without recursion; shared objects counted each time, so never less)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            total += sum(sys.getsizeof(k) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


def snapshot_cost(snapshot: Snapshot) -> int:
    """About the bytes one snapshot holds in a pod's memory."""
    rooms = sum(SNAPSHOT_ROOM_BYTES + len(room) for room in snapshot.rooms)
    data = json_cost(snapshot.data) if snapshot.data else 0
    # Whose session it is: the mode and sub strings, and the set of connect-handler rooms.
    owner = (len(snapshot.mode) + len(snapshot.user or "") + SNAPSHOT_SET_BYTES
             + sum(SNAPSHOT_SET_ENTRY_BYTES + len(room) for room in snapshot.connect_rooms))
    return (SNAPSHOT_BASE_BYTES + len(snapshot.sid) + len(snapshot.owner) + rooms + data
            + owner)


class SessionStore(dict[str, "Snapshot"]):
    """The snapshots a pod knows, by pid key, with their estimated bytes (``bytes``).

    A plain dict for every reader; setting or deleting an item keeps the total. A snapshot
    changed in place (a local session's rooms) is costed again when it is set again, at
    its next write.
    """

    def __init__(self) -> None:
        super().__init__()
        self._costs: dict[str, int] = {}
        self.bytes = 0

    def __setitem__(self, key: str, snapshot: Snapshot) -> None:
        cost = snapshot_cost(snapshot)
        self.bytes += cost - self._costs.get(key, 0)
        self._costs[key] = cost
        super().__setitem__(key, snapshot)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.bytes -= self._costs.pop(key, 0)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.bytes -= self._costs.pop(key, 0)
        return super().pop(key, *default)

    def over(self, *, max_count: int, max_bytes: int) -> bool:
        return len(self) > max_count or self.bytes > max_bytes

    def oldest_beyond(self, *, max_count: int, max_bytes: int) -> tuple[list[str], str]:
        """The oldest keys to forget so that a tenth of each bound is free again, and the
        bound that was passed (``sessions_full`` or ``sessions_bytes``): forgetting only
        down to the bound would sort every snapshot again at the next one learnt."""
        reason = "sessions_full" if len(self) > max_count else "sessions_bytes"
        count_goal = max_count - max_count // 10
        bytes_goal = max_bytes - max_bytes // 10
        keys: list[str] = []
        count, held = len(self), self.bytes
        for key, _ in sorted(self.items(), key=lambda item: item[1].at):
            if count <= count_goal and held <= bytes_goal:
                break
            keys.append(key)
            count -= 1
            held -= self._costs.get(key, 0)
        return keys, reason


class SnapshotBudget:
    """What snapshot writes a client caused may cost: its publish byte budget (shared with
    its own publishes) and the pod's snapshot byte budget.

    ``client_budget(sid)`` finds a connected client's budget (None once it is gone: its
    last write, at disconnect, is charged to the pod alone).
    """

    def __init__(self, *, pod_bytes: TokenBucket,
                 client_budget: Callable[[str], ClientBudget | None]) -> None:
        self.pod_bytes = pod_bytes
        self.client_budget = client_budget

    def charge(self, sid: str, size: int) -> str | None:
        """Spend ``size`` bytes, or nothing and say whose budget was short ("client",
        "pod"). A write larger than a bucket costs the whole bucket (it waits for a full
        one), so a small budget delays it and never blocks it for good."""
        client = self.client_budget(sid)
        mine = None if client is None else min(float(size), client.publish_bytes.burst)
        if client is not None and mine is not None and not client.publish_bytes.can_take(mine):
            return "client"
        if not self.pod_bytes.take(min(float(size), self.pod_bytes.burst)):
            return "pod"
        if client is not None and mine is not None:
            client.publish_bytes.spend(mine)
        return None


class RefreshSchedule:
    """When each local session's snapshot is written again, spread over the interval.

    ``written(sid)`` after every write of a connected session's snapshot; ``due()`` the
    sessions whose refresh time has come, at most ``per_second`` a second on average
    (a backlog waits for the next call); ``forget(sid)`` when it is no longer local.
    """

    def __init__(self, *, interval: float, per_second: float,
                 clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random) -> None:
        self.interval = interval
        self._clock = clock
        self._rng = rng
        self._pace = TokenBucket(rate=per_second, burst=max(1.0, per_second), clock=clock)
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def written(self, sid: str) -> None:
        now = self._clock()
        if sid in self._due:  # a full interval, less up to a tenth: the spread stays
            due = now + self.interval * (1.0 - 0.1 * self._rng())
        else:  # its first: anywhere in the interval, so a crowd that came at once spreads
            due = now + self.interval * self._rng()
        self._due[sid] = due
        heapq.heappush(self._heap, (due, sid))

    def forget(self, sid: str) -> None:
        self._due.pop(sid, None)

    def due(self) -> Iterator[str]:
        now = self._clock()
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, sid = heap[0]
            if self._due.get(sid) != due:  # written again since, or forgotten
                heapq.heappop(heap)
                continue
            if not self._pace.take(1.0):
                return
            heapq.heappop(heap)
            del self._due[sid]  # until it is written
            self._due_again(sid)
            yield sid
        if len(heap) > 2 * len(self._due) + 64:  # stale entries: rebuild
            self._heap = [(d, s) for s, d in self._due.items()]
            heapq.heapify(self._heap)

    def _due_again(self, sid: str) -> None:
        # Due, not yet written: if its write is lost (deferred, dropped), try again soon.
        retry = self._clock() + min(self.interval, 5.0)
        self._due[sid] = retry
        heapq.heappush(self._heap, (retry, sid))
