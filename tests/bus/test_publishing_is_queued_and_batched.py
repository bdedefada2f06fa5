"""Publishing never holds the emitting handler, keeps order, and packs bursts into one Event."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from emitter import ApiUnavailableError, PayloadTooLargeError
from pushsvc.bus import metrics
from pushsvc.bus.manager import KubernetesManager
from tests.bus.fake_pods import Pod


@pytest.fixture(autouse=True)
def no_background_watch(monkeypatch):
    monkeypatch.setattr(KubernetesManager, "start", lambda self: None)


def numbers(events: list[list[Any]]) -> list[list[int]]:
    return [[m.data[0]["n"] for m in batch] for batch in events]


def test_messages_queued_during_a_create_travel_together_in_order():
    pod = Pod()
    release = threading.Event()
    created: list[list[Any]] = []

    def slow_publish(messages: list[Any], **_: Any) -> str:
        release.wait(5)
        created.append(list(messages))
        return "name"

    pod.manager.publisher.publish = slow_publish  # type: ignore[method-assign]
    for n in range(5):
        pod.manager.emit("seq", {"n": n}, namespace="/", room="everyone")  # returns at once
    release.set()
    assert pod.manager.flush()
    assert numbers(created) == [[0], [1, 2, 3, 4]]


def test_a_burst_too_large_for_one_event_is_split_not_lost():
    pod = Pod()
    created: list[list[Any]] = []

    def limited_publish(messages: list[Any], **_: Any) -> str:
        if len(messages) > 2:
            raise PayloadTooLargeError(300_000, 256_000)
        created.append(list(messages))
        return "name"

    gate = threading.Event()
    first = True

    def gated(messages: list[Any], **_: Any) -> str:
        nonlocal first
        if first:
            first = False
            gate.wait(5)
        return limited_publish(messages)

    pod.manager.publisher.publish = gated  # type: ignore[method-assign]
    for n in range(6):
        pod.manager.emit("seq", {"n": n}, namespace="/", room="everyone")
    gate.set()
    assert pod.manager.flush()
    assert sum(numbers(created), []) == [0, 1, 2, 3, 4, 5]
    assert all(len(batch) <= 2 for batch in created)


def test_a_failed_create_is_counted_and_the_next_messages_still_go_out():
    pod = Pod()
    created: list[list[Any]] = []
    calls = 0

    def flaky_publish(messages: list[Any], **_: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ApiUnavailableError("create event: HTTP 503 after 30 s of retries")
        created.append(list(messages))
        return "name"

    failures = metrics.publish_failures.labels(error="ApiUnavailableError")._value.get()
    pod.manager.publisher.publish = flaky_publish  # type: ignore[method-assign]
    pod.manager.emit("seq", {"n": 0}, namespace="/", room="everyone")
    assert pod.manager.flush()
    pod.manager.emit("seq", {"n": 1}, namespace="/", room="everyone")
    assert pod.manager.flush()
    assert numbers(created) == [[1]]
    assert metrics.publish_failures.labels(error="ApiUnavailableError")._value.get() == (
        failures + 1)


def test_an_unexpected_error_in_a_create_does_not_stop_the_publisher(caplog):
    pod = Pod()
    created: list[list[Any]] = []

    def buggy_publish(messages: list[Any], **_: Any) -> str:
        if messages[0].data[0]["n"] == 0:
            raise TypeError("a bug")
        created.append(list(messages))
        return "name"

    pod.manager.publisher.publish = buggy_publish  # type: ignore[method-assign]
    pod.manager.emit("seq", {"n": 0}, namespace="/", room="everyone")
    assert pod.manager.flush()
    pod.manager.emit("seq", {"n": 1}, namespace="/", room="everyone")
    assert pod.manager.flush()
    assert numbers(created) == [[1]]
    assert "bus publisher failed unexpectedly" in caplog.text
