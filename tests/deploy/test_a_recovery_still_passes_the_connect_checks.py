"""Recovery on another pod still runs the connect checks: with the session's pid but a wrong
auth token the client is refused (and the session stays recoverable); with the token it gets
its session back there, with what it missed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from pushsvc.testing.procs import wait_until
from pushsvc.testing.topology import LocalTopology
from tests.deploy.conftest import TEST_POD_ENV
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.support.probes import metric

NODE = shutil.which("node") or "node"
TOKEN = "recovery-connect-check-token"


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    env = {**TEST_POD_ENV, **RECOVERY_ENV, "PUSHSVC_AUTH_TOKEN": TOKEN}
    with LocalTopology(tmp_path_factory.mktemp("recovery-auth"), bus="kubernetes", pods=2,
                       haproxy=False, pod_env=env) as topology:
        yield topology


def _connected_with_the_token(topology: LocalTopology) -> tuple[NodeClient, dict[str, Any]]:
    client = NodeClient(NODE, topology.pods[0].url, transport="websocket", manual=True)
    try:
        client.send(f"token {TOKEN}")
        client.send("reconnect")
        return client, client.wait_for("connect")
    except BaseException:
        client.close()
        raise


def test_a_recovery_with_a_wrong_token_is_refused_and_with_the_token_recovers(
    topology: LocalTopology,
) -> None:
    client, first = _connected_with_the_token(topology)
    try:
        client.send("drop")
        client.wait_for("disconnect")
        missed = notify_numbered(topology, "checked", 10)

        client.send(f"url {topology.pods[1].url}")
        client.send("token wrong-token")
        client.send("reconnect")
        assert client.wait_for("connect_error")["message"] == "unauthorized"

        client.send(f"token {TOKEN}")
        client.send("reconnect")
        again = client.wait_for("connect")
        client.drain(quiet=0.5)
        assert again["recovered"] is True and again["sid"] == first["sid"]
        assert [m["data"] for m in client.messages("checked")] == missed
    finally:
        client.close()


def test_a_session_recovered_on_another_pod_is_dropped_where_it_was_and_recovers_again(
    topology: LocalTopology,
) -> None:
    # The old connection still looks alive to its pod (a cut it has not noticed): the
    # recovery elsewhere takes the session over, and the old pod ends its stale copy without
    # spending the session (socket.io #4880).
    old = NodeClient(NODE, topology.pods[0].url, transport="websocket", manual=True)
    new = NodeClient(NODE, topology.pods[1].url, transport="websocket", manual=True)
    known = metric(topology.pods[1].url, "pushsvc_recovery_sessions")
    try:
        old.send(f"token {TOKEN}")
        old.send("reconnect")
        first = old.wait_for("connect")
        # A reconnect that arrives before the snapshot gets a new session by design
        # (redis-streams-adapter #26): take over once the other pod has it.
        wait_until(lambda: metric(topology.pods[1].url, "pushsvc_recovery_sessions") > known,
                   timeout=20)
        new.send(f"token {TOKEN}")
        new.send(f"pid {first['pid']}")
        new.send("reconnect")
        taken = new.wait_for("connect")
        assert taken["recovered"] is True and taken["sid"] == first["sid"]
        assert old.wait_for("disconnect")["reason"] == "io server disconnect"

        texts = notify_numbered(topology, "after takeover", 3)
        new.wait_for("msg", data=texts[-1])
        new.send("drop")
        new.wait_for("disconnect")
        new.send(f"url {topology.pods[0].url}")
        new.send("reconnect")
        again = new.wait_for("connect")
        assert again["recovered"] is True and again["sid"] == first["sid"]
        old.drain(quiet=0.3)
        assert old.messages("after takeover") == []
    finally:
        old.close()
        new.close()


def test_a_recovered_client_gets_only_its_rooms_messages_and_is_back_in_its_rooms(
    topology: LocalTopology,
) -> None:
    client, first = _connected_with_the_token(topology)
    try:
        client.send("join team")
        assert client.wait_for("joined")["ok"]
        client.send("drop")
        client.wait_for("disconnect")
        mine = notify_numbered(topology, "team only", 5, room="team")
        notify_numbered(topology, "other room", 5, room="other")

        client.send(f"url {topology.pods[1].url}")
        client.send("reconnect")
        again = client.wait_for("connect")
        assert again["recovered"] is True and again["sid"] == first["sid"]
        live = notify_numbered(topology, "team live", 2, room="team")  # rooms restored there
        client.wait_for("msg", data=live[-1])
        assert [m["data"] for m in client.messages("team only")] == mine
        assert client.messages("other room") == []
    finally:
        client.close()
