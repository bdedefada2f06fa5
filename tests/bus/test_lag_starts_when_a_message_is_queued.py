"""``pushsvc_bus_lag_seconds`` starts when a message joins the outbox, not when its Event is
created, so a backlog in the outbox shows up in the lag the other pods measure."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import emitter.transport
from emitter.client import Emitter
from emitter.codec import decode_event
from emitter.model import EmitMessage
from pushsvc.bus.manager import KubernetesManager
from tests.bus.canned import ScriptedTransport


class _NoApi:
    pass


@pytest.fixture(autouse=True)
def no_background_watch(monkeypatch):
    monkeypatch.setattr(KubernetesManager, "start", lambda self: None)


def test_an_event_carries_the_time_its_oldest_message_was_queued():
    import socketio

    manager = KubernetesManager(api_client=_NoApi(), namespace="bus",  # type: ignore[arg-type]
                                channel="pushsvc", involved_object={"kind": "Pod", "name": "p"},
                                transport=ScriptedTransport([]))
    socketio.Server(client_manager=manager, async_mode="threading")
    gate = threading.Event()
    stamps: list[tuple[float | None, float]] = []

    def publish(messages: list[Any], *, ts: float | None = None) -> str:
        gate.wait(5)
        stamps.append((ts, time.time()))
        return "name"

    manager.publisher.publish = publish  # type: ignore[method-assign]
    manager.emit("seq", {"n": 0}, namespace="/", room="everyone")  # in flight, held
    manager.emit("seq", {"n": 1}, namespace="/", room="everyone")  # waits in the outbox
    queued_by = time.time()
    time.sleep(0.05)
    gate.set()
    assert manager.flush()
    assert [ts is not None and ts <= queued_by for ts, _ in stamps] == [True, True]
    assert all(ts is not None and ts < published for ts, published in stamps)


def test_the_emitter_writes_the_given_time_into_the_envelope(monkeypatch):
    bodies: list[dict[str, Any]] = []

    class Response:
        def drain_conn(self) -> None: ...

        def release_conn(self) -> None: ...

    def fake_request(api_client: Any, method: str, path: str, **kw: Any) -> Response:
        bodies.append(kw["body"])
        return Response()

    monkeypatch.setattr(emitter.transport, "raw_request", fake_request)
    publisher = Emitter(api_client=_NoApi(), bus_namespace="bus",  # type: ignore[arg-type]
                        channel="pushsvc", involved_object={"kind": "Pod", "name": "p"})
    publisher.publish([EmitMessage(event="e", data=[1], host_id="h")], ts=1234.5)
    assert decode_event(bodies[0]).ts == 1234.5
