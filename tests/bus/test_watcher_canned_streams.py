"""The watcher's rules, driven by canned API responses (no network, no clock)."""

from __future__ import annotations

import urllib3

from pushsvc.bus import metrics
from tests.bus.canned import api_error, event_obj, gone_line, line


def numbers(delivered: list) -> list[int]:
    return [d.envelope.messages[0].data[0]["n"] for d in delivered]


def test_pre_existing_events_are_never_replayed_and_the_watch_starts_at_the_list_version(
    run_watcher,
):
    old = [event_obj("u1", 5, 1), event_obj("u2", 6, 2)]
    delivered, watcher = run_watcher([
        ("list", old, 10),
        ("watch", [line("ADDED", event_obj("u3", 11, 3))]),
    ])
    assert numbers(delivered) == [3]
    assert watcher.transport_calls[:3] == [("list", "1"), ("page", "0"), ("watch", "10")]


def test_bookmark_modified_and_deleted_are_skipped_but_advance_the_resume_version(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [
            line("ADDED", event_obj("u1", 11, 1)),
            line("MODIFIED", event_obj("u1", 12, 1)),
            line("BOOKMARK", {"kind": "Event", "metadata": {"resourceVersion": "13"}}),
            line("DELETED", event_obj("u0", 14, 0)),
        ]),
        ("watch", []),
    ])
    assert numbers(delivered) == [1]
    assert watcher.transport_calls[-1] == ("watch", "14")


def test_a_dropped_stream_resumes_from_the_last_delivered_version(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("u1", 11, 1)),
                   urllib3.exceptions.ProtocolError("connection reset")]),
        ("watch", [line("ADDED", event_obj("u2", 12, 2))]),
    ])
    assert numbers(delivered) == [1, 2]
    assert [c for c in watcher.transport_calls if c[0] == "watch"] == [
        ("watch", "10"), ("watch", "11"), ("watch", "12")]


def test_a_410_error_line_relists_and_delivers_only_what_was_not_yet_delivered(run_watcher):
    relists = metrics.relists._value.get()
    delivered, watcher = run_watcher([
        ("list", [event_obj("u0", 9, 0)], 10),
        ("watch", [line("ADDED", event_obj("u1", 11, 1)), gone_line()]),
        # the relist still holds the pre-existing u0 and the delivered u1, plus two missed
        ("list", [event_obj("u3", 13, 3), event_obj("u0", 9, 0), event_obj("u1", 11, 1),
                  event_obj("u2", 12, 2)], 20),
        ("watch", [line("ADDED", event_obj("u4", 21, 4))]),
    ])
    assert numbers(delivered) == [1, 2, 3, 4]
    assert ("watch", "20") in watcher.transport_calls
    assert metrics.relists._value.get() == relists + 1


def test_an_http_410_on_the_watch_request_also_relists(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("raise", api_error(410, '{"kind":"Status","code":410}')),
        ("list", [event_obj("u1", 11, 1)], 20),
        ("watch", []),
    ])
    assert numbers(delivered) == [1]


def test_an_invalid_event_is_logged_counted_and_skipped_without_stopping_the_watch(
    run_watcher, caplog,
):
    invalid = metrics.events_invalid._value.get()
    delivered, _ = run_watcher([
        ("list", [], 10),
        ("watch", [
            line("ADDED", event_obj("u1", 11, payload="{not json")),
            line("ADDED", event_obj("u2", 12, payload='{"v": 99, "messages": [{}]}')),
            line("ADDED", event_obj("u3", 13, 3)),
        ]),
    ])
    assert numbers(delivered) == [3]
    assert metrics.events_invalid._value.get() == invalid + 2
    assert "schema version 99 is not supported" in caplog.text


def test_a_429_waits_for_retry_after_and_a_403_names_the_permission_and_rbac_file(
    run_watcher, clock, caplog,
):
    forbidden = ('{"kind":"Status","code":403,"message":"events is forbidden: User '
                 '\\"system:serviceaccount:bus:pushsvc-api\\" cannot watch resource '
                 '\\"events\\""}')
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("raise", api_error(429, "Too many requests", {"Retry-After": "7"})),
        ("raise", api_error(403, forbidden)),
        ("watch", [line("ADDED", event_obj("u1", 11, 1))]),
    ])
    assert numbers(delivered) == [1]
    assert 7 in clock.sleeps
    assert "ServiceAccount bus/pushsvc-api cannot watch events in namespace 'bus'" in caplog.text
    assert "rbac/api.yaml" in caplog.text


def test_backoff_doubles_from_0_8_s_to_the_cap_and_resets_after_a_healthy_stream(
    run_watcher, clock,
):
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    steps = [("list", [], 10)] + [("raise", refused)] * 7
    run_watcher(steps)
    assert clock.sleeps == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0]


def test_a_healthy_period_resets_the_backoff(run_watcher, clock):
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]

    def healthy_stream():
        clock.now += 120  # two minutes of streaming before the first line
        yield line("BOOKMARK", {"metadata": {"resourceVersion": "11"}})

    steps = [("list", [], 10), ("raise", refused), ("raise", refused),
             ("watch", healthy_stream()), ("raise", refused)]
    run_watcher(steps)
    assert clock.sleeps == [0.8, 1.6, 0.8]


def test_a_silent_half_open_stream_ends_with_the_read_timeout_and_is_reopened(run_watcher):
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")  # type: ignore
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("u1", 11, 1)), timeout]),
        ("watch", [line("ADDED", event_obj("u2", 12, 2))]),
    ])
    assert numbers(delivered) == [1, 2]
    assert metrics.watch_restarts.labels(cause="read_timeout")._value.get() >= 1
    assert watcher.status.resource_version == "12"


def test_readiness_status_is_down_since_the_first_failure_with_its_cause(run_watcher, clock):
    forbidden = api_error(403, '{"message":"User \\"system:serviceaccount:bus:x\\" cannot"}')
    _, watcher = run_watcher([("list", [], 10), ("watch", []), ("raise", forbidden),
                              ("raise", forbidden)])
    assert not watcher.status.up
    assert "cannot watch events" in watcher.status.cause
    assert "rbac/api.yaml" in watcher.status.cause
