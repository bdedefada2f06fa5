"""Canned streams for resourceVersions that go back (etcd restore) or are ahead of the server
(504 "Too large resource version"): the watcher resets its watermark and relists, and still
never replays what existed before it started."""

from __future__ import annotations

import time

from pushsvc.bus import metrics
from tests.bus.canned import api_error, event_obj, line

TOO_LARGE = ('{"kind":"Status","apiVersion":"v1","status":"Failure","code":504,'
             '"reason":"Timeout","message":"Too large resource version: 40, current: 3"}')


def numbers(delivered: list) -> list[int]:
    return [d.envelope.messages[0].data[0]["n"] for d in delivered]


def created(obj: dict, ago: float) -> dict:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ago))
    obj["metadata"]["creationTimestamp"] = stamp
    return obj


def resets(cause: str) -> float:
    return metrics.resource_version_resets.labels(cause=cause)._value.get()


def test_a_quiet_watch_then_a_list_behind_the_resume_point_relists_from_the_new_version(
    run_watcher, clock,
):
    before = resets("list_behind")

    def quiet():
        clock.now += 300  # the whole server timeout without a line: a watch from the future
        yield from ()

    delivered, watcher = run_watcher([
        ("list", [], 30),
        ("watch", [line("ADDED", event_obj("u1", 31, 1)), line("ADDED", event_obj("u2", 32, 2))]),
        ("watch", quiet()),
        ("list", [], 3),  # the check after the quiet watch: the store went back
        # the relist: one restored old Event delivered before, one pre-dating this pod, two new
        ("list", [created(event_obj("u1", 2, 1), 5), created(event_obj("ancient", 1, 9), 3600),
                  created(event_obj("n1", 4, 11), 0), created(event_obj("n2", 5, 12), 0)], 5),
        ("watch", [line("ADDED", event_obj("n3", 6, 13))]),
    ])
    assert numbers(delivered) == [1, 2, 11, 12, 13]
    assert ("watch", "5") in watcher.transport_calls
    assert resets("list_behind") == before + 1


def test_a_relist_behind_the_resume_point_resets_the_watermark_too(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [], 30),
        ("raise", api_error(410)),
        ("list", [created(event_obj("n1", 4, 1), 0)], 4),
        ("watch", [line("ADDED", event_obj("n2", 5, 2))]),
    ])
    assert numbers(delivered) == [1, 2]


def test_a_504_too_large_resource_version_relists_instead_of_retrying_the_same_version(
    run_watcher,
):
    before = resets("too_large")
    delivered, watcher = run_watcher([
        ("list", [], 40),
        ("raise", api_error(504, TOO_LARGE, {"Retry-After": "1"})),
        ("list", [created(event_obj("n1", 3, 1), 0)], 3),
        ("watch", [line("ADDED", event_obj("n2", 4, 2))]),
    ])
    assert numbers(delivered) == [1, 2]
    # not from 40 again: from the relist's version (the last call is the end of the script)
    assert [c for c in watcher.transport_calls if c[0] == "watch"] == [
        ("watch", "40"), ("watch", "3"), ("watch", "4")]
    assert resets("too_large") == before + 1


def test_a_504_error_line_in_the_stream_relists_too(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [], 40),
        ("watch", [line("ERROR", {"kind": "Status", "code": 504, "reason": "Timeout",
                                  "message": "Too large resource version: 40, current: 3"})]),
        ("list", [], 3),
        ("watch", [line("ADDED", event_obj("n1", 4, 1))]),
    ])
    assert numbers(delivered) == [1]
    assert ("watch", "3") in watcher.transport_calls


def test_a_quiet_watch_on_a_server_that_did_not_go_back_just_reconnects(run_watcher, clock):
    def quiet():
        clock.now += 300
        yield from ()

    delivered, watcher = run_watcher([
        ("list", [], 30),
        ("watch", quiet()),
        ("list", [], 35),  # the check: the server is ahead (other namespaces), all fine
        ("watch", [line("ADDED", event_obj("u1", 36, 1))]),
    ])
    assert numbers(delivered) == [1]
    assert [c for c in watcher.transport_calls if c[0] == "watch"][:2] == [
        ("watch", "30"), ("watch", "30")]
