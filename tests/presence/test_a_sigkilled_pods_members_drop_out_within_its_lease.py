"""A pod SIGKILLed (no shutdown, its Lease left as it was) drops out of every answer once its
last summary is older than the Lease's duration (3 intervals); no answer ever uses a summary
older than that."""

from __future__ import annotations

import signal
from typing import Any

from tests.bus.cluster import Cluster
from tests.presence.conftest import LEASE_SECONDS, Connect, ask, leases, users, wait_until


def test_a_killed_pods_members_vanish_and_no_answer_is_older_than_the_lease(
        presence_cluster: Cluster, presence_client: Connect) -> None:
    pod = presence_cluster.add_pod({})
    victim = len(presence_cluster.pods) - 1
    name = f"pushsvc-{victim}"
    wait_until(lambda: presence_cluster.ready(victim), timeout=60, what="the extra pod")
    presence_client(victim, "lena", rooms=("team-kill",))
    presence_client(0, "mike", rooms=("team-kill",))
    watcher = presence_client(1, "watcher", presence=["team-*"])
    answers: list[dict[str, Any]] = []

    def answer_where(predicate: Any) -> dict[str, Any] | None:
        answer = ask(watcher, "team-kill")
        answers.append(answer)
        return answer if predicate(answer) else None

    wait_until(lambda: answer_where(lambda a: a["count"] == 2), timeout=30, interval=0.2,
               what="both members")
    pod.stop(sig=signal.SIGKILL, timeout=10)
    after = wait_until(lambda: answer_where(lambda a: name not in a["pods"]), timeout=30,
                       interval=0.2, what="the killed pod to drop out")
    assert after["count"] == 1 and users(after) == [("mike", "pushsvc-0")]
    # the bound: every answer used only summaries younger than their Lease
    assert all(age <= LEASE_SECONDS for a in answers for age in a["pods"].values())
    assert any(name in a["pods"] and a["count"] == 2 for a in answers)
    # nothing deleted the dead pod's Lease (the Pod's garbage collection does, in a cluster)
    assert f"pushsvc-presence-{name}" in {item["metadata"]["name"]
                                          for item in leases(presence_cluster)}
