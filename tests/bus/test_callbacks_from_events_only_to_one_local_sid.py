"""An Event is untrusted: an ``emit`` in it that asks for a ``callback`` used to make every pod
keep one ack callback per recipient until that client disconnected (100 Events x 50 emits x
100 clients: +120 MiB, never freed). A pod now honours such a request only for an emit to
exactly one client connected to it; otherwise the emit is delivered without it, counted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import socketio

from emitter.codec import CHANNEL_LABEL, PAYLOAD_ANNOTATION, REASON, encode_event
from emitter.model import EmitMessage, Envelope
from pushsvc.bus import metrics
from pushsvc.bus.manager import KubernetesManager
from tests.bus.canned import EndOfScript, ScriptedTransport, line
from tests.support.sio_client import wait_until


class _NoApi:
    pass


def local_pod(steps: list) -> tuple[KubernetesManager, list]:
    manager = KubernetesManager(api_client=_NoApi(), namespace="bus",  # type: ignore[arg-type]
                                channel="pushsvc", involved_object={"kind": "Pod", "name": "p"},
                                transport=ScriptedTransport(steps))
    sent: list = []
    server = socketio.Server(client_manager=manager, async_mode="threading")
    server._send_packet = lambda eio, pkt: sent.append((eio, pkt))  # type: ignore[method-assign]
    server._send_eio_packet = lambda eio, pkt: sent.append((eio, pkt))  # type: ignore
    return manager, sent


def event_with(*messages: EmitMessage, uid: str, rv: int) -> dict[str, Any]:
    body = encode_event(Envelope(messages=list(messages)), namespace="bus", channel="pushsvc",
                        involved_object={"kind": "Pod", "name": "attacker"})
    body["metadata"].update(uid=uid, resourceVersion=str(rv))
    return body


def apply_all(manager: KubernetesManager) -> None:
    with pytest.raises(EndOfScript):
        for message in manager._listen():
            manager._handle_emit(message)


@pytest.fixture(autouse=True)
def no_background_watch(monkeypatch):
    monkeypatch.setattr(KubernetesManager, "start", lambda self: None)


def test_callbacks_for_a_room_are_dropped_and_no_ack_callback_is_kept(monkeypatch):
    emits = [EmitMessage(event="seq", data=[n], room="many", callback=("many", "/", n),
                         host_id="attacker") for n in range(50)]
    manager, sent = local_pod([("list", [], 10),
                               ("watch", [line("ADDED", event_with(*emits, uid="e", rv=11))])])
    sids = [manager.connect(f"eio{k}", "/") for k in range(10)]
    for sid in sids:
        manager.enter_room(sid, "/", "many")
    refused = metrics.callbacks_refused._value.get()
    apply_all(manager)
    assert len(sent) == 500  # every client got every emit
    assert all(getattr(packet, "id", None) is None for _, packet in sent)  # no ack ids
    assert not any(len(v) > 1 for v in manager.callbacks.values())
    assert metrics.callbacks_refused._value.get() == refused + 50


def test_a_callback_for_one_sid_connected_here_is_kept(monkeypatch):
    manager, sent = local_pod([])
    sid = manager.connect("eio-one", "/")
    emit = EmitMessage(event="question", data=["?"], room=sid, callback=(sid, "/", 7),
                       host_id="other-pod")
    manager.watcher.transport.steps = [  # type: ignore[attr-defined]
        ("list", [], 10), ("watch", [line("ADDED", event_with(emit, uid="q", rv=11))])]
    apply_all(manager)
    [(_, packet)] = sent
    assert packet.id is not None and sid in manager.callbacks


def test_pods_refuse_the_callback_an_event_asks_for_and_still_deliver_the_emit(cluster):
    cluster.wait_all_watching()
    clients = [cluster.connect(0, rooms=("cb-room",)) for _ in range(3)]
    before = sum(cluster.metric(k, "pushsvc_bus_callbacks_refused_total") for k in range(3))
    payload = Envelope(messages=[EmitMessage(
        event="seq", data=[{"tag": "cb", "n": 0}], room="cb-room",
        callback=("cb-room", "/", 1), host_id="attacker")]).model_dump_json()
    status = cluster.post_event({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"cb-{uuid.uuid4().hex[:8]}", "labels": {CHANNEL_LABEL: "pushsvc"},
                     "annotations": {PAYLOAD_ANNOTATION: payload}},
        "involvedObject": {"kind": "Pod", "name": "attacker", "namespace": cluster.namespace},
        "reason": REASON, "message": "callback", "type": "Normal"})
    assert status == 201
    for client in clients:
        client.wait_for("seq", predicate=lambda p: isinstance(p, dict) and p.get("tag") == "cb")
    wait_until(lambda: sum(cluster.metric(k, "pushsvc_bus_callbacks_refused_total")
                           for k in range(3)) == before + 3,
               what="every pod to refuse the callback once")
    cluster.close_clients()
