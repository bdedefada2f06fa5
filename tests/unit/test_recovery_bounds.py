"""Recovery's bounds in bytes and pace (pushsvc.recovery.bounds): the memory estimates
against tracemalloc, the snapshot store's total and what it forgets, the history's byte
bound, the snapshot budget, and the refresh schedule's spread."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

from pushsvc.recovery import History, Snapshot, pid_key
from pushsvc.recovery.bounds import (
    RefreshSchedule,
    SessionStore,
    SnapshotBudget,
    json_cost,
    snapshot_cost,
)
from pushsvc.sio.budget import ClientBudget, StrikeCounter, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _snapshot(i: int, rooms: int = 1, at: float = 1000.0) -> Snapshot:
    return Snapshot(
        key=pid_key(str(i)), sid=f"{i:020d}", owner="pushsvc-6d5f7c9b8-x2x4q:5000", gen=0,
        state="up", at=at + i, pos=(123456 + i, 0), seen=(123456 + i, 3), last=None,
        floor=(0, 0), rooms={f"room-{i}-{r}": [(1000 + r, 0), None] for r in range(rooms)},
        mode="jwt", user=f"user-{i}@example.com",
        connect_rooms={f"room-{i}-0"} if rooms else set())


def _traced(build: Any) -> int:
    tracemalloc.start()
    try:
        kept = build()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return size


def test_a_snapshots_estimated_bytes_are_at_least_what_it_holds_parsed_from_a_record() -> None:
    for rooms in (0, 1, 10):
        records = [json.dumps(_snapshot(i, rooms).record()) for i in range(2000)]
        held = _traced(lambda records=records: [
            Snapshot.parse(json.loads(r)) for r in records]) / 2000
        estimate = snapshot_cost(_snapshot(0, rooms))
        assert held <= estimate <= 1.5 * held, (rooms, held, estimate)


def test_a_messages_estimated_bytes_cover_its_parsed_objects_whatever_their_shape() -> None:
    for payload in ("x" * 10000, [{}] * 1000, [1.5] * 1000, ["a"] * 1000):
        text = json.dumps({"method": "emit", "event": "e", "data": [{"data": payload}],
                           "room": None})
        held = _traced(lambda text=text: [json.loads(text) for _ in range(200)]) / 200
        assert held <= json_cost(json.loads(text)), (str(payload)[:10], held)


def test_the_session_store_keeps_its_total_and_forgets_the_oldest_past_either_bound() -> None:
    store = SessionStore()
    snapshots = [_snapshot(i) for i in range(100)]
    for snapshot in snapshots:
        store[snapshot.key] = snapshot
    each = snapshot_cost(snapshots[0])
    assert store.bytes == sum(snapshot_cost(s) for s in snapshots)
    store[snapshots[0].key] = snapshots[0]  # set again: not counted twice
    del store[snapshots[1].key]
    store.pop(snapshots[2].key)
    store.pop("unknown", None)
    assert store.bytes == sum(snapshot_cost(s) for s in snapshots[3:]) + each

    assert not store.over(max_count=1000, max_bytes=10**9)
    assert store.over(max_count=50, max_bytes=10**9)
    keys, reason = store.oldest_beyond(max_count=50, max_bytes=10**9)
    assert reason == "sessions_full" and len(store) - len(keys) == 45
    keys, reason = store.oldest_beyond(max_count=1000, max_bytes=20 * each)
    assert reason == "sessions_bytes" and keys[0] == snapshots[0].key
    assert store.bytes - sum(snapshot_cost(store[k]) for k in keys) <= 18 * each


def test_the_history_is_bounded_by_bytes_and_says_it_is_complete_only_after_the_dropped() -> None:
    history = History(max_messages=100000, max_age_seconds=1e9, max_bytes=1024 * 1024)
    big = {"method": "emit", "event": "e", "data": [{"data": "x" * 100000}], "room": None}
    for rv in range(1, 40):
        history.add((rv, 0), big, at=0.0)
        assert history.bytes <= history.max_bytes
    assert history.bytes == sum(e.cost for e in history.entries)
    oldest = history.entries[0].pos
    assert history.complete_from is not None and history.complete_from < oldest
    assert history.dropped_upto == history.complete_from
    assert len(history.entries) < 11


def test_a_replay_frame_counts_against_the_historys_bytes() -> None:
    history = History(max_messages=1000, max_age_seconds=1e9, max_bytes=1024 * 1024)
    history.add((1, 0), {"event": "e", "data": ["x"]}, at=0.0)
    before = history.bytes
    history.charge_frame(history.entries[0], b"f" * 1000)
    assert history.bytes == before + 1000 and history.entries[0].frame == b"f" * 1000


def _client(rate: float, burst: float, clock: Clock) -> ClientBudget:
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock)
    return ClientBudget(events=bucket, publish_messages=bucket,
                        publish_bytes=TokenBucket(rate=rate, burst=burst, clock=clock),
                        rate_strikes=StrikeCounter(limit=1, window=1, clock=clock))


def test_a_snapshot_write_costs_the_clients_publish_bytes_and_the_pods_or_nothing() -> None:
    clock = Clock()
    clients = {"a": _client(100, 1000, clock), "b": _client(100, 1000, clock)}
    budget = SnapshotBudget(pod_bytes=TokenBucket(rate=100, burst=1500, clock=clock),
                            client_budget=clients.get)
    assert budget.charge("a", 800) is None
    assert budget.charge("a", 800) == "client"  # a's own budget: the pod's is untouched
    assert budget.charge("b", 600) is None
    assert budget.charge("b", 300) == "pod"
    assert clients["b"].publish_bytes.tokens == 400  # refused: b was not charged
    assert budget.charge("gone", 50) is None  # a disconnected client's: the pod's alone
    clock.now = 10.0
    assert budget.charge("b", 900) is None
    clock.now = 100.0  # larger than either bucket: it waits for a full one, then passes
    assert budget.charge("a", 5000) is None
    assert budget.charge("a", 5000) == "client"


def test_refreshes_spread_over_the_interval_and_never_pass_the_pace() -> None:
    clock = Clock()
    schedule = RefreshSchedule(interval=30.0, per_second=1000.0, clock=clock)
    sids = [f"s{i}" for i in range(3000)]
    for sid in sids:  # all connected at once
        schedule.written(sid)
    per_second, refreshed = [], set()
    for second in range(1, 31):
        clock.now = float(second)
        due = list(schedule.due())
        per_second.append(len(due))
        refreshed.update(due)
        for sid in due:
            schedule.written(sid)
    assert refreshed == set(sids)  # each within its first interval
    assert max(per_second) < 3 * 3000 / 30  # spread, not at once
    clock.now = 40.0  # the second round: each an interval (less a tenth) after its first
    assert 0 < len(list(schedule.due())) < 3000 // 2

    slow = RefreshSchedule(interval=1.0, per_second=10.0, clock=clock)
    for sid in sids[:100]:
        slow.written(sid)
    clock.now = 42.0
    assert len(list(slow.due())) <= 11  # a backlog waits for the pace
    slow.forget(sids[0])
    assert sids[0] not in list(slow.due())
