"""With connection state recovery on, a pod's outbox that overflows (the API server slow or
down, a client flooding broadcasts) drops other messages before a session snapshot: a dropped
snapshot would leave that session unrecoverable on every other pod. Seen in the rolling
benchmark, where a reconnect storm filled the outbox and recoveries then found no snapshot."""

from __future__ import annotations

from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.support.sio_client import RecordingClient, wait_until

ENV = {
    **LIFTED_CLIENT_LIMITS,
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
    # The API is down but the bus is not degraded yet, and the create in flight keeps trying:
    # messages queue in the outbox, which holds 20.
    "PUSHSVC_WATCH_DOWN_GRACE_SECONDS": "600",
    "PUSHSVC_BUS_PUBLISH_DEADLINE_SECONDS": "120",
    "PUSHSVC_BUS_OUTBOX_MAX_MESSAGES": "20",
}


def _client(cluster: Cluster, pod: int) -> RecordingClient:
    # Not cluster.connect(): with recovery on, even the "Connected" reply waits for the bus.
    return RecordingClient(transports=["websocket"]).connect(cluster.pods[pod].url)


def test_a_snapshot_queued_before_an_overflow_still_reaches_the_other_pod(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=2, env=ENV)
    cluster.wait_all_watching()
    known = cluster.metric(1, "pushsvc_recovery_sessions")
    published = cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
    api.stop()
    flooder = _client(cluster, 0)
    victim = _client(cluster, 0)
    try:
        # Both snapshots are queued (the first, with the flooder's, may be the create in
        # flight); then 60 broadcasts overflow the outbox of 20.
        wait_until(lambda: cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
                   >= published + 2, what="both snapshots to be queued")
        for n in range(60):
            flooder.emit("my_broadcast_event", {"data": f"flood {n}"})
        wait_until(lambda: cluster.metric(
            0, 'pushsvc_bus_outbox_dropped_total{reason="overflow"}') >= 30,
            what="the outbox to overflow")
        api.start()
        # The other pod learns both sessions: the overflow dropped broadcasts, not snapshots.
        wait_until(lambda: cluster.metric(1, "pushsvc_recovery_sessions") >= known + 2,
                   timeout=30, what="the other pod to know both sessions")
    finally:
        flooder.close()
        victim.close()
