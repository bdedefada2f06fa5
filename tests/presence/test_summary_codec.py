"""The summary codec: what a pod writes round-trips, stays inside its bounds (rooms, members,
bytes) and counts what it left out; what a reader gets from a Lease is checked first."""

from __future__ import annotations

import orjson
import pytest

from pushsvc.presence.summary import MAX_SUMMARY_BYTES, SummaryError, build, decode

NOW = 1_700_000_000.0


def _rooms(spec: dict[str, int]) -> dict[str, dict[str, tuple[str | None, int]]]:
    return {room: {f"{room}-sid{k}": (f"user{k}", int(NOW) - k) for k in range(n)}
            for room, n in spec.items()}


def _build(rooms: dict[str, dict[str, tuple[str | None, int]]], **bounds: int):  # type: ignore[no-untyped-def]
    options = {"max_rooms": 100, "max_members": 1000, "max_bytes": 100_000, **bounds}
    return build("pod-a", rooms, now=NOW, **options)


def test_a_summary_round_trips_with_counts_members_and_since() -> None:
    summary, data = _build(_rooms({"team": 2, "user:ann": 1}))
    back = decode(data)
    assert back == summary and back.size == len(data)
    assert back.count("team") == 2 and back.count("nowhere") == 0
    assert sorted(m.user for m in back.members_of("team")) == ["user0", "user1"]
    assert {m.pod for m in back.members_of("team")} == {"pod-a"}
    assert not back.truncated and back.complete_for("nowhere")


def test_rooms_over_the_bound_are_dropped_largest_kept_and_counted() -> None:
    summary, _ = _build(_rooms({"big": 3, "mid": 2, "small": 1}), max_rooms=2)
    assert set(summary.rooms) == {"big", "mid"}
    assert (summary.dropped_rooms, summary.dropped_members) == (1, 1)
    assert not summary.complete_for("small") and summary.complete_for("big")


def test_members_over_the_bound_keep_exact_counts_and_say_incomplete() -> None:
    summary, _ = _build(_rooms({"big": 5}), max_members=2)
    assert summary.count("big") == 5 and len(summary.members_of("big")) == 2
    assert summary.dropped_members == 3 and not summary.complete_for("big")


def test_the_byte_bound_holds_for_many_long_rooms_and_members() -> None:
    rooms = {f"room-{'r' * 100}-{k}": {f"sid-{k}-{j}": ("u" * 200, int(NOW)) for j in range(20)}
             for k in range(200)}
    for limit in (1024, 10_000, 64 * 1024):
        summary, data = _build(rooms, max_bytes=limit)
        assert len(data) <= limit and summary.truncated
        assert decode(data).dropped_rooms == summary.dropped_rooms


@pytest.mark.parametrize("doc", [
    b"not json", b"[]", b'{"v": 2}',
    orjson.dumps({"v": 1, "pod": "", "ts": 1, "rooms": [], "dropped": [0, 0]}),
    orjson.dumps({"v": 1, "pod": "p", "ts": -1, "rooms": [], "dropped": [0, 0]}),
    orjson.dumps({"v": 1, "pod": "p", "ts": 1, "rooms": [["r", 1, [["s", 5, 1]]]],
                  "dropped": [0, 0]}),
    orjson.dumps({"v": 1, "pod": "p", "ts": 1, "rooms": [["r", 0, [["s", "u", 1]]]],
                  "dropped": [0, 0]}),
    orjson.dumps({"v": 1, "pod": "p", "ts": 1, "rooms": [["r" * 300, 1, []]],
                  "dropped": [0, 0]}),
    orjson.dumps({"v": 1, "pod": "p", "ts": 1, "rooms": [], "dropped": [True, 0]}),
])
def test_a_malformed_summary_is_refused(doc: bytes) -> None:
    with pytest.raises(SummaryError):
        decode(doc)


def test_a_summary_over_the_readers_limit_is_refused_before_parsing() -> None:
    with pytest.raises(SummaryError, match="over"):
        decode(b" " * (MAX_SUMMARY_BYTES + 1))
