"""The Job notifier reads only labelled Jobs: every Job request the pods' ServiceAccount makes
is a list or watch carrying ``labelSelector=pushsvc.io/notify=true`` (the emulator's request
log), and a Job annotated for alice but not labelled never reaches her, through its whole
life; a labelled one created after it does."""

from __future__ import annotations

from tests.jobs.conftest import ALICE, JobCluster, job_events, now_rfc3339, wait_transition


def test_an_unlabelled_job_is_never_listed_watched_or_pushed(job_cluster: JobCluster) -> None:
    jc = job_cluster
    jc.leader()
    tab = jc.tab(ALICE, 1)
    jc.create_job("unlabelled", labelled=False)
    jc.set_status("unlabelled", start_time=now_rfc3339(), active=1)
    jc.set_status("unlabelled", start_time=now_rfc3339(), succeeded=1,
                  completion_time=now_rfc3339(),
                  conditions=[{"type": "Complete", "status": "True"}])
    jc.create_job("labelled-after")
    wait_transition([tab], "labelled-after", "created-1")
    jc.sentinel("after-unlabelled")
    assert job_events(tab, "unlabelled") == []

    requests = jc.job_requests()
    assert requests, "the pods never asked for Jobs"
    assert {r["verb"] for r in requests} <= {"list", "watch"}
    assert all(r["labelSelector"] == "pushsvc.io/notify=true" and r["name"] is None
               and r["resource"] == "jobs" for r in requests), requests
