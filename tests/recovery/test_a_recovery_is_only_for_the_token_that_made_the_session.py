"""A recovery is for the session's own user, with rooms its token still allows.

The pid is all a client shows to be recovered. Before, a reconnect with alice's pid and
*bob's* token (bob found it in a shared browser, or a script replayed it) was recovered as
alice — her sid, her rooms, what was sent to her while she was away — because recovery
re-checked the token but never compared its ``sub`` with the session's; and alice, whose new
token no longer allows the room ``team``, got ``team`` back anyway. Now both are a clean new
session (never a partial one): the session's owner and the claims decide, not the pid.
Three real pods on the emulated bus; alice's network is cut (the Engine.IO connection closes
without a goodbye), so the session is recoverable in the first place.
"""

from __future__ import annotations

from collections.abc import Callable

from pushsvc.testing.topology import LocalTopology
from tests.deploy.recovery import NodeClient, notify_numbered
from tests.recovery.conftest import ALICE_ROOMS, Observers, texts
from tests.support.tokens import Tokens


def _alice_in_team_and_cut_off(topology: LocalTopology, tokens: Tokens,
                               node_client: Callable[..., NodeClient],
                               observers: Observers) -> tuple[NodeClient, dict[str, object]]:
    tab = node_client(topology.pods[0].url, tokens.mint("alice", rooms=ALICE_ROOMS))
    alice = tab.wait_for("connect")
    tab.send("join team")
    assert tab.wait_for("joined")["ok"]
    observers.recorded(str(alice["pid"]), "in team", lambda r: "team" in r["r"])
    tab.send("drop")
    tab.wait_for("disconnect")
    observers.recorded(str(alice["pid"]), "after the cut", lambda r: r["s"] == "down")
    notify_numbered(topology, "team while away", 2, room="team")
    notify_numbered(topology, "alice's own while away", 2, room="user:alice")
    return tab, alice


def test_alices_pid_with_bobs_token_is_a_new_session_for_bob_on_another_pod(
    topology: LocalTopology, tokens: Tokens, node_client: Callable[..., NodeClient],
    observers: Observers,
) -> None:
    tab, alice = _alice_in_team_and_cut_off(topology, tokens, node_client, observers)
    tab.send(f"token {tokens.mint('bob')}")
    tab.send(f"url {topology.pods[1].url}")
    tab.send("reconnect")
    bob = tab.wait_for("connect")
    assert bob["recovered"] is False
    assert bob["sid"] != alice["sid"] and bob["pid"] != alice["pid"]
    notify_numbered(topology, "team live", 1, room="team")
    mine = notify_numbered(topology, "bob's own", 1, room="user:bob")
    tab.wait_for("msg", data=mine[-1])
    assert texts(tab, "team") == [] and texts(tab, "alice's own") == []

    # alice's session is still hers: with her own token she gets it back, all of it.
    tab.send("disconnect")
    tab.wait_for("disconnect")
    tab.send(f"pid {alice['pid']}")
    tab.send("forget-offset")  # the last one it holds is bob's session's
    tab.send(f"token {tokens.mint('alice', rooms=ALICE_ROOMS)}")
    tab.send(f"url {topology.pods[2].url}")
    tab.send("reconnect")
    back = tab.wait_for("connect")
    assert back["recovered"] is True and back["sid"] == alice["sid"]
    live = notify_numbered(topology, "alice's own back", 1, room="user:alice")
    tab.wait_for("msg", data=live[-1])
    assert texts(tab, "team while away") == ["team while away #1", "team while away #2"]
    assert texts(tab, "alice's own while away") == ["alice's own while away #1",
                                                    "alice's own while away #2"]


def test_a_token_that_no_longer_allows_a_room_of_the_session_gets_a_new_session(
    topology: LocalTopology, tokens: Tokens, node_client: Callable[..., NodeClient],
    observers: Observers,
) -> None:
    tab, alice = _alice_in_team_and_cut_off(topology, tokens, node_client, observers)
    tab.send(f"token {tokens.mint('alice', rooms=['elsewhere'])}")
    tab.send(f"url {topology.pods[1].url}")
    tab.send("reconnect")
    again = tab.wait_for("connect")
    assert again["recovered"] is False and again["sid"] != alice["sid"]
    live = notify_numbered(topology, "alice's own live", 1, room="user:alice")
    tab.wait_for("msg", data=live[-1])  # a session of hers, without the room
    notify_numbered(topology, "team live", 1, room="team")
    tab.send("join team")
    assert tab.wait_for("joined")["ok"] is False
    assert texts(tab, "team") == []
