"""The presence Lease watch over canned API answers: list first (forget, then put every valid
summary), watch from the list's resourceVersion, apply MODIFIED and DELETED, skip a bad
summary (counted), relist at once on an ERROR 410 line, and wait out a 429's Retry-After."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes.client.exceptions import ApiException

from pushsvc.kube import transport
from pushsvc.presence.leases import PRESENCE_LABEL, SUMMARY_ANNOTATION, LeaseWatch
from pushsvc.presence.summary import Summary, build


def _lease(name: str, pod: str, rv: int, *, summary: bytes | None = None) -> dict[str, Any]:
    data = summary if summary is not None else build(
        pod, {"team": {f"{pod}-sid": ("ann", 1)}}, now=1, max_rooms=10, max_members=10,
        max_bytes=10_000)[1]
    return {"metadata": {"name": name, "resourceVersion": str(rv),
                         "labels": {PRESENCE_LABEL: "pushsvc"},
                         "annotations": {SUMMARY_ANNOTATION: data.decode()}},
            "spec": {"leaseDurationSeconds": 15}}


class _Response:
    def __init__(self, body: Any = None, lines: list[dict[str, Any]] | None = None) -> None:
        self.data = orjson.dumps(body) if body is not None else b""
        self._lines = lines or []

    def stream(self, *_args: Any, **_kwargs: Any) -> Any:
        for line in self._lines:
            yield orjson.dumps(line) + b"\n"

    def close(self) -> None:
        pass


def _throttled() -> ApiException:
    exc = ApiException(status=429, reason="Too Many Requests")
    exc.headers = {"Retry-After": "2"}
    return exc


def test_list_watch_relist_and_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    script: list[Any] = [
        _Response({"metadata": {"resourceVersion": "10"}, "items": [
            _lease("l-a", "pod-a", 5), _lease("l-bad", "pod-x", 6, summary=b"{nope")]}),
        _Response(lines=[
            {"type": "MODIFIED", "object": _lease("l-a", "pod-a", 11)},
            {"type": "ADDED", "object": _lease("l-b", "pod-b", 12)},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "13"}}},
            {"type": "DELETED", "object": _lease("l-a", "pod-a", 14)},
            {"type": "ERROR", "object": {"code": 410, "message": "too old"}}]),
        _throttled(),
        _Response({"metadata": {"resourceVersion": "20"}, "items": []}),
    ]
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock: no real waiting
        sleeps.append(seconds)
        now[0] += seconds

    events: list[tuple[str, ...]] = []

    def fake_request(_client: Any, method: str, path: str, **kwargs: Any) -> Any:
        calls.append((method, dict(kwargs.get("query") or [])))
        if not script:
            watch.stop()
            return _Response(lines=[])
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    monkeypatch.setattr(transport, "raw_request", fake_request)

    def put(name: str, summary: Summary, duration: float) -> None:
        events.append(("put", name, summary.pod, str(duration)))

    watch = LeaseWatch(None, namespace="ns", channel="pushsvc",  # type: ignore[arg-type]
                       on_put=put, on_drop=lambda n: events.append(("drop", n)),
                       on_reset=lambda: events.append(("reset",)), sleep=sleep,
                       clock=lambda: now[0])
    watch.run()

    assert events == [("reset",), ("put", "l-a", "pod-a", "15.0"), ("drop", "l-bad"),
                      ("put", "l-a", "pod-a", "15.0"), ("put", "l-b", "pod-b", "15.0"),
                      ("drop", "l-a"), ("reset",)]
    assert [c[1].get("resourceVersion") for c in calls[:2]] == [None, "10"]
    assert calls[0][1]["labelSelector"] == "pushsvc.io/presence=pushsvc"
    assert calls[1][1]["watch"] == "true"
    # after the 410 the list came at once; after the 429, only once 2 s had been slept
    assert calls[2][1].get("watch") is None and sum(sleeps) == 2.0
    assert calls[4][1]["resourceVersion"] == "20"
