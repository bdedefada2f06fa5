"""KubernetesManager routing with real python-socketio servers and a canned bus in between:
local sids stay local, own messages are not re-applied, callbacks find their pod."""

from __future__ import annotations

from typing import Any

import pytest

from emitter.codec import decode_event, encode_event
from emitter.model import Envelope
from pushsvc.bus import metrics
from pushsvc.bus.manager import KubernetesManager
from pushsvc.bus.outbox import adapter
from tests.bus.canned import EndOfScript, line
from tests.bus.fake_pods import Pod


@pytest.fixture(autouse=True)
def no_background_watch(monkeypatch):
    monkeypatch.setattr(KubernetesManager, "start", lambda self: None)


def as_messages(body: dict) -> list[dict[str, Any]]:
    return [m.model_dump() for m in decode_event(body).messages]


def test_an_emit_to_a_local_sid_is_sent_locally_and_creates_no_event():
    pod = Pod()
    sid = pod.client("e1")
    before = metrics.local_only._value.get()
    pod.server.emit("reply", {"data": 1}, to=sid)
    assert pod.published == []
    assert [eio for eio, _ in pod.sent] == ["e1"]
    assert metrics.local_only._value.get() == before + 1


def test_room_broadcast_and_remote_sid_emits_become_events_and_are_applied_locally_once():
    pod = Pod()
    pod.client("e1", "r")
    pod.server.emit("ev", 1, to="r")
    pod.server.emit("ev", 2)
    pod.server.emit("ev", 3, to="sid-on-another-pod")
    assert [m["room"] for b in pod.published for m in as_messages(b)] == [
        "r", None, "sid-on-another-pod"]
    assert [eio for eio, _ in pod.sent] == ["e1", "e1"]


def test_own_messages_coming_back_through_the_watch_are_skipped():
    pod = Pod()
    pod.client("e1", "r")
    pod.server.emit("ev", 1, to="r")
    own = pod.published[0]
    own["metadata"].update(uid="u1", resourceVersion="11")
    other = encode_event(Envelope(messages=[adapter().validate_python(
        {**as_messages(own)[0], "host_id": "another-pod"})]), namespace="bus",
        channel="pushsvc", involved_object={"kind": "Pod", "name": "q"})
    other["metadata"].update(uid="u2", resourceVersion="12")
    pod.transport.steps = [("list", [], 10),
                           ("watch", [line("ADDED", own), line("ADDED", other)])]
    yielded = []
    with pytest.raises(EndOfScript):
        for msg in pod.manager._listen():
            yielded.append(msg)
    assert [m["host_id"] for m in yielded] == ["another-pod"]


def test_a_callback_travels_back_to_the_pod_that_emitted():
    pod_a, pod_b = Pod(), Pod()
    sid_b = pod_b.client("eb", "r")
    answers: list[Any] = []
    pod_a.manager.emit("question", "?", namespace="/", room="r",
                       callback=lambda *args: answers.append(args))
    [message] = as_messages(pod_a.published[0])
    assert message["callback"] == ("r", "/", 1)
    # pod B applies the emit; its client acknowledges with "yes"
    pod_b.manager._handle_emit(message)
    [(eio, packet)] = pod_b.sent
    assert eio == "eb" and packet.id is not None
    pod_b.manager.trigger_callback(sid_b, packet.id, ["yes"])
    [callback] = as_messages(pod_b.published[0])
    assert callback["method"] == "callback" and callback["host_id"] == pod_a.manager.host_id
    # pod A receives the callback Event; pod B ignores it
    body = pod_b.published[0]
    body["metadata"].update(uid="cb1", resourceVersion="21")
    for pod, expected in ((pod_a, 1), (pod_b, 0)):
        pod.transport.steps = [("list", [], 20), ("watch", [line("ADDED", body)])]
        got = []
        try:
            for msg in pod.manager._listen():
                got.append(msg)
        except EndOfScript:
            pass
        assert len(got) == expected
        for msg in got:
            pod.manager._handle_callback(msg)
    assert answers == [("yes",)]


def test_enter_leave_and_disconnect_of_a_remote_sid_are_published():
    pod = Pod()
    pod.manager.enter_room("remote-sid", "/", "r")
    pod.manager.leave_room("remote-sid", "/", "r")
    pod.server.disconnect("remote-sid")
    pod.server.close_room("r")
    methods = [m["method"] for b in pod.published for m in as_messages(b)]
    assert methods == ["enter_room", "leave_room", "disconnect", "close_room"]
