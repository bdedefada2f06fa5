"""A reconnect whose offset is ahead of the pod's watch waits (bounded) for the watch to get
there: a pod behind another by a moment still recovers the session. An attacker who knows
its own pid can send an offset far in the future on every reconnect, and each one would hold
a connection for the whole catch-up time. At most PUSHSVC_RECOVERY_MAX_WAITING wait at once;
past it a reconnect gets a new session at once (counted as busy), and a waiter that timed out
leaves nothing behind. Raw frames against a real pod on the emulated Kubernetes bus."""

from __future__ import annotations

import json

from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.support.raw_engineio import RawWebSocket
from tests.support.sio_client import wait_until

CATCH_UP_SECONDS = 8
ENV = {
    **LIFTED_CLIENT_LIMITS,
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
    "PUSHSVC_RECOVERY_MAX_WAITING": "2",
    "PUSHSVC_RECOVERY_CATCH_UP_SECONDS": str(CATCH_UP_SECONDS),
}
FUTURE = "99999999999-0"


def _recoveries(cluster: Cluster, result: str) -> float:
    return cluster.metric(0, f'pushsvc_recoveries_total{{result="{result}"}}')


def test_only_max_waiting_reconnects_wait_for_a_future_offset_the_rest_get_new_sessions_at_once(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1, env=ENV)
    cluster.wait_all_watching()
    url = cluster.pods[0].url
    with RawWebSocket(url) as first:
        pid = first.sio_connect()["pid"]
    wait_until(lambda: cluster.metric(0, "pushsvc_recovery_sessions") >= 1,
               what="the pod to know the session")
    busy, behind = _recoveries(cluster, "busy"), _recoveries(cluster, "behind")

    attackers = [RawWebSocket(url) for _ in range(5)]
    try:
        for ws in attackers:
            ws.handshake()
            ws.send_text("40" + json.dumps({"pid": pid, "offset": FUTURE}))
        # Two wait, three were answered with a new session without waiting.
        wait_until(lambda: _recoveries(cluster, "busy") == busy + 3, timeout=5,
                   what="three reconnects refused as busy")
        assert cluster.metric(0, "pushsvc_recovery_waiting") == 2
        answers = [ws.recv_until(lambda f: isinstance(f, str) and f.startswith("40"),
                                 timeout=CATCH_UP_SECONDS + 10) for ws in attackers]
        pids = [json.loads(a[2:])["pid"] for a in answers]
        assert pid not in pids and len(set(pids)) == 5  # five new sessions, none recovered
        wait_until(lambda: _recoveries(cluster, "behind") == behind + 2,
                   what="the two waiters to give up")
        assert cluster.metric(0, "pushsvc_recovery_waiting") == 0
    finally:
        for ws in attackers:
            ws.close()
    # The session itself was not spent: its client still recovers it.
    with RawWebSocket(url) as honest:
        again = honest.sio_connect(auth={"pid": pid})
    assert again["pid"] == pid
