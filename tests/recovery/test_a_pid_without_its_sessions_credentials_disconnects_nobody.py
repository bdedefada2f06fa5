"""A reconnect with somebody's pid but not their credentials takes nothing from them.

Recovering a session that still looks connected on the same pod first drops that stale
connection (socket.io #4880). Before, the pod did so before it knew whether the reconnect
would be accepted: bob with alice's pid and his own token, on alice's pod, disconnected her
live connection and took her session; with ``PUSHSVC_AUTH_TOKEN``, a reconnect with her pid
and a wrong token was refused — after it had disconnected her. Now the reconnect's
credentials are checked first: bob gets a session of his own, the wrong token a refusal, and
alice stays connected. Real pods on the emulated bus, alice on Node socket.io-client 4.x, the
intruder in raw frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pushsvc.testing.topology import LocalTopology
from tests.deploy.conftest import TEST_POD_ENV
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.recovery.conftest import ALICE_ROOMS, Observers
from tests.support.raw_engineio import HandshakeRefused, RawWebSocket
from tests.support.tokens import Tokens

SHARED_TOKEN = "recovery-shared-token-0123456789"


@pytest.fixture(scope="module")
def token_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    env = {**TEST_POD_ENV, **RECOVERY_ENV, "PUSHSVC_AUTH_TOKEN": SHARED_TOKEN}
    with LocalTopology(tmp_path_factory.mktemp("recovery-token"), bus="kubernetes", pods=1,
                       haproxy=False, pod_env=env) as topology:
        yield topology


def test_bob_with_alices_pid_on_her_pod_gets_his_own_session_and_she_stays(
    topology: LocalTopology, tokens: Tokens, node_client: Callable[..., NodeClient],
    observers: Observers,
) -> None:
    tab = node_client(topology.pods[0].url, tokens.mint("alice", rooms=ALICE_ROOMS))
    alice = tab.wait_for("connect")
    observers.recorded(str(alice["pid"]), "at connect", lambda r: r["s"] == "up")

    with RawWebSocket(topology.pods[0].url) as bob:
        answer = bob.sio_connect(auth={"token": tokens.mint("bob"), "pid": alice["pid"]})
        assert answer["pid"] != alice["pid"] and answer["sid"] != alice["sid"]
        live = notify_numbered(topology, "alice's own", 1, room="user:alice")
        tab.wait_for("msg", data=live[-1])
    assert [line for line in tab.lines if line["t"] == "disconnect"] == []


def test_a_wrong_shared_token_with_her_pid_is_refused_and_she_stays(
    token_topology: LocalTopology, node_client: Callable[..., NodeClient],
) -> None:
    url = token_topology.pods[0].url
    tab = node_client(url, SHARED_TOKEN)
    alice = tab.wait_for("connect")
    # The pod knows its own session once it has published it: a first raw reconnect with the
    # right token would take it over, so wait on the bus for the record instead.
    observers = Observers(token_topology, SHARED_TOKEN)
    try:
        observers.recorded(str(alice["pid"]), "at connect", lambda r: r["s"] == "up")
    finally:
        observers.close()
    with RawWebSocket(url) as intruder, pytest.raises(HandshakeRefused) as refused:
        intruder.sio_connect(auth={"token": "wrong-token", "pid": alice["pid"]})
    assert "unauthorized" in refused.value.body
    live = notify_numbered(token_topology, "everyone", 1)
    tab.wait_for("msg", data=live[-1])
    assert [line for line in tab.lines if line["t"] == "disconnect"] == []
