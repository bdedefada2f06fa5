"""The recovery history is bounded in bytes, not only by count (issue 20, item 6): anyone
with ``create`` on events could make every pod hold 200,000 messages of 250 KiB. A notifier
floods the bus with 40 broadcasts of 200 KB (8 MB) while a client is away; with a 4 MiB
history bound every pod holds at most 4 MiB (its metric says so), counts what it dropped,
and the client — whose missed messages were among those dropped — gets a clean new session
on reconnect, never a partial recovery. A real socket.io-client 4.x from Node, two pods on
the emulated Kubernetes bus."""

from __future__ import annotations

import shutil

from emitter import Emitter
from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.deploy.recovery import NodeClient
from tests.support.sio_client import wait_until

NODE = shutil.which("node") or "node"
BOUND = 4 * 1024 * 1024
ENV = {
    **LIFTED_CLIENT_LIMITS,
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
    "PUSHSVC_RECOVERY_HISTORY_MAX_BYTES": str(BOUND),
}
FLOOD = 40
BIG = "F" * 200_000


def _notify(cluster: Cluster, datas: list[str]) -> None:
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig), namespace=cluster.namespace,
                 batch_window_seconds=0.005) as emitter:
        for data in datas:
            emitter.notify("nuke_response", {"data": data})


def _flooded(cluster: Cluster, pod: int) -> bool:
    # Either its byte bound dropped some, or (without one) it holds the whole flood.
    return cluster.metric(
        pod, 'pushsvc_recovery_dropped_total{reason="history_bytes"}') > 0 or cluster.metric(
        pod, "pushsvc_recovery_history_messages") > FLOOD


def test_a_flood_of_large_events_stays_within_the_history_bytes_and_gets_a_new_session(
    kubeapi_factory, cluster_factory,
):
    cluster = cluster_factory(kubeapi_factory(), pods=2, env=ENV)
    cluster.wait_all_watching()
    client = NodeClient(NODE, cluster.pods[0].url, transport="websocket", manual=True)
    try:
        client.send("reconnect")
        first = client.wait_for("connect")
        _notify(cluster, ["before the flood"])
        client.wait_for("msg", data="before the flood")
        client.send("drop")
        client.wait_for("disconnect")

        _notify(cluster, [BIG] * FLOOD)
        for pod in (0, 1):
            wait_until(lambda pod=pod: _flooded(cluster, pod), timeout=60,
                       what=f"pod {pod} to take in the flood")
            held = cluster.metric(pod, "pushsvc_recovery_history_bytes")
            assert 0 < held <= BOUND

        client.send(f"url {cluster.pods[1].url}")
        client.send("reconnect")
        again = client.wait_for("connect")
        _notify(cluster, ["after the flood"])
        client.wait_for("msg", data="after the flood")
        assert again["recovered"] is False and again["sid"] != first["sid"]
        assert [m for m in client.lines if m["t"] == "msg" and m["data"] == BIG] == []
    finally:
        client.close()
