"""Snapshot writes a client causes are bus Events like its publishes, and are charged like
them (issue 20, item 5): to the client's publish byte budget and to the pod's snapshot byte
budget. With both budgets small, clients that connect, disconnect and change rooms get no
more snapshot bytes into etcd than the budgets hold; the rest wait (counted), they are not
written past the budget. Two pods on the emulated Kubernetes bus, python-socketio clients."""

from __future__ import annotations

import json

from emitter.codec import PAYLOAD_ANNOTATION
from tests.bus.cluster import Cluster
from tests.support.sio_client import RecordingClient, wait_until

RECOVERY = {
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
    # The periodic refreshes are the pod's own writes, not charged: a session's first one
    # falls anywhere in its first interval, so a long interval keeps them out of the count.
    "PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS": "3600",
    "PUSHSVC_RETENTION_SECONDS": "3720",
}
BURST = 4096  # the pod's snapshot bucket: 8 s of 1 B/s, at least the largest snapshot (4096)
CLIENT_BURST = 2048  # the client's publish byte bucket: 2 x PUSHSVC_MAX_MESSAGE_BYTES


def _record_sizes(cluster: Cluster, sid: str | None = None) -> list[int]:
    sizes = []
    for event in cluster.bus_events():
        for message in json.loads(event["metadata"]["annotations"][PAYLOAD_ANNOTATION])[
                "messages"]:
            if message.get("namespace") == "/pushsvc.recovery":
                sizes += [len(json.dumps(r, separators=(",", ":")))
                          for r in message["data"][0] if sid is None or r["sid"] == sid]
    return sizes


def _snapshot_bytes(cluster: Cluster, sid: str | None = None) -> int:
    return sum(_record_sizes(cluster, sid))


def _deferred(cluster: Cluster, scope: str) -> float:
    return cluster.metric(0, f'pushsvc_recovery_snapshots_deferred_total{{scope="{scope}"}}')


def test_connects_and_disconnects_write_no_more_snapshot_bytes_than_the_pods_budget(
    kubeapi_factory, cluster_factory,
):
    env = {**RECOVERY, "PUSHSVC_RECOVERY_SNAPSHOT_POD_BYTES_PER_SECOND": "1"}
    cluster = cluster_factory(kubeapi_factory(), pods=2, env=env)
    cluster.wait_all_watching()
    for _ in range(40):  # about 300 bytes each: three times the budget
        client = RecordingClient(transports=["websocket"]).connect(cluster.pods[0].url)
        client.wait_for(predicate=lambda p: p.get("data") == "Connected")
        client.close()
    limit = BURST + 600  # + what 1 B/s refilled meanwhile
    wait_until(lambda: _deferred(cluster, "pod") > 0 or _snapshot_bytes(cluster) > limit,
               what="snapshot writes to wait")
    assert _snapshot_bytes(cluster) <= limit


def test_room_changes_write_no_more_snapshot_bytes_than_the_clients_publish_budget(
    kubeapi_factory, cluster_factory,
):
    env = {**RECOVERY, "PUSHSVC_MAX_MESSAGE_BYTES": "1024",
           "PUSHSVC_PUBLISH_CLIENT_BYTES_PER_SECOND": "1"}
    cluster = cluster_factory(kubeapi_factory(), pods=2, env=env)
    cluster.wait_all_watching()
    client = cluster.connect(0)
    sid = client.sio.get_sid("/")
    assert sid is not None
    wait_until(lambda: _snapshot_bytes(cluster, sid) > 0, what="its connect snapshot")
    connected = _snapshot_bytes(cluster, sid)  # the pod's budget: it had spent nothing
    for index in range(35):  # within its event budget (40 at once)
        assert client.call("join", {"room": f"budgeted-room-{index}"})["ok"]
    limit = connected + CLIENT_BURST + 150  # + what 1 B/s refilled meanwhile
    wait_until(lambda: _deferred(cluster, "client") > 0
               or _snapshot_bytes(cluster, sid) > limit, what="its snapshot writes to wait")
    # A write larger than the bucket costs the whole bucket (so a small budget delays it and
    # never blocks it for good): when the joins coalesce into one such write, its excess
    # over the bucket is written too, once per bucket.
    excess = max(0, max(_record_sizes(cluster, sid)) - CLIENT_BURST)
    assert _snapshot_bytes(cluster, sid) <= limit + excess
    cluster.close_clients()
