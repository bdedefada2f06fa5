"""With the API server down, a client's burst of 60 KB broadcasts cannot grow a pod's outbox
without bound: it holds at most PUSHSVC_BUS_OUTBOX_MAX_MESSAGES (oldest dropped, counted);
once the watch has been down past the grace period nothing waits for the API at all; and on
SIGTERM the pod says how many messages for other pods it dropped."""

from __future__ import annotations

import re
import threading

import pytest

from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import Cluster
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # one pod: cluster_factory(..., pods=1)

# One client sends the whole burst and reads its own broadcasts back: lift its rate limits and
# its send-queue cap (these tests are about the outbox, not the client limits).
LOAD_CLIENT = {**LIFTED_CLIENT_LIMITS, "PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT": str(64 * 2**20)}

BLOB = "x" * 60_000
COUNT = 120


def outbox_peak(cluster: Cluster, stop: threading.Event, peaks: list[float]) -> None:
    while not stop.is_set():
        peaks.append(cluster.metric(0, "pushsvc_bus_outbox_messages"))
        stop.wait(0.05)


def dropped(cluster: Cluster, reason: str) -> float:
    return cluster.metric(0, f'pushsvc_bus_outbox_dropped_total{{reason="{reason}"}}')


def burst(cluster: Cluster) -> None:
    client = cluster.connect(0)
    for n in range(COUNT):
        client.emit("my_broadcast_event", {"data": f"{n}:{BLOB}"})
    client.wait_for(predicate=lambda p: str(p.get("data", "")).startswith(f"{COUNT - 1}:"),
                    timeout=60)


def test_the_outbox_holds_at_most_its_bound_and_sigterm_reports_what_it_dropped(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    # A long grace period: the API is down but the bus is not degraded yet, so messages queue.
    cluster = cluster_factory(api, pods=1, env={**LOAD_CLIENT,
                                                "PUSHSVC_WATCH_DOWN_GRACE_SECONDS": "600",
                                                "PUSHSVC_BUS_OUTBOX_MAX_MESSAGES": "50"})
    cluster.wait_all_watching()
    api.stop()
    stop, peaks = threading.Event(), []
    sampler = threading.Thread(target=outbox_peak, args=(cluster, stop, peaks))
    sampler.start()
    try:
        burst(cluster)
        wait_until(lambda: dropped(cluster, "overflow") >= COUNT - 50 - 4,
                   what="the overflow to be counted")
    finally:
        stop.set()
        sampler.join()
    assert max(peaks) <= 50 + 4  # the bound, plus the one batch in flight
    assert cluster.metric(0, "pushsvc_bus_outbox_bytes") <= 50 * 61_000
    cluster.close_clients()
    cluster.pods[0].stop()
    log = cluster.pods[0].read_log()
    match = re.search(r"bus: (\d+) message\(s\) for other pods were not published before exit",
                      log)
    assert match and int(match.group(1)) > 0, log[-3000:]
    assert "drain finished" in log and f"{match.group(1)} bus message(s)" in log


def test_once_the_bus_is_degraded_messages_for_other_pods_are_dropped_at_once(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1, env=LOAD_CLIENT)  # grace 2 s
    cluster.wait_all_watching()
    api.stop()
    wait_until(lambda: cluster.health(0)["bus"]["degraded"], timeout=30,
               what="the bus degraded")
    before = dropped(cluster, "bus_down")
    burst(cluster)
    # No create is even attempted: every message is accounted for as soon as it is sent.
    wait_until(lambda: dropped(cluster, "bus_down") == before + COUNT, timeout=10,
               what="every message counted as dropped")
    assert cluster.metric(0, "pushsvc_bus_outbox_messages") == 0
    assert "bus dropped" in cluster.pods[0].read_log()


def test_one_message_too_large_for_an_event_is_refused_before_any_api_call(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1, env={**LOAD_CLIENT,
                                                "PUSHSVC_MAX_MESSAGE_BYTES": "300000"})
    cluster.wait_all_watching()
    creates = api.stats()["creates"]
    client = cluster.connect(0)
    client.emit("my_broadcast_event", {"data": "y" * 280_000})
    client.wait_for(predicate=lambda p: len(str(p.get("data", ""))) >= 280_000, timeout=30)
    wait_until(lambda: dropped(cluster, "too_large") == 1, what="the refusal counted")
    assert api.stats()["creates"] == creates
