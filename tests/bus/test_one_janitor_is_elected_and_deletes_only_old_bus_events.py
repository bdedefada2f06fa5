"""Two pods on the emulator elect exactly one retention janitor through the Lease; it deletes
bus Events past the retention window and never an Event without the bus label (or with
another channel's), however old."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.bus.cluster import Cluster, start_cluster, stop_cluster
from tests.bus.janitor_support import (
    JANITOR_ENV,
    LEASE,
    create_event,
    event_exists,
    holder,
    leaders,
    lease,
)
from tests.support.probes import metric
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.sio_client import wait_until


@pytest.fixture(scope="module")
def two_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir: Path = tmp_path_factory.mktemp("janitor")
    with start_kubeapi(workdir / "kubeapi") as api:
        c = start_cluster(api, pods=2, env=JANITOR_ENV,
                          log_dir=REPO_ROOT / "artifacts" / "bus" / workdir.name)
        try:
            wait_until(lambda: leaders(c), timeout=30, what="a janitor elected")
            yield c
        finally:
            stop_cluster(c)


def test_exactly_one_pod_holds_the_lease_and_works(two_pods: Cluster) -> None:
    [leader] = leaders(two_pods)
    current = lease(two_pods.api)
    assert current is not None
    spec = current["spec"]
    assert spec["holderIdentity"].startswith(f"pushsvc-{leader}_")
    assert spec["leaseDurationSeconds"] == 2
    assert spec["renewTime"].endswith("Z") and "." in spec["renewTime"]  # MicroTime
    # The holder keeps renewing: the Lease's resourceVersion moves, its holder does not.
    first_rv = current["metadata"]["resourceVersion"]
    wait_until(lambda: (lease(two_pods.api) or {}).get("metadata", {}).get(
        "resourceVersion") != first_rv, timeout=10, what="a renewal")
    assert holder(two_pods.api) == spec["holderIdentity"]
    assert leaders(two_pods) == [leader]


def test_old_bus_events_are_deleted_and_others_never(two_pods: Cluster) -> None:
    api: KubeAPI = two_pods.api
    create_event(api, "janitor-bus-old", channel="pushsvc")
    create_event(api, "janitor-not-bus", channel=None)
    create_event(api, "janitor-other-channel", channel="another-bus")
    [leader] = leaders(two_pods)
    url = two_pods.pods[leader].url
    wait_until(lambda: not event_exists(api, "janitor-bus-old"), timeout=30,
               what="the old bus Event deleted")
    assert metric(url, "pushsvc_janitor_deletions_total", outcome="deleted") >= 1
    # Two more complete passes, well past the retention for the other two Events.
    gone_at = time.time()
    wait_until(lambda: metric(url, "pushsvc_janitor_last_run_timestamp_seconds",
                              lease=LEASE) > gone_at + 3, timeout=30,
               what="passes after the retention")
    assert event_exists(api, "janitor-not-bus")
    assert event_exists(api, "janitor-other-channel")
