"""A session snapshot is written to etcd and kept by every pod: it keeps nothing the client
put in its CONNECT auth (issue 20, item 5). Clients connect with a 3,500-character pad and
credentials under keys a name filter misses (``pass``, ``bearer``) and disconnect: no bus
Event holds the pad or a credential, every snapshot record stays small, and the other pod's
snapshot memory grows by about a kilobyte a session. Two pods on the emulated Kubernetes
bus, python-socketio clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from emitter.codec import PAYLOAD_ANNOTATION
from pushsvc.testing.kubeapi import start_kubeapi
from tests.bus.cluster import Cluster, start_cluster, stop_cluster
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.sio_client import RecordingClient, wait_until

ENV = {
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
}
PAD = "p" * 3500
PASSWORD = "hunter2-correct-horse-battery"
BEARER = "eyJhbGciOiJIUzI1NiJ9.bearer-credential"
SESSIONS = 6


def _snapshot_records(cluster: Cluster) -> list[tuple[str, list[dict]]]:
    found = []
    for event in cluster.bus_events():
        payload = event["metadata"]["annotations"][PAYLOAD_ANNOTATION]
        for message in json.loads(payload)["messages"]:
            if message.get("namespace") == "/pushsvc.recovery":
                found.append((payload, message["data"][0]))
    return found


@pytest.fixture(scope="module")
def padded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two pods; SESSIONS clients connected with padded auth and credentials, then gone."""
    workdir: Path = tmp_path_factory.mktemp("padded-auth")
    with start_kubeapi(workdir / "kubeapi") as api:
        cluster = start_cluster(api, pods=2, env=ENV,
                                log_dir=REPO_ROOT / "artifacts" / "bus" / workdir.name)
        try:
            _connect_padded(cluster)
            yield cluster
        finally:
            stop_cluster(cluster)


def _connect_padded(cluster: Cluster) -> None:
    cluster.wait_all_watching()
    before = cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
    for _ in range(SESSIONS):
        client = RecordingClient(transports=["websocket"]).connect(
            cluster.pods[0].url, auth={"pad": PAD, "pass": PASSWORD, "bearer": BEARER})
        client.wait_for(predicate=lambda p: p.get("data") == "Connected")
        client.close()
    wait_until(lambda: cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
               >= before + SESSIONS, what="a snapshot of each session")
    wait_until(lambda: cluster.metric(1, "pushsvc_recovery_sessions") >= SESSIONS,
               what="the other pod to learn every session")


def test_no_bus_event_holds_a_credential_the_client_sent_in_its_auth(padded: Cluster):
    found = _snapshot_records(padded)
    assert sum(len(chunk) for _, chunk in found) >= SESSIONS
    leaked = [name for name, secret in (("pass", PASSWORD), ("bearer", BEARER))
              if any(secret in payload for payload, _ in found)]
    assert leaked == []


def test_a_padded_auth_neither_enlarges_the_snapshots_in_etcd_nor_in_a_pods_memory(
    padded: Cluster,
):
    found = _snapshot_records(padded)
    assert not any(PAD in payload for payload, _ in found)
    assert max(len(json.dumps(record)) for _, chunk in found for record in chunk) < 600
    held = padded.metric(1, "pushsvc_recovery_sessions_bytes")
    assert 0 < held < 2000 * padded.metric(1, "pushsvc_recovery_sessions")
