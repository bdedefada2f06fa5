"""Across pods, a client can neither join nor write to another client's session-id room.

Each client is alone in the room named after its sid, on its own pod. The old check
(``is_connected(room)``) only knew this pod's clients: from pod B, ``join`` of a victim's
sid on pod A succeeded (the attacker then got the victim's pushes) and ``my_room_event`` to
it delivered spoofed text to the victim. Sid-shaped names and reserved prefixes are now
refused everywhere a client names a room, before anything is published. Any other room is
anyone's, as in Flask-SocketIO's example app: a client on pod B that never joined a room sends
to it and closes it on pod A.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emitter import Emitter
from tests.support import PushsvcProcess, RecordingClient

Clients = Callable[..., RecordingClient]
Pods = Callable[..., list[PushsvcProcess]]
ROOM_EVENTS = ("join", "leave", "my_room_event", "close_room")
OK = {"ok": True}


def test_a_victims_sid_on_pod_a_is_refused_from_pod_b(
    kube_pods: Pods, clients: Clients, kubeapi: Any
) -> None:
    pod_a, pod_b = kube_pods(2)
    victim = clients(transports=["websocket"]).connect(pod_a.url)
    victim.wait_for_reply("Connected")
    victim_sid = victim.sio.get_sid()
    attacker = clients(transports=["websocket"]).connect(pod_b.url)
    attacker.wait_for_reply("Connected")
    creates_before = kubeapi.stats()["creates"]

    for event in ROOM_EVENTS:
        ack = attacker.call(event, {"room": victim_sid, "data": "spoofed"})
        assert ack["ok"] is False and ack["code"] == "bad_room", (event, ack)
        assert "reserved for session ids" in ack["reason"]
    for event in ROOM_EVENTS:
        for reserved in ("user:alice", "pushsvc:internal"):
            ack = attacker.call(event, {"room": reserved, "data": "spoofed"})
            assert ack["code"] == "bad_room" and "reserved" in ack["reason"], (event, ack)
    # Nothing refused was published.
    assert kubeapi.stats()["creates"] == creates_before

    # A push to the victim's sid still reaches it, and nothing from the attacker did;
    # the attacker, who could not join the victim's sid room, does not get it.
    with Emitter(kubeconfig=str(kubeapi.kubeconfig), bus_namespace="pushsvc") as emitter:
        emitter.notify("nuke_response", {"data": "for the victim"}, to=victim_sid)
        emitter.notify("nuke_response", {"data": "marker"})
    victim.wait_for_reply("for the victim")
    attacker.wait_for_reply("marker")
    assert "spoofed" not in victim.replies()
    assert "for the victim" not in attacker.replies()


def test_a_client_on_pod_b_that_never_joined_sends_to_and_closes_a_room_on_pod_a(
    kube_pods: Pods, clients: Clients, kubeapi: Any
) -> None:
    pod_a, pod_b = kube_pods(2)
    member = clients(transports=["websocket"]).connect(pod_a.url)
    member.call("join", {"room": "finance"})
    member.wait_for_reply("In rooms: finance")
    outsider = clients(transports=["websocket"]).connect(pod_b.url)
    assert outsider.call("my_room_event", {"room": "finance", "data": "from pod b"}) == OK
    member.wait_for_reply("from pod b")
    assert outsider.call("close_room", {"room": "finance"}) == OK
    member.wait_for_reply("Room finance is closing.")

    # The room is empty on both pods now.
    with Emitter(kubeconfig=str(kubeapi.kubeconfig), bus_namespace="pushsvc") as emitter:
        emitter.notify("nuke_response", {"data": "finance push 2"}, to="finance")
        emitter.notify("nuke_response", {"data": "marker"})
    member.wait_for_reply("marker")
    outsider.wait_for_reply("marker")
    assert "finance push 2" not in member.replies() + outsider.replies()
    assert "from pod b" not in outsider.replies()
