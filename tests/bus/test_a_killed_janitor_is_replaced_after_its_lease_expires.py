"""SIGKILL the janitor's pod: it releases nothing, so the other pod takes the Lease over only
once the holder has not renewed for the lease duration (leaseTransitions counts it); a pod
stopped with SIGTERM releases the Lease (empty holder)."""

from __future__ import annotations

import signal
from typing import Any

from pushsvc.testing.kubeapi import KubeAPI
from tests.bus.janitor_support import JANITOR_ENV, holder, leaders, lease
from tests.support.sio_client import wait_until


def test_the_other_pod_takes_over_after_the_lease_expires(kubeapi: KubeAPI,
                                                          cluster_factory: Any) -> None:
    c = cluster_factory(kubeapi, pods=2, env=JANITOR_ENV)
    wait_until(lambda: leaders(c), timeout=30, what="a janitor elected")
    [first] = leaders(c)
    other = 1 - first
    before = lease(kubeapi)
    assert before is not None
    c.pods[first].stop(sig=signal.SIGKILL)
    # Nothing released it: the Lease stays the dead pod's until it expires.
    assert "released" not in c.pods[first].read_log()
    wait_until(lambda: holder(kubeapi).startswith(f"pushsvc-{other}_"), timeout=30,
               what="the other pod holding the Lease")
    wait_until(lambda: leaders(c) == [other], timeout=10, what="the other pod's leader gauge")
    after = lease(kubeapi)
    assert after is not None
    assert after["spec"]["leaseTransitions"] == before["spec"]["leaseTransitions"] + 1
    assert after["spec"]["acquireTime"] != before["spec"]["acquireTime"]

    c.pods[other].stop()  # SIGTERM: the janitor stops and releases the Lease
    released = lease(kubeapi)
    assert released is not None
    assert not released["spec"].get("holderIdentity")
    assert released["spec"]["leaseDurationSeconds"] == 1
    assert "Lease pushsvc/pushsvc-janitor released" in c.pods[other].read_log()
