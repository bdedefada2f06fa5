"""A labelled Job annotated for alice: both of her tabs, on two pods, get each transition of
its life exactly once, in order — created, running, retrying (a failed pod, the Job goes on),
running again, succeeded — although the pod watching the Jobs (the Lease holder) is
SIGKILLed in the middle and another pod takes the Lease and relists. The new leader's
creates of what was already pushed meet 409 (counted as duplicates). Bob gets nothing."""

from __future__ import annotations

from tests.jobs.conftest import ALICE, BOB, JobCluster, job_events, now_rfc3339, wait_transition

JOB = "report-42"
LIFE = ["created-1", "running-1", "retrying-1", "running-2", "succeeded-2"]


def test_every_transition_reaches_both_tabs_once_across_a_leader_change(
        three_pods: JobCluster) -> None:
    jc = three_pods
    leader = jc.leader()
    others = [k for k in range(3) if k != leader]
    alice = [jc.tab(ALICE, others[0]), jc.tab(ALICE, others[1])]
    bob = jc.tab(BOB, others[0])

    jc.create_job(JOB)
    wait_transition(alice, JOB, "created-1")
    started = now_rfc3339()
    jc.set_status(JOB, start_time=started, active=1)
    wait_transition(alice, JOB, "running-1")

    # The Lease holder dies without releasing anything; the pod's first attempt fails while
    # nobody watches. Another pod takes the Lease once it expires, relists, and pushes only
    # what was not pushed: created and running meet 409.
    jc.kill(leader)
    jc.set_status(JOB, start_time=started, active=0, failed=1)
    wait_transition(alice, JOB, "retrying-1")
    new_leader = jc.leader()
    assert new_leader in others
    jc.set_status(JOB, start_time=started, active=1, failed=1)
    wait_transition(alice, JOB, "running-2")
    jc.set_status(JOB, start_time=started, active=0, failed=1, succeeded=1,
                  completion_time=now_rfc3339(),
                  conditions=[{"type": "Complete", "status": "True",
                               "lastTransitionTime": now_rfc3339()}])
    wait_transition(alice, JOB, "succeeded-2")

    jc.sentinel("after-report-42")
    for tab in alice:
        assert job_events(tab, JOB) == LIFE
    assert job_events(bob, JOB) == []
    assert bob.received("pushsvc_job") == []
    assert jc.metric(new_leader, 'pushsvc_job_notify_transitions_total{outcome="duplicate"'
                     ) >= 2

    last = alice[0].received("pushsvc_job")[-1]
    assert last["phase"] == "succeeded" and last["succeeded"] == 1 and last["failed"] == 1
    assert last["completionTime"] and last["startTime"] == started
    assert last["namespace"] == "pushsvc" and last["uid"]
