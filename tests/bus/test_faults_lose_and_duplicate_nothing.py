"""Under every API fault, a stream of 1,000 numbered messages arrives complete and once.

A separate notifier process (tests.bus.stream_notifier) creates the Events; the fault is
injected after 300 are sent; every client on every pod must end with exactly 0..999.
"""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from tests.bus.cluster import (
    Cluster,
    finish,
    numbered,
    read_until_sent,
    wait_stream_delivered,
)

COUNT = 1000


def inject(cluster: Cluster, fault: str, proc: subprocess.Popen[str]) -> None:
    if fault == "drop_watches":
        cluster.api.fault("drop_watches")
    elif fault == "compaction":
        # Freeze the pods' watches while 150 more Events are created, compact past the
        # version they hold, then drop the watches: each resumes from a compacted version,
        # gets 410 and must relist.
        cluster.api.fault("stall")
        read_until_sent(proc, 450)
        cluster.api.fault("compact")
        cluster.api.fault("drop_watches")
    elif fault == "restart":
        cluster.api.restart()
    elif fault == "stall":
        cluster.api.fault("stall")
    elif fault == "429_burst":
        cluster.api.fault("429", count=30, retry_after=1)
    else:  # pragma: no cover
        raise AssertionError(fault)


@pytest.mark.parametrize("fault", ["drop_watches", "compaction", "restart", "stall",
                                   "429_burst"])
def test_a_stream_of_1000_messages_survives_the_fault_with_no_loss_and_no_duplicate(
    cluster, fault,
):
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(3) for _ in range(2)]
    restarts_before = sum(cluster.metric(k, "pushsvc_bus_watch_restarts_total")
                          for k in range(3))
    relists_before = sum(cluster.metric(k, "pushsvc_bus_relists_total") for k in range(3))
    proc = cluster.start_stream(count=COUNT, tag=fault)
    try:
        read_until_sent(proc, 300)
        inject(cluster, fault, proc)
        finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_stream_delivered(clients, fault, COUNT)
    for client in clients:
        got = numbered(client, fault)
        duplicates = [n for n, k in Counter(got).items() if k > 1]
        missing = sorted(set(range(COUNT)) - set(got))
        assert not missing and not duplicates, (missing[:10], duplicates[:10])
    restarts = sum(cluster.metric(k, "pushsvc_bus_watch_restarts_total") for k in range(3))
    assert restarts > restarts_before
    if fault == "compaction":
        relists = sum(cluster.metric(k, "pushsvc_bus_relists_total") for k in range(3))
        assert relists > relists_before
    if fault == "stall":
        stalls = sum(cluster.metric(k, 'pushsvc_bus_watch_restarts_total{cause="read_timeout"}')
                     for k in range(3))
        assert stalls >= 3
    cluster.close_clients()
