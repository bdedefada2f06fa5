"""One bad Event — invalid, oversized, nested 20,000 levels, or provoking any exception — is
skipped, counted and logged, and never stops, restarts or relists the watcher (canned streams).
"""

from __future__ import annotations

import json

import pytest

from emitter.codec import decode_payload
from emitter.errors import PayloadRefusedError
from pushsvc.bus import metrics
from pushsvc.bus.watcher import EventWatcher
from tests.bus.canned import event_obj, gone_line, line

NESTED = '{"v": 1, "messages": [' + "[" * 20_000 + "]" * 20_000 + "]}"


def numbers(delivered: list) -> list[int]:
    return [d.envelope.messages[0].data[0]["n"] for d in delivered]


def restarts() -> float:
    return sum(s.value for m in metrics.watch_restarts.collect() for s in m.samples
               if s.name.endswith("_total"))


def test_a_payload_nested_20000_levels_is_refused_before_any_parser_sees_it():
    with pytest.raises(RecursionError):
        json.loads(NESTED)  # what the reader used to do with it
    with pytest.raises(PayloadRefusedError) as info:
        decode_payload(NESTED)
    assert info.value.reason == "too_deep"


def test_a_nested_payload_in_the_watch_is_skipped_and_the_next_events_still_arrive(
    run_watcher, caplog,
):
    skipped = metrics.events_skipped.labels(reason="too_deep")._value.get()
    before = restarts()
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("u1", 11, 1)),
                   line("ADDED", event_obj("poison", 12, payload=NESTED)),
                   *[line("ADDED", event_obj(f"u{n}", 11 + n, n)) for n in range(2, 7)]]),
    ])
    assert numbers(delivered) == [1, 2, 3, 4, 5, 6]
    assert metrics.events_skipped.labels(reason="too_deep")._value.get() == skipped + 1
    # one stream, ended by the script (the second watch call ends the test): the Event
    # caused no restart and no relist
    assert [c[0] for c in watcher.transport_calls] == ["list", "page", "watch", "watch"]
    assert restarts() == before + 1
    assert "bus skipped Event" in caplog.text and "too_deep" in caplog.text
    assert "[[[" not in caplog.text


def test_an_oversized_payload_is_refused_without_parsing(run_watcher):
    skipped = metrics.events_skipped.labels(reason="too_large")._value.get()
    big = '{"v": 1, "messages": [], "pad": "' + "x" * 300_000 + '"}'
    delivered, _ = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("big", 11, payload=big)),
                   line("ADDED", event_obj("u2", 12, 2))]),
    ])
    assert numbers(delivered) == [2]
    assert metrics.events_skipped.labels(reason="too_large")._value.get() == skipped + 1


def test_any_exception_while_decoding_one_event_skips_only_that_event(
    run_watcher, monkeypatch,
):
    import pushsvc.bus.watcher as watcher_module

    real = watcher_module.decode_event

    def explosive(obj):
        if obj["metadata"]["uid"] == "boom":
            raise RecursionError("maximum recursion depth exceeded")
        return real(obj)

    monkeypatch.setattr(watcher_module, "decode_event", explosive)
    skipped = metrics.events_skipped.labels(reason="error")._value.get()
    delivered, _ = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("boom", 11, 1)),
                   line("ADDED", event_obj("u2", 12, 2))]),
    ])
    assert numbers(delivered) == [2]
    assert metrics.events_skipped.labels(reason="error")._value.get() == skipped + 1


def test_a_poison_event_inside_a_relist_does_not_lose_the_events_after_it(run_watcher):
    poison = event_obj("poison", 12, payload=NESTED)
    after = [event_obj(f"u{n}", 12 + n, n) for n in range(1, 6)]
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [gone_line()]),
        ("list", [poison, *after], 20),
        ("watch", [line("ADDED", event_obj("u6", 21, 6))]),
    ])
    assert numbers(delivered) == [1, 2, 3, 4, 5, 6]
    assert ("watch", "20") in watcher.transport_calls


def test_a_relist_is_handled_page_by_page_and_delivers_each_page_before_the_next(
    run_watcher,
):
    pages = [[event_obj("u2", 12, 2), event_obj("u1", 11, 1)], [event_obj("u3", 13, 3)]]
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [gone_line()]),
        ("pages", pages, 20),
        ("watch", []),
    ])
    assert numbers(delivered) == [1, 2, 3]  # oldest first within a page
    assert ("page", "1") in watcher.transport_calls


def test_the_first_list_asks_for_one_item_and_replays_nothing(run_watcher):
    delivered, watcher = run_watcher([
        ("list", [event_obj(f"old{n}", n, n) for n in range(1, 500)], 600),
        ("watch", [line("ADDED", event_obj("new", 601, 1))]),
    ])
    assert numbers(delivered) == [1]
    assert watcher.transport_calls[0] == ("list", "1")


def test_an_unexpected_error_in_the_loop_backs_off_and_relists(run_watcher, clock, monkeypatch):
    calls = 0
    real = EventWatcher._handle_line

    def buggy(self, raw):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug")
        return real(self, raw)

    monkeypatch.setattr(EventWatcher, "_handle_line", buggy)
    delivered, watcher = run_watcher([
        ("list", [], 10),
        ("watch", [line("ADDED", event_obj("u1", 11, 1))]),
        ("list", [event_obj("u1", 11, 1)], 11),
        ("watch", [line("ADDED", event_obj("u2", 12, 2))]),
    ])
    assert numbers(delivered) == [1, 2]
    assert clock.sleeps and clock.sleeps[0] >= 0.8  # backed off, not a hot loop
    assert metrics.watch_restarts.labels(cause="unexpected")._value.get() >= 1


def test_the_annotation_of_a_skipped_event_is_never_logged(run_watcher, caplog):
    secret = '{"v": 1, "messages": [{"method": "emit", "token": "s3cret"}]}'
    run_watcher([("list", [], 10),
                 ("watch", [line("ADDED", event_obj("bad", 11, payload=secret))])])
    assert "bus skipped Event" in caplog.text
    assert "s3cret" not in caplog.text
