"""A pod that is alive but loses the Lease (another holder wrote it: a partition, a slow
renew) stops watching Jobs at once — its watch is shut down under it, counted as
``lost_lease`` — and pushes nothing more; the next holder relists and the Job's transitions
still arrive exactly once."""

from __future__ import annotations

from tests.bus.cluster import NAMESPACE
from tests.bus.janitor_support import LEASE, admin
from tests.jobs.conftest import ALICE, JobCluster, job_events, now_rfc3339, wait_transition
from tests.support.sio_client import wait_until

JOB = "after-takeover"
LOST = 'pushsvc_job_notify_watch_restarts_total{cause="lost_lease"'


def test_a_deposed_leader_stops_and_the_next_one_pushes_each_transition_once(
        job_cluster: JobCluster) -> None:
    jc = job_cluster
    leader = jc.leader()
    tab = jc.tab(ALICE, 1 - leader)
    lost = jc.metric(leader, LOST)
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}"
    status, lease = admin(jc.api, "GET", path)
    assert status == 200
    lease["spec"].update(holderIdentity="intruder",
                         renewTime=now_rfc3339().replace("Z", ".000000Z"))
    assert admin(jc.api, "PUT", path, lease)[0] == 200
    wait_until(lambda: jc.metric(leader, LOST) > lost, timeout=20,
               what="the deposed leader's watch ended")
    assert jc.metric(leader, 'pushsvc_job_notify_watch_up{namespace="pushsvc"') == 0

    jc.create_job(JOB)  # the intruder never renews: a pod takes the Lease back and lists
    wait_transition([tab], JOB, "created-1")
    jc.set_status(JOB, start_time=now_rfc3339(), active=1)
    wait_transition([tab], JOB, "running-1")
    jc.sentinel("after-takeover")
    assert job_events(tab, JOB) == ["created-1", "running-1"]
