"""A session snapshot is written to etcd and kept by every pod: it keeps nothing the client
put in its CONNECT auth (issue 20, item 5). Clients connect with a 3,500-character pad and
credentials under keys a name filter misses (``pass``, ``bearer``) and disconnect: no bus
Event holds the pad or a credential, every snapshot record stays small, and the other pod's
snapshot memory grows by about a kilobyte a session. Two pods on the emulated Kubernetes
bus, python-socketio clients."""

from __future__ import annotations

import json

from emitter.codec import PAYLOAD_ANNOTATION
from tests.bus.cluster import Cluster
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


def test_snapshots_of_padded_auth_with_credentials_hold_neither_and_stay_small(
    kubeapi_factory, cluster_factory,
):
    cluster = cluster_factory(kubeapi_factory(), pods=2, env=ENV)
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

    found = _snapshot_records(cluster)
    records = [record for _, chunk in found for record in chunk]
    assert len(records) >= SESSIONS
    leaked = [name for name, secret in (("pass", PASSWORD), ("bearer", BEARER), ("pad", PAD))
              if any(secret in payload for payload, _ in found)]
    assert leaked == []
    assert max(len(json.dumps(record)) for record in records) < 600
    held = cluster.metric(1, "pushsvc_recovery_sessions_bytes")
    assert 0 < held < 2000 * cluster.metric(1, "pushsvc_recovery_sessions")
