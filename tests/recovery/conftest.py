"""Fixtures for the recovery identity tests: three real pods on the emulated Kubernetes bus in
``jwt`` mode with connection state recovery, Node socket.io-client 4.x drivers, and a way to
know that every pod has learned what one pod wrote about a session.

A pod learns a session from its snapshot records, bus Events written in batches: a test that
reconnects elsewhere first waits until the session's newest record on the bus says what it
expects (read from the emulator), then until a broadcast made after it has reached a client
of every pod (each pod's watch delivers in resourceVersion order, so it read the record
before). No sleeps, no timed assertions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emitter import CHANNEL_LABEL
from emitter.wire import decode_event
from pushsvc.recovery import SNAPSHOT_NAMESPACE, pid_key
from pushsvc.testing.procs import wait_until
from pushsvc.testing.topology import BUS_NAMESPACE, LocalTopology
from tests.deploy.conftest import TEST_POD_ENV
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.support.raw_engineio import RawWebSocket
from tests.support.tokens import Tokens, jwt_env

NODE = shutil.which("node") or "node"
POD_ENV = {**TEST_POD_ENV, **RECOVERY_ENV, **jwt_env()}
#: What alice's token allows: the room "team"; bob's allows no room at all.
ALICE_ROOMS = ["team"]

_markers = iter(range(1, 1_000_000))


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    with LocalTopology(tmp_path_factory.mktemp("recovery-identity"), bus="kubernetes",
                       pods=3, haproxy=False, pod_env=POD_ENV) as topology:
        yield topology


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def node_client() -> Iterator[Callable[..., NodeClient]]:
    """``node_client(url, token)``: a socket.io-client 4.x connected there with that token."""
    made: list[NodeClient] = []

    def connect(url: str, token: str, *, transport: str = "websocket") -> NodeClient:
        client = NodeClient(NODE, url, transport=transport, manual=True)
        made.append(client)
        client.send(f"token {token}")
        client.send("reconnect")
        return client

    yield connect
    for client in made:
        client.close()


def session_records(topology: LocalTopology, pid: str) -> list[dict[str, Any]]:
    """The snapshot records of the session with this pid on the bus, oldest first (read
    from the emulator as an admin, the way ``kubectl get events`` shows them)."""
    assert topology.kubeapi is not None
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(topology.kubeapi.kubeconfig), "get", "events", "-n",
         BUS_NAMESPACE, "-l", CHANNEL_LABEL, "-o", "json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    key = pid_key(pid)
    found: list[tuple[int, int, dict[str, Any]]] = []
    for item in json.loads(done.stdout)["items"]:
        version = int(item["metadata"]["resourceVersion"])
        for index, message in enumerate(decode_event(item).messages):
            body = message.model_dump()
            if body.get("namespace") != SNAPSHOT_NAMESPACE:
                continue
            for record in (body.get("data") or [[]])[0]:
                if isinstance(record, dict) and record.get("k") == key:
                    found.append((version, index, record))
    return [record for _, _, record in sorted(found, key=lambda f: (f[0], f[1]))]


class Observers:
    """One raw WebSocket client per pod (its own token), to see when a pod has read the bus
    up to a point."""

    def __init__(self, topology: LocalTopology, token: str) -> None:
        self.topology = topology
        self.token = token
        self.sockets: list[RawWebSocket] = []
        for pod in topology.pods:
            self.watch(pod.url)

    def watch(self, url: str) -> None:
        """Count the pod at ``url`` (one started beside the topology's) in ``synced`` too."""
        ws = RawWebSocket(url)
        self.sockets.append(ws)
        ws.sio_connect(auth={"token": self.token})

    def recorded(self, pid: str, what: str, check: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until the session's newest record on the bus passes ``check``, then until every
        pod has read it."""
        wait_until(lambda: bool(records := session_records(self.topology, pid))
                   and check(records[-1]), timeout=30, what=f"a record of the session {what}")
        self.synced()

    def synced(self) -> None:
        """Every pod has read every bus Event that exists now."""
        marker = f"synced #{next(_markers)}"
        notify_numbered(self.topology, marker, 1)
        for ws in self.sockets:
            ws.recv_until(lambda f, m=marker: isinstance(f, str) and f.startswith("42")
                          and _text(f) == f"{m} #1", timeout=30)

    def close(self) -> None:
        for ws in self.sockets:
            ws.close()


def _text(frame: str) -> Any:
    try:
        args = json.loads(frame[2:])
    except ValueError:
        return None
    data = args[1] if len(args) > 1 else None
    return data.get("data") if isinstance(data, dict) else None


@pytest.fixture
def observers(topology: LocalTopology, tokens: Tokens) -> Iterator[Observers]:
    watching = Observers(topology, tokens.mint("observer"))
    yield watching
    watching.close()


def texts(client: NodeClient, prefix: str) -> list[str]:
    """What the client got whose text starts with ``prefix``, in order."""
    return [str(m["data"]) for m in client.messages(prefix)]
