"""The Job watch follows the watcher rules: after etcd compacted its resourceVersion away and
the stream dropped, the watch from it gets 410, the leader lists again and pushes only the
transition that happened meanwhile — nothing twice."""

from __future__ import annotations

from tests.jobs.conftest import ALICE, JobCluster, job_events, now_rfc3339, wait_transition
from tests.support.sio_client import wait_until

JOB = "relist-410"


def test_a_relist_after_410_pushes_only_what_is_new(job_cluster: JobCluster) -> None:
    jc = job_cluster
    leader = jc.leader()
    tab = jc.tab(ALICE, 1 - leader)
    jc.create_job(JOB)
    wait_transition([tab], JOB, "created-1")
    expired = jc.metric(leader, 'pushsvc_job_notify_watch_restarts_total{cause="expired"')
    relists = jc.metric(leader, "pushsvc_job_notify_relists_total")

    jc.api.fault("compact")
    jc.api.fault("drop_watches")
    jc.set_status(JOB, start_time=now_rfc3339(), active=1)
    wait_transition([tab], JOB, "running-1")
    wait_until(lambda: jc.metric(leader, "pushsvc_job_notify_relists_total") > relists,
               timeout=20, what="a relist")
    assert jc.metric(leader, 'pushsvc_job_notify_watch_restarts_total{cause="expired"'
                     ) > expired
    jc.sentinel("after-410")
    assert job_events(tab, JOB) == ["created-1", "running-1"]
