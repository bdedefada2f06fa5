"""A client cut off and recovered on another pod gets everything sent to it while it was
away, whatever the target: its sid, its user, a room it joined, everyone.

Before, the user room (``user:alice``, joined by the connect handler) was missing from the
session's snapshot — the snapshot did not exist yet when the connect handler joined it — so a
recovery replayed the room and broadcast messages and silently dropped the
``emitter.notify(..., user="alice")`` ones: a partial recovery, which the docs rule out.
Real pods on the emulated Kubernetes bus, Node socket.io-client 4.x, numbered notifications
from ``pushsvc-notify``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.recovery import NodeClient, notify_numbered
from tests.recovery.conftest import ALICE_ROOMS, Observers, texts
from tests.support.tokens import Tokens

KINDS = ["sid", "user", "room", "broadcast"]


def _target(kind: str, sid: str) -> str | None:
    return {"sid": sid, "user": "user:alice", "room": "team", "broadcast": None}[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_what_was_sent_to_it_while_it_was_away_is_replayed_on_another_pod(
    kind: str, topology: LocalTopology, tokens: Tokens,
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    tab = node_client(topology.pods[0].url, tokens.mint("alice", rooms=ALICE_ROOMS))
    alice = tab.wait_for("connect")
    sid = str(alice["sid"])
    tab.send("join team")
    assert tab.wait_for("joined")["ok"]
    observers.recorded(str(alice["pid"]), "in team", lambda r: "team" in r["r"])
    tab.send("drop")  # the network is cut: no goodbye
    tab.wait_for("disconnect")
    observers.recorded(str(alice["pid"]), "after the cut", lambda r: r["s"] == "down")

    missed = notify_numbered(topology, f"{kind} while away", 5, room=_target(kind, sid))
    tab.send(f"url {topology.pods[1].url}")
    tab.send("reconnect")
    again = tab.wait_for("connect")
    assert again["recovered"] is True and again["sid"] == sid
    live = notify_numbered(topology, f"{kind} live", 2, room=_target(kind, sid))
    tab.wait_for("msg", data=live[-1])  # and it is back in that target for live ones
    assert texts(tab, f"{kind} while away") == missed
    assert texts(tab, f"{kind} live") == live
