"""Losing the watch permission degrades the bus on every pod (with the fix in the log) but
leaves them ready and running, and once restored they deliver every message sent meanwhile,
once."""

from __future__ import annotations

from collections import Counter

from tests.bus.cluster import (
    RBAC_TEXT,
    finish,
    numbered,
    rbac_without_api_grant,
    read_until_sent,
    wait_stream_delivered,
)
from tests.support.sio_client import wait_until

COUNT = 1000


def test_bus_health_degrades_without_rbac_readiness_stays_and_nothing_is_lost(cluster):
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(3)]
    proc = cluster.start_stream(count=COUNT, tag="rbac")
    try:
        read_until_sent(proc, 300)
        cluster.api.set_rbac(rbac_without_api_grant())
        wait_until(lambda: all(cluster.health(k)["bus"]["degraded"] for k in range(3)),
                   timeout=60, what="every pod's bus degraded without the watch permission")
        assert all(cluster.ready(k) for k in range(3))
        assert all(pod.is_running() for pod in cluster.pods)
        cluster.api.set_rbac(RBAC_TEXT)
        cluster.wait_all_watching()
        finish(proc)
    finally:
        cluster.api.set_rbac(RBAC_TEXT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_stream_delivered(clients, "rbac", COUNT)
    for client in clients:
        got = numbered(client, "rbac")
        assert sorted(got) == list(range(COUNT)), Counter(got).most_common(3)
    log = cluster.pods[0].read_log()
    assert "bus degraded" in log
    assert "cannot list events" in log or "cannot watch events" in log
    assert "rbac/api.yaml" in log
    cluster.close_clients()
