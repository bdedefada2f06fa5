"""A pod whose rooms do not fit its summary's bounds (members listed, bytes) carries what fits,
counts the rest, and every answer that may involve the rest says ``truncated``."""

from __future__ import annotations

import json
import signal

from tests.bus.cluster import Cluster
from tests.presence.conftest import Connect, ask, leases, wait_for_answer, wait_until

LONG = "team-" + "x" * 115


def test_a_summary_over_its_member_and_byte_bounds_is_cut_and_answers_say_truncated(
        presence_cluster: Cluster, presence_client: Connect) -> None:
    pod = presence_cluster.add_pod({"PUSHSVC_PRESENCE_MAX_MEMBERS": "1",
                                    "PUSHSVC_PRESENCE_MAX_SUMMARY_BYTES": "1024"})
    small = len(presence_cluster.pods) - 1
    name = f"pushsvc-{small}"
    try:
        wait_until(lambda: presence_cluster.ready(small), timeout=60, what="the extra pod")
        for sub in ("nina", "omar", "pete"):
            presence_client(small, sub, rooms=("team-big",))
        presence_client(small, "quin", rooms=tuple(f"{LONG}{k}" for k in range(10)))
        watcher = presence_client(0, "watcher", presence=["team-*", "user:*"])

        big = wait_for_answer(watcher, "team-big", lambda a: a["count"] == 3)
        assert big["truncated"] is True and len(big["members"]) == 1
        assert big["members"][0]["pod"] == name
        # rooms dropped for bytes: an answer about any of them cannot be complete
        dropped = [ask(watcher, f"{LONG}{k}") for k in range(10)]
        assert all(a["ok"] and a["truncated"] for a in dropped)
        assert sum(a["count"] for a in dropped) < 10

        lease = next(item for item in leases(presence_cluster)
                     if item["metadata"]["name"] == f"pushsvc-presence-{name}")
        text = lease["metadata"]["annotations"]["pushsvc.io/presence-summary"]
        summary = json.loads(text)
        assert len(text.encode()) <= 1024
        assert summary["dropped"][0] > 0 and summary["dropped"][1] > 0
        truncated = 'pushsvc_presence_summary_truncated{kind="rooms"}'
        assert presence_cluster.metric(small, truncated) > 0
        assert presence_cluster.metric(small, "pushsvc_presence_summary_bytes") <= 1024
    finally:
        pod.stop(sig=signal.SIGTERM, timeout=30)
