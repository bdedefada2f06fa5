"""The delivered-UID set is bounded, yet a relist never replays old Events.

At 100 notifications/s a namespace holds ~360,000 live bus Events (1 h TTL); a relist after a
410 returns all of them. The watermark (bus Events are only created, so an Event's
resourceVersion is its creation version) keeps forgotten UIDs from coming back as new.
"""

from __future__ import annotations

from tests.bus.canned import api_error, event_obj, gone_line, line


def numbers(delivered: list) -> list[int]:
    return [d.envelope.messages[0].data[0]["n"] for d in delivered]


def test_a_relist_after_more_deliveries_than_the_uid_bound_replays_nothing(run_watcher):
    delivered, _ = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj(f"u{n}", 10 + n, n)) for n in range(1, 6)]
         + [gone_line()]),
        # everything delivered is still there, plus two Events the 410 made us miss
        ("list", [event_obj(f"u{n}", 10 + n, n) for n in range(1, 8)], 17),
        ("watch", [line("ADDED", event_obj("u8", 18, 8))]),
    ], max_seen=2)
    assert numbers(delivered) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_more_pre_existing_events_than_the_uid_bound_are_never_replayed(run_watcher):
    old = [event_obj(f"old{n}", n, 100 + n) for n in range(1, 6)]
    delivered, _ = run_watcher([
        ("list", old, 5),
        ("raise", api_error(410)),
        ("list", [*old, event_obj("new", 6, 1)], 6),
        ("watch", []),
    ], max_seen=2)
    assert numbers(delivered) == [1]


def test_opaque_resource_versions_fall_back_to_the_uid_set(run_watcher):
    def opaque(uid: str, n: int) -> dict:
        obj = event_obj(uid, 0, n)
        obj["metadata"]["resourceVersion"] = f"v-{uid}"
        return obj

    delivered, _ = run_watcher([
        # opaque versions: the first list cannot stop at one item, it reads every UID
        ("list", [opaque("a", 0)], "v-list"),
        ("list", [opaque("a", 0)], "v-list"),
        ("watch", [line("ADDED", opaque("b", 1)), gone_line()]),
        ("list", [opaque("a", 0), opaque("b", 1), opaque("c", 2)], "v-list2"),
        ("watch", []),
    ])
    assert numbers(delivered) == [1, 2]


def test_an_item_newer_than_its_lists_version_is_not_delivered_again_by_the_watch(run_watcher):
    # A real list is a snapshot; a paginated list that is not must still not cause a repeat.
    delivered, _ = run_watcher([
        ("list", [], 10),
        ("watch", [gone_line()]),
        ("list", [event_obj("u1", 11, 1), event_obj("u2", 13, 2)], 12),
        ("watch", [line("ADDED", event_obj("u2", 13, 2)), line("ADDED", event_obj("u3", 14, 3))]),
    ])
    assert numbers(delivered) == [1, 2, 3]
