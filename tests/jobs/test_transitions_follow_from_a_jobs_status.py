"""What a Job's status implies, derived from the status alone (so a new leader derives what
the old one did), and the notifier's rules for one Job: each transition once, a 409 counted
as already sent, nothing older than the retention window pushed on a first sight, a bounded
memory. Pure logic with a fake emitter; the real thing runs in the other tests here."""

from __future__ import annotations

from typing import Any

import pytest

from emitter.errors import ApiUnavailableError
from emitter.wire import AlreadyExistsError, Message
from pushsvc.jobs.notifier import JobNotifier, JobNotifyOptions
from pushsvc.jobs.transitions import TargetError, event_name, rooms, transitions

NOW = 1_800_000_000.0


def stamp(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(uid: str = "u1", created: float = NOW - 10, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "j", "namespace": "ns", "uid": uid,
                         "creationTimestamp": stamp(created),
                         "labels": {"pushsvc.io/notify": "true"},
                         "annotations": {"pushsvc.io/notify-user": "alice@example.com"}},
            "status": status}


def keys(obj: dict[str, Any]) -> list[str]:
    return [t.key for t in transitions(obj)]


def test_the_counters_imply_the_whole_history() -> None:
    start = stamp(NOW - 5)
    assert keys(job()) == ["created-1"]
    assert keys(job(startTime=start, active=1)) == ["created-1", "running-1"]
    assert keys(job(startTime=start, failed=1)) == ["created-1", "running-1", "retrying-1"]
    assert keys(job(startTime=start, failed=2, active=1)) == [
        "created-1", "running-1", "retrying-1", "running-2", "retrying-2", "running-3"]
    complete = [{"type": "Complete", "status": "True"}]
    assert keys(job(startTime=start, failed=1, succeeded=1, conditions=complete)) == [
        "created-1", "running-1", "retrying-1", "running-2", "succeeded-2"]
    # BackoffLimitExceeded: the last failed pod is not retried.
    failed = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    assert keys(job(startTime=start, failed=2, conditions=failed)) == [
        "created-1", "running-1", "retrying-1", "running-2", "failed-2"]
    assert event_name("u1", transitions(job())[0]) == "pushsvc-job-u1-created-1"


@pytest.mark.parametrize(("annotations", "reason"), [
    ({"pushsvc.io/notify-room": "pushsvc:x"}, "reserved"),
    ({"pushsvc.io/notify-room": "user:bob"}, "reserved"),
    ({"pushsvc.io/notify-room": "a" * 20}, "sid_shaped"),
    ({"pushsvc.io/notify-room": "a" * 129}, "too_long"),
    ({"pushsvc.io/notify-room": " "}, "empty"),
    ({"pushsvc.io/notify-user": ""}, "empty"),
    ({"pushsvc.io/notify-user": "u" * 257}, "too_long"),
    ({}, "no_target"),
])
def test_bad_targets_are_refused_with_a_reason(annotations: dict[str, str],
                                               reason: str) -> None:
    obj = job()
    obj["metadata"]["annotations"] = annotations
    with pytest.raises(TargetError) as info:
        rooms(obj)
    assert info.value.reason == reason


class FakeEmitter:
    host_id = "fake"

    def __init__(self, existing: set[str] | None = None) -> None:
        self.names: list[str] = []
        self.existing = existing or set()

    def publish(self, messages: list[Message], *, name: str) -> str:
        if name in self.existing:
            raise AlreadyExistsError("exists", status=409)
        self.existing.add(name)
        self.names.append(name)
        return name


def notifier(emitter: FakeEmitter, *, max_jobs: int = 100) -> JobNotifier:
    return JobNotifier(None, emitter=emitter, namespaces=["ns"],  # type: ignore[arg-type]
                       leading=lambda: True, wall_clock=lambda: NOW,
                       options=JobNotifyOptions(retention_seconds=60, max_jobs=max_jobs))


def test_each_transition_is_pushed_once_and_a_409_counts_as_sent() -> None:
    emitter = FakeEmitter(existing={"pushsvc-job-u1-created-1"})  # an earlier leader's
    n = notifier(emitter)
    running = job(startTime=stamp(NOW - 5), active=1)
    assert n.handle(running, namespace="ns") == [("created-1", "duplicate"),
                                                ("running-1", "pushed")]
    assert n.handle(running, namespace="ns") == []  # a relist: nothing again
    assert emitter.names == ["pushsvc-job-u1-running-1"]


def test_a_first_sight_older_than_the_retention_window_is_not_pushed() -> None:
    emitter = FakeEmitter()
    n = notifier(emitter)
    old = job(created=NOW - 3600, startTime=stamp(NOW - 3500), failed=1, active=1)
    assert [o for _, o in n.handle(old, namespace="ns")] == ["too_old"] * 4
    # Seen now, so what happens next is new: pushed.
    old["status"]["failed"] = 2
    assert n.handle(old, namespace="ns") == [("retrying-2", "pushed"), ("running-3", "pushed")]


def test_the_remembered_jobs_are_bounded() -> None:
    emitter = FakeEmitter()
    n = notifier(emitter, max_jobs=2)
    for uid in ("a", "b", "c"):
        n.handle(job(uid=uid), namespace="ns")
    assert len(n._jobs) == 2 and "a" not in n._jobs
    # Forgotten: seen again, the bus answers 409 for what was pushed.
    assert n.handle(job(uid="a"), namespace="ns") == [("created-1", "duplicate")]


def test_a_failed_push_is_not_marked_sent_and_the_later_ones_wait_for_it() -> None:
    class Failing(FakeEmitter):
        fail = True

        def publish(self, messages: list[Message], *, name: str) -> str:
            if self.fail:
                raise ApiUnavailableError("API down", status=503)
            return super().publish(messages, name=name)

    emitter = Failing()
    n = notifier(emitter)
    running = job(startTime=stamp(NOW - 5), active=1)
    assert n.handle(running, namespace="ns") == [("created-1", "error")]
    emitter.fail = False
    assert n.handle(running, namespace="ns") == [("created-1", "pushed"),
                                                ("running-1", "pushed")]
