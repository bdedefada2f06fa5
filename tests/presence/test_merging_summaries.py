"""Merging: this pod's live rooms plus every other live pod's summary; a summary older than its
Lease's duration (on this pod's clock) is a dead pod's and is left out; caps say truncated."""

from __future__ import annotations

from pushsvc.presence.summary import build
from pushsvc.presence.view import PresenceView, local_summary, merge


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _summary(pod: str, members: dict[str, str], **bounds: int):  # type: ignore[no-untyped-def]
    rooms = {"team": {sid: (user, 10) for sid, user in members.items()}}
    options = {"max_rooms": 10, "max_members": 100, "max_bytes": 10_000, **bounds}
    return build(pod, rooms, now=10, **options)[0]


def test_counts_and_members_add_up_over_pods() -> None:
    clock = Clock()
    view = PresenceView(own_pod="p0", clock=clock)
    view.put("lease-1", _summary("p1", {"a": "ann"}), duration=3)
    clock.now += 1
    view.put("lease-2", _summary("p2", {"b": "bob", "c": "cid"}), duration=3)
    local = local_summary("p0", {"team": {"z": ("zed", 5)}}, now=10)
    answer = view.answer("team", local, list_max=10)
    assert answer.count == 4 and not answer.truncated
    assert [m.user for m in answer.members] == ["zed", "ann", "bob", "cid"]
    assert answer.pods == {"p0": 0.0, "p1": 1.0, "p2": 0.0}


def test_a_summary_older_than_its_lease_is_left_out_and_counted_stale() -> None:
    clock = Clock()
    view = PresenceView(own_pod="p0", clock=clock)
    view.put("lease-1", _summary("p1", {"a": "ann"}), duration=3)
    clock.now += 3
    assert view.answer("team", None, list_max=10).count == 1
    clock.now += 0.1
    answer = view.answer("team", None, list_max=10)
    assert answer.count == 0 and answer.pods == {} and view.stale() == 1


def test_this_pods_own_lease_is_never_counted_twice() -> None:
    view = PresenceView(own_pod="p0", clock=Clock())
    view.put("lease-0", _summary("p0", {"a": "ann"}), duration=3)
    local = local_summary("p0", {"team": {"a": ("ann", 5)}}, now=10)
    assert view.answer("team", local, list_max=10).count == 1


def test_the_list_cap_and_a_partial_summary_make_the_answer_truncated() -> None:
    full = _summary("p1", {"a": "ann", "b": "bob"})
    assert merge("team", [(full, 0.0)], list_max=1).truncated
    partial = _summary("p2", {"c": "cid", "d": "dan"}, max_members=1)
    answer = merge("team", [(full, 0.0), (partial, 0.0)], list_max=10)
    assert answer.count == 4 and len(answer.members) == 3 and answer.truncated
    dropped = _summary("p3", {"e": "eve"}, max_rooms=0)
    assert merge("elsewhere", [(dropped, 0.0)], list_max=10).truncated


def test_a_deleted_lease_is_forgotten_and_a_relist_starts_over() -> None:
    view = PresenceView(own_pod="p0", clock=Clock())
    view.put("lease-1", _summary("p1", {"a": "ann"}), duration=3)
    view.put("lease-2", _summary("p2", {"b": "bob"}), duration=3)
    view.drop("lease-1")
    assert view.answer("team", None, list_max=10).count == 1
    view.clear()
    assert view.answer("team", None, list_max=10).count == 0


def test_two_leases_naming_one_pod_count_only_the_newest() -> None:
    clock = Clock()
    view = PresenceView(own_pod="p0", clock=clock)
    view.put("lease-1", _summary("p1", {"a": "ann", "b": "bob"}), duration=3)
    clock.now += 1
    view.put("forged", _summary("p1", {"c": "cid"}), duration=3600)
    answer = view.answer("team", None, list_max=10)
    assert answer.count == 1 and answer.pods == {"p1": 0.0}
