"""``pushsvc.testing.RecordingTransport``: an Emitter on it behaves as against a cluster (the
codec's limits, batching, the API server's 422 and 409 on a create) and what it holds reads
back as it was called; it holds at most ``max_events`` Events and ``max_bytes``, and says so."""

from __future__ import annotations

import pytest

import emitter
from emitter import (
    AlreadyExistsError,
    ApiError,
    BatchError,
    MessageError,
    PayloadTooLargeError,
    PushError,
)
from emitter.model import CloseRoomMessage, DisconnectMessage, EmitMessage, emit_message
from pushsvc.testing import Notification, RecordingFullError, RecordingTransport


def test_notifications_read_back_as_they_were_called():
    recorder = RecordingTransport()
    em = recorder.emitter()
    em.notify("report_ready", {"id": 42}, to="finance")
    em.notify("two_args", (1, "two"), to=["a", "b"], namespace="/chat", skip_sid="s1")
    em.notify("blob", {"png": b"\x89PNG"}, user="alice")
    em.notify("bare")
    assert recorder.notifications() == [
        Notification("report_ready", {"id": 42}, to="finance"),
        Notification("two_args", (1, "two"), to=["a", "b"], namespace="/chat", skip_sid="s1"),
        Notification("blob", {"png": b"\x89PNG"}, to="user:alice"),
        Notification("bare"),
    ]
    [first, *_] = recorder.messages()
    assert isinstance(first, EmitMessage) and first.data == [{"id": 42}]
    assert [e["metadata"]["namespace"] for e in recorder.events()] == ["pushsvc"] * 4


def test_close_room_and_disconnect_are_messages_not_notifications():
    recorder = RecordingTransport()
    em = recorder.emitter(bus_namespace="bus")
    em.close_room("job-7")
    em.disconnect("sid-1", namespace="/chat")
    assert recorder.notifications() == []
    close, disconnect = recorder.messages()
    assert isinstance(close, CloseRoomMessage) and close.room == "job-7"
    assert isinstance(disconnect, DisconnectMessage) and disconnect.namespace == "/chat"


def test_the_codec_limits_and_batching_are_the_real_ones():
    recorder = RecordingTransport()
    em = recorder.emitter()
    with pytest.raises(PayloadTooLargeError):
        em.notify("big", "x" * 300_000)
    with pytest.raises(MessageError):
        em.notify("", 1)
    assert len(recorder) == 0
    with em.batch():
        for n in range(120):
            em.notify("row", {"n": n})
    assert [len(emitter.decode_event(e).messages) for e in recorder.events()] == [50, 50, 20]
    assert [n.data for n in recorder.notifications()] == [{"n": n} for n in range(120)]


def test_a_create_is_checked_as_the_api_server_checks_it():
    recorder = RecordingTransport()
    em = recorder.emitter()
    message = emit_message("e", 1, host_id="h")
    with pytest.raises(ApiError, match=r"HTTP 422 .*metadata.name: Invalid value") as info:
        em.publish([message], name="Not_A_DNS_Name")
    assert info.value.status == 422
    em.publish([message], name="pushsvc-e-1")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        em.publish([message], name="pushsvc-e-1")
    assert len(recorder) == 1


def test_past_max_events_a_create_is_refused_and_counted():
    recorder = RecordingTransport(max_events=2)
    em = recorder.emitter()
    em.notify("a")
    em.notify("b")
    with pytest.raises(RecordingFullError, match=r"holds 2 Events \(max_events 2\)"):
        em.notify("c")
    assert (len(recorder), recorder.refused) == (2, 1)
    with pytest.raises(BatchError) as info, em.batch():
        em.notify("d")
    assert isinstance(info.value.__cause__, RecordingFullError)
    assert isinstance(info.value.__cause__, PushError)
    recorder.clear()
    em.notify("e")
    assert [n.event for n in recorder.notifications()] == ["e"]
    assert recorder.refused == 2


def test_past_max_bytes_a_create_is_refused():
    recorder = RecordingTransport(max_bytes=4000)
    em = recorder.emitter()
    em.notify("small", "x")
    with pytest.raises(RecordingFullError, match="max_bytes 4,000"):
        em.notify("large", "x" * 5000)
    assert [n.event for n in recorder.notifications()] == ["small"]


def test_use_as_notifier_points_the_module_level_notify_at_it(monkeypatch):
    recorder = RecordingTransport()
    monkeypatch.setenv("KUBECONFIG", "/nowhere")  # never read
    recorder.use_as_notifier(monkeypatch)
    emitter.notify("ping", {"n": 1}, to="room")
    assert recorder.notifications() == [Notification("ping", {"n": 1}, to="room")]
