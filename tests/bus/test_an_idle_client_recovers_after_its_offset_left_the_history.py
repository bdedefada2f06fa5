"""A client idle for longer than any pod keeps history still recovers (socket.io #5282).

Node's socket.io purges the offsets of idle connections, so a client that received nothing for
a while cannot recover. Here the session's snapshot, written again every snapshot interval,
says which message was last sent to it and how far its pod had seen the bus. Its offset
having left every pod's history (bounded by count here: 100 messages, then 300 go to a room
it is not in), its pod is SIGKILLed and it reconnects to the other pod: recovered, same sid,
nothing replayed that it was never sent, and live messages follow. A real socket.io-client
4.x from Node, two pods on the emulated Kubernetes bus.
"""

from __future__ import annotations

import shutil
import signal

from emitter import Emitter
from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.deploy.recovery import NodeClient
from tests.support.sio_client import wait_until

NODE = shutil.which("node") or "node"
INTERVAL_SECONDS = 2
ENV = {
    **LIFTED_CLIENT_LIMITS,
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
    "PUSHSVC_RECOVERY_HISTORY_MAX_MESSAGES": "100",
    "PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS": str(INTERVAL_SECONDS),
}
ELSEWHERE = 300


def _notify(cluster: Cluster, texts: list[str], room: str | None = None) -> None:
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig), bus_namespace=cluster.namespace,
                 batch_window_seconds=0.005) as emitter:
        for text in texts:
            emitter.notify("nuke_response", {"data": text}, to=room)


def _dropped(cluster: Cluster, pod: int) -> float:
    return cluster.metric(pod, 'pushsvc_recovery_dropped_total{reason="history_full"}')


def test_an_idle_client_whose_offset_left_every_pods_history_recovers_on_another_pod(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=2, env=ENV)
    cluster.wait_all_watching()
    client = NodeClient(NODE, cluster.pods[0].url, transport="websocket")
    try:
        first = client.wait_for("connect")
        _notify(cluster, ["idle before"])
        client.wait_for("msg", data="idle before")  # its offset, the last it will get

        _notify(cluster, [f"elsewhere #{i}" for i in range(ELSEWHERE)], room="elsewhere")
        for pod in (0, 1):  # both histories kept only the newest ~100 of those
            wait_until(lambda pod=pod: _dropped(cluster, pod) >= ELSEWHERE - 110,
                       timeout=30, what=f"pod {pod}'s history to drop the client's offset")
        # Snapshots written after that (every interval) say how far its pod had seen.
        published = cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
        wait_until(lambda: cluster.metric(0, "pushsvc_recovery_snapshots_published_total")
                   >= published + 2, timeout=6 * INTERVAL_SECONDS,
                   what="two snapshot refreshes")

        cluster.pods[0].stop(signal.SIGKILL, timeout=10)
        client.wait_for("disconnect")
        client.send(f"url {cluster.pods[1].url}")
        client.send("reconnect")
        again = client.wait_for("connect")
        assert again["recovered"] is True
        assert again["sid"] == first["sid"]
        _notify(cluster, ["idle after"])
        client.wait_for("msg", data="idle after")
        client.drain(quiet=0.3)
        # The connect handler greets it on each connect, a recovered one too (as Node's does).
        assert [m["data"] for m in client.messages("")] == [
            "Connected", "idle before", "Connected", "idle after"]
    finally:
        client.close()
