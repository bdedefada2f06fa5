"""Across pods, a client can neither join nor write to another client's session-id room.

Each client is alone in the room named after its sid, on its own pod. The old check
(``is_connected(room)``) only knew this pod's clients: from pod B, ``join`` of a victim's
sid on pod A succeeded (the attacker then got the victim's pushes) and ``my_room_event`` to
it delivered spoofed text to the victim. Sid-shaped names and reserved prefixes are now
refused everywhere a client names a room, and a room event needs its sender in the room,
so an unknown room never becomes a bus Event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emitter import Emitter
from tests.support import PushsvcProcess, RecordingClient

Clients = Callable[..., RecordingClient]
Pods = Callable[..., list[PushsvcProcess]]
ROOM_EVENTS = ("join", "leave", "my_room_event", "close_room")


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
        assert ack["ok"] is False and ack["code"] in ("bad_room", "disabled"), (event, ack)
        if ack["code"] == "bad_room":
            assert "reserved for session ids" in ack["reason"]
    for reserved in ("user:alice", "pushsvc:internal"):
        ack = attacker.call("join", {"room": reserved})
        assert ack["code"] == "bad_room" and "reserved" in ack["reason"]
    # close_room is off by default.
    assert attacker.call("close_room", {"room": "anything"})["code"] == "disabled"
    # A room event to a room the sender is not in is refused and publishes nothing.
    ack = attacker.call("my_room_event", {"room": "nobody-here", "data": "spoofed"})
    assert ack["code"] == "not_in_room"
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


def test_only_a_member_closes_a_room_when_close_room_is_on(
    kube_pods: Pods, clients: Clients, kubeapi: Any
) -> None:
    pod_a, pod_b = kube_pods(2, env={"PUSHSVC_ALLOW_CLIENT_CLOSE_ROOM": "true"})
    member = clients(transports=["websocket"]).connect(pod_a.url)
    member.call("join", {"room": "finance"})
    outsider = clients(transports=["websocket"]).connect(pod_b.url)
    ack = outsider.call("close_room", {"room": "finance"})
    assert ack["ok"] is False and ack["code"] == "not_in_room"

    with Emitter(kubeconfig=str(kubeapi.kubeconfig), bus_namespace="pushsvc") as emitter:
        emitter.notify("nuke_response", {"data": "finance push 1"}, to="finance")
        member.wait_for_reply("finance push 1")

        closer = clients(transports=["websocket"]).connect(pod_b.url)
        closer.call("join", {"room": "finance"})
        assert closer.call("close_room", {"room": "finance"}) == {"ok": True}
        member.wait_for_reply("Room finance is closing.")
        closer.wait_for_reply("Room finance is closing.")
        # The room is empty on both pods now.
        emitter.notify("nuke_response", {"data": "finance push 2"}, to="finance")
        emitter.notify("nuke_response", {"data": "marker"})
    member.wait_for_reply("marker")
    closer.wait_for_reply("marker")
    assert "finance push 2" not in member.replies() + closer.replies()
