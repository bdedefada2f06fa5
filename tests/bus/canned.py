"""Canned API behaviour for watcher unit tests: a scripted transport and Event builders."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from kubernetes.client.exceptions import ApiException

from emitter.codec import encode_event
from emitter.model import EmitMessage, Envelope
from pushsvc.bus.watcher import ListPage

NS = "bus"


class EndOfScript(BaseException):
    """The script ran out: ends the watcher's infinite loop in a test."""


def message(n: int, host_id: str = "other-host") -> EmitMessage:
    return EmitMessage(event="seq", data=[{"n": n}], host_id=host_id)


def event_obj(uid: str, rv: int, n: int = 0, *, host_id: str = "other-host",
              payload: str | None = None) -> dict[str, Any]:
    body = encode_event(Envelope(messages=[message(n, host_id)]), namespace=NS,
                        channel="pushsvc", involved_object={"kind": "Pod", "name": "p"})
    body["metadata"].update({"uid": uid, "resourceVersion": str(rv)})
    if payload is not None:
        body["metadata"]["annotations"]["pushsvc.io/payload"] = payload
    return body


def line(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj})


def gone_line() -> bytes:
    return line("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "reason": "Expired", "code": 410,
                          "message": "The resourceVersion for the provided watch is too old."})


def api_error(status: int, body: str = "", headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="error", body=body)
    exc.headers = headers or {}
    return exc


class ScriptedTransport:
    """Each list()/watch() call takes the next step of the script.

    Steps: ("list", items, rv) · ("pages", [items, items, ...], rv) ·
    ("watch", [lines or exceptions]) · ("raise", exception). A list call is recorded as
    ("list", limit) and its pages as ("page", n) when the watcher fetches them.
    """

    def __init__(self, steps: list[tuple[Any, ...]]) -> None:
        self.steps = list(steps)
        self.calls: list[tuple[str, str]] = []

    def _next(self, what: str) -> tuple[Any, ...]:
        if not self.steps:
            raise EndOfScript
        step = self.steps.pop(0)
        if step[0] == "raise":
            raise step[1]
        assert step[0] == what, f"expected a {step[0]} call, got {what}"
        return step

    def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]:
        self.calls.append(("list", str(limit or "")))
        if self.steps and self.steps[0][0] == "pages":
            step = self.steps.pop(0)
            pages = [list(p) for p in step[1]]
        else:
            step = self._next("list")
            pages = [list(step[1])]
        for n, items in enumerate(pages):
            self.calls.append(("page", str(n)))
            yield ListPage(items[:limit] if limit else items, str(step[2]))

    @contextlib.contextmanager
    def watch(self, resource_version: str) -> Iterator[Iterator[bytes]]:
        self.calls.append(("watch", resource_version))
        step = self._next("watch")

        def lines() -> Iterator[bytes]:
            for item in step[1]:
                if isinstance(item, BaseException):
                    raise item
                yield item

        yield lines()


class FakeClock:
    """Monotonic time that only moves when the watcher sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
