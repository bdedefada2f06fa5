"""Presence across three pods: real clients join, leave and freeze, and the answer on any pod
counts and lists every member with its user, pod and the age of each pod's summary."""

from __future__ import annotations

from tests.presence.conftest import LEASE_SECONDS, Connect, leave, users, wait_for_answer


def test_members_on_three_pods_are_counted_and_listed_from_any_pod(
        presence_client: Connect) -> None:
    alice = presence_client(0, "alice", rooms=("team-count",))
    presence_client(1, "bob", rooms=("team-count",))
    presence_client(2, "carol", rooms=("team-count",))
    watcher = presence_client(1, "watcher", presence=["team-*"])

    answer = wait_for_answer(watcher, "team-count", lambda a: a["count"] == 3)
    assert answer["ok"] is True and answer["truncated"] is False
    assert users(answer) == [("alice", "pushsvc-0"), ("bob", "pushsvc-1"),
                             ("carol", "pushsvc-2")]
    assert all("sid" not in m and isinstance(m["since"], int) for m in answer["members"])
    # every pod's summary is used, each younger than its Lease; this pod's own is live (0)
    assert set(answer["pods"]) >= {"pushsvc-0", "pushsvc-1", "pushsvc-2"}
    assert answer["pods"]["pushsvc-1"] == 0
    assert all(age <= LEASE_SECONDS for age in answer["pods"].values())

    leave(alice, "team-count")
    answer = wait_for_answer(watcher, "team-count", lambda a: a["count"] == 2)
    assert users(answer) == [("bob", "pushsvc-1"), ("carol", "pushsvc-2")]


def test_a_users_tabs_on_two_pods_are_its_user_room_and_the_user_may_ask_about_it(
        presence_client: Connect) -> None:
    presence_client(0, "dave")
    tab = presence_client(2, "dave")
    answer = wait_for_answer(tab, "user:dave", lambda a: a["count"] == 2)
    assert users(answer) == [("dave", "pushsvc-0"), ("dave", "pushsvc-2")]
