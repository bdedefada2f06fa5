"""The pure parts of connection state recovery: offsets, session snapshots read from
untrusted bus Events, which messages a session would have received, and the history's
bounds (pushsvc.recovery)."""

from __future__ import annotations

import pytest

from pushsvc.recovery import History, Snapshot, offset_text, parse_offset, pid_key
from pushsvc.recovery.bounds import snapshot_data


def _snapshot(**changes: object) -> Snapshot:
    fields: dict[str, object] = dict(
        key=pid_key("secret-pid"), sid="AAAAAAAAAAAAAAAAAAAA", owner="host-a", gen=0,
        state="up", at=1000.0, pos=(10, 0), seen=(20, 3), last=None, floor=(0, 0),
        rooms={"team": [(12, 0), None], "old": [(11, 0), (15, 1)]}, data={"user": "ann"})
    fields.update(changes)
    return Snapshot(**fields)  # type: ignore[arg-type]


def test_an_offset_is_the_resource_version_and_the_index_and_nothing_else_parses() -> None:
    assert parse_offset(offset_text((123, 4))) == (123, 4)
    for bad in ("", "12", "12-", "-3", "a-1", "1-b", "1-2-3", 5, None, "9" * 50 + "-1"):
        assert parse_offset(bad) is None


def test_a_snapshot_survives_its_record_and_never_holds_the_pid() -> None:
    snapshot = _snapshot(last=(18, 2))
    record = snapshot.record()
    assert "secret-pid" not in str(record)
    assert Snapshot.parse(record) == snapshot


@pytest.mark.parametrize("change", [
    {"p": "x"}, {"s": "maybe"}, {"g": "1"}, {"r": {"team": ["1-0"]}}, {"r": []},
    {"d": [1]}, {"sid": 5}, {"l": "bad"},
])
def test_a_malformed_snapshot_record_is_ignored(change: dict[str, object]) -> None:
    assert Snapshot.parse({**_snapshot().record(), **change}) is None


def test_a_session_wants_broadcasts_its_sid_and_rooms_only_while_it_was_in_them() -> None:
    snapshot = _snapshot()
    sid = snapshot.sid
    assert snapshot.wants((30, 0), {"room": None})
    assert not snapshot.wants((30, 0), {"room": None, "skip_sid": sid})
    assert not snapshot.wants((30, 0), {"room": None, "skip_sid": [sid, "x"]})
    assert snapshot.wants((30, 0), {"room": sid})
    assert snapshot.wants((30, 0), {"room": ["elsewhere", "team"]})
    assert not snapshot.wants((12, 0), {"room": "team"})  # sent before it joined
    assert snapshot.wants((15, 1), {"room": "old"}) and not snapshot.wants((15, 2), {"room": "old"})
    assert not snapshot.wants((30, 0), {"room": "never"})


def test_the_history_keeps_bus_order_and_says_from_where_it_is_complete() -> None:
    history = History(max_messages=100, max_age_seconds=60)
    for rv in (5, 6, 8):
        history.add((rv, 0), {"rv": rv}, at=0.0)
    history.add((7, 1), {"rv": 7}, at=0.0)  # a relist handed it out late
    history.add((7, 1), {"rv": 7}, at=0.0)  # and once only
    assert [e.pos for e in history.between((5, 0), (8, 0))] == [(6, 0), (7, 1), (8, 0)]
    history.add((9, 0), {"rv": 9}, at=100.0)
    history.trim(now=100.0)
    assert history.complete_from == (8, 0)
    assert [e.pos for e in history.between((0, 0), (99, 0))] == [(9, 0)]


def test_the_history_is_bounded_by_count() -> None:
    history = History(max_messages=100, max_age_seconds=60)
    for rv in range(1, 200):
        history.add((rv, 0), {}, at=0.0)
    assert len(history.entries) <= 110
    assert history.complete_from is not None and history.complete_from >= (89, 0)


def test_a_snapshot_keeps_nothing_of_the_clients_auth() -> None:
    auth = {"token": "t", "pid": "p", "offset": "1-0", "pass": "x", "bearer": "b",
            "user": "ann", "pad": "x" * 3500}
    assert snapshot_data(auth) == {}
    assert snapshot_data("not a dict") == {}
