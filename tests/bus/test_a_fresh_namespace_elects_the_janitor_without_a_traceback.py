"""A pod on a namespace with no Lease yet creates it and leads from its first round, with no
traceback in its log: an admin's first install is when the logs are read.

The Lease create goes through the lean POST (emitter.rawhttp), whose reply once came back
preloaded and read as empty: the first round failed with a JSON decode traceback and
healed a retry period later.
"""

from __future__ import annotations

from typing import Any

import pytest

from pushsvc.testing.kubeapi import KubeAPI
from tests.bus.janitor_support import JANITOR_ENV, LEASE, holder, lease
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # one pod: cluster_factory(..., pods=1)


def test_the_first_lease_round_on_an_empty_namespace_logs_no_traceback(
    kubeapi: KubeAPI, cluster_factory: Any
) -> None:
    assert lease(kubeapi) is None
    c = cluster_factory(kubeapi, pods=1, env=JANITOR_ENV)
    pod = c.pods[0]
    wait_until(lambda: holder(kubeapi), timeout=30, what="the pod to hold the Lease")
    first = (lease(kubeapi) or {})["spec"]["renewTime"]
    # A later round renews it: the first one is over, whatever it logged is in the log.
    wait_until(lambda: (lease(kubeapi) or {})["spec"]["renewTime"] != first, timeout=30,
               what="a renewal of the Lease")
    log = pod.read_log()
    assert f"acquired Lease pushsvc/{LEASE}" in log
    assert "Traceback" not in log, log[-3000:]
    assert "Lease round failed" not in log, log[-3000:]
