"""A session made under one auth mode is not recovered under another.

During a rolling change of ``PUSHSVC_AUTH_MODE`` (turning on JWTs, say) pods of both modes
share the bus and read each other's session snapshots. Before, a pid was enough to cross:
an anonymous session from a ``none`` pod, in a room anyone may join there, was recovered on a
``jwt`` pod for bob, whose token allows no room; and alice's ``jwt`` session was recovered on
the ``none`` pod without any token, her room and messages with it. Now each is a new session.
A fourth real pod in ``none`` mode beside the three ``jwt`` pods, one emulated bus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pushsvc.testing.procs import PushsvcProcess, http_get, start_pushsvc, wait_until
from pushsvc.testing.topology import BUS_NAMESPACE, LocalTopology
from tests.deploy.conftest import TEST_POD_ENV
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.recovery.conftest import ALICE_ROOMS, Observers, texts
from tests.support.tokens import Tokens


@pytest.fixture(scope="module")
def open_pod(topology: LocalTopology) -> Iterator[PushsvcProcess]:
    """A pod of the same bus with ``PUSHSVC_AUTH_MODE=none``."""
    assert topology.api_kubeconfig is not None
    env = {**TEST_POD_ENV, **RECOVERY_ENV, "PUSHSVC_AUTH_MODE": "none",
           "PUSHSVC_BUS": "kubernetes", "PUSHSVC_KUBECONFIG": str(topology.api_kubeconfig),
           "PUSHSVC_BUS_NAMESPACE": BUS_NAMESPACE, "PUSHSVC_POD_NAMESPACE": BUS_NAMESPACE,
           "PUSHSVC_POD_NAME": "pushsvc-open"}
    pod = start_pushsvc(env=env, log_dir=topology.workdir / "logs", cwd=topology.workdir)
    try:
        wait_until(lambda: '"watch_up":true' in (http_get(f"{pod.url}/internal/health")
                                                  or (0, ""))[1].replace(" ", ""),
                   timeout=30, what="the open pod's bus watch")
        yield pod
    finally:
        pod.stop()


def test_an_anonymous_session_is_not_recovered_for_a_token_on_a_jwt_pod(
    topology: LocalTopology, open_pod: PushsvcProcess, tokens: Tokens,
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    observers.watch(open_pod.url)
    tab = node_client(open_pod.url, "")
    anonymous = tab.wait_for("connect")
    tab.send("join team")  # anyone may, in mode none
    assert tab.wait_for("joined")["ok"]
    observers.recorded(str(anonymous["pid"]), "in team", lambda r: "team" in r["r"])
    tab.send("drop")
    tab.wait_for("disconnect")
    observers.recorded(str(anonymous["pid"]), "after the cut", lambda r: r["s"] == "down")
    notify_numbered(topology, "team while away", 2, room="team")

    tab.send(f"token {tokens.mint('bob')}")
    tab.send(f"url {topology.pods[1].url}")
    tab.send("reconnect")
    bob = tab.wait_for("connect")
    assert bob["recovered"] is False and bob["sid"] != anonymous["sid"]
    mine = notify_numbered(topology, "bob's own", 1, room="user:bob")
    notify_numbered(topology, "team live", 1, room="team")
    tab.wait_for("msg", data=mine[-1])
    assert texts(tab, "team") == []


def test_a_jwt_session_is_not_recovered_without_its_token_on_an_open_pod(
    topology: LocalTopology, open_pod: PushsvcProcess, tokens: Tokens,
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    observers.watch(open_pod.url)
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

    tab.send("token ")  # no token at all
    tab.send(f"url {open_pod.url}")
    tab.send("reconnect")
    other = tab.wait_for("connect")
    assert other["recovered"] is False and other["sid"] != alice["sid"]
    live = notify_numbered(topology, "everyone", 1)
    tab.wait_for("msg", data=live[-1])
    assert texts(tab, "team") == [] and texts(tab, "alice's own") == []
