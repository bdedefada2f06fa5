"""A session snapshot record carries whose session it is (auth mode, token subject) and the
rooms its connect handler joined; a record that gets them wrong is ignored, and one from a
version that did not write them can never match a reconnect (pushsvc.recovery)."""

from __future__ import annotations

import pytest

from pushsvc.recovery import Snapshot, pid_key


def _snapshot(**changes: object) -> Snapshot:
    fields: dict[str, object] = dict(
        key=pid_key("secret-pid"), sid="AAAAAAAAAAAAAAAAAAAA", owner="host-a", gen=0,
        state="up", at=1000.0, pos=(10, 0), seen=(20, 3), last=None, floor=(0, 0),
        rooms={"user:alice": [(10, 0), None], "team": [(12, 0), None]}, data={},
        mode="jwt", user="alice", connect_rooms={"user:alice"})
    fields.update(changes)
    return Snapshot(**fields)  # type: ignore[arg-type]


def test_the_owner_and_the_connect_rooms_survive_the_record() -> None:
    snapshot = _snapshot()
    assert Snapshot.parse(snapshot.record()) == snapshot
    anonymous = _snapshot(mode="none", user=None, connect_rooms=set())
    assert Snapshot.parse(anonymous.record()) == anonymous


@pytest.mark.parametrize("change", [
    {"u": 5}, {"m": None}, {"cr": "user:alice"}, {"cr": ["not-a-room-of-it"]}, {"cr": [1]},
])
def test_a_record_with_a_malformed_owner_or_connect_room_is_ignored(
    change: dict[str, object],
) -> None:
    assert Snapshot.parse({**_snapshot().record(), **change}) is None


def test_a_record_without_an_owner_matches_no_auth_mode() -> None:
    record = _snapshot().record()
    for key in ("m", "u", "cr"):
        del record[key]
    parsed = Snapshot.parse(record)
    assert parsed is not None and parsed.mode == "" and parsed.user is None
    assert parsed.mode not in ("none", "token", "jwt")
