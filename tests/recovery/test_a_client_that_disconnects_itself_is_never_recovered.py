"""A client's own ``socket.disconnect()`` ends its session for good, on every pod.

socket.io-client 4.x keeps its pid after ``disconnect()``, so the next ``connect()`` of that
Socket asks to recover the old session. On a shared machine that is the next user of the
single-page app: with alice's pid and his own token, bob used to be recovered *as alice* —
her sid, her room ``team`` (which his token does not allow), her messages. Node's socket.io
never keeps a session for that reason; pushsvc now writes the session's end to the bus as a
tombstone, and no pod restores it: not for bob, not even for alice herself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.recovery import NodeClient, notify_numbered
from tests.recovery.conftest import ALICE_ROOMS, Observers, texts
from tests.support.tokens import Tokens


def _alice_in_team_then_gone(topology: LocalTopology, tokens: Tokens,
                             node_client: Callable[..., NodeClient], observers: Observers,
                             transport: str = "websocket",
                             ) -> tuple[NodeClient, dict[str, object]]:
    tab = node_client(topology.pods[0].url, tokens.mint("alice", rooms=ALICE_ROOMS),
                      transport=transport)
    alice = tab.wait_for("connect")
    tab.send("join team")
    assert tab.wait_for("joined")["ok"]
    observers.recorded(str(alice["pid"]), "in team", lambda r: "team" in r["r"])
    tab.send("disconnect")
    assert tab.wait_for("disconnect")["reason"] == "io client disconnect"
    observers.recorded(str(alice["pid"]), "after its disconnect", lambda r: r["s"] != "up")
    return tab, alice


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_after_alice_disconnects_bob_in_the_same_tab_gets_a_session_of_his_own(
    transport: str, topology: LocalTopology, tokens: Tokens,
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    # Over polling the DISCONNECT and the Engine.IO close travel in one request.
    tab, alice = _alice_in_team_then_gone(topology, tokens, node_client, observers, transport)
    notify_numbered(topology, "team while alice was away", 2, room="team")
    notify_numbered(topology, "alice's own while away", 2, room="user:alice")

    tab.send(f"token {tokens.mint('bob')}")
    tab.send(f"url {topology.pods[1].url}")
    tab.send("reconnect")
    bob = tab.wait_for("connect")
    assert bob["recovered"] is False
    assert bob["sid"] != alice["sid"] and bob["pid"] != alice["pid"]

    tab.send("join team")  # his token allows no room
    assert tab.wait_for("joined")["ok"] is False
    notify_numbered(topology, "team live", 1, room="team")
    mine = notify_numbered(topology, "bob's own", 1, room="user:bob")
    tab.wait_for("msg", data=mine[-1])
    assert texts(tab, "team") == [] and texts(tab, "alice's own") == []


def test_a_session_its_client_ended_is_not_recovered_on_any_pod_even_by_its_own_user(
    topology: LocalTopology, tokens: Tokens, node_client: Callable[..., NodeClient],
    observers: Observers,
) -> None:
    tab, alice = _alice_in_team_then_gone(topology, tokens, node_client, observers)
    notify_numbered(topology, "team after the goodbye", 2, room="team")
    for pod in (2, 0):  # another pod, and the one it was on
        tab.send(f"url {topology.pods[pod].url}")
        tab.send("reconnect")
        again = tab.wait_for("connect")
        assert again["recovered"] is False and again["sid"] != alice["sid"]
        tab.send("disconnect")
        tab.wait_for("disconnect")
        tab.send(f"pid {alice['pid']}")  # the old one, not the new session's
    assert texts(tab, "team after the goodbye") == []
