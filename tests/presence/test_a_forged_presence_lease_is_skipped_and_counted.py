"""A presence Lease whose summary is not one (written by anything with ``update`` on leases) is
skipped and counted by every pod and logged once; answers go on from the valid summaries."""

from __future__ import annotations

import json
import urllib.request

from tests.bus.cluster import Cluster
from tests.presence.conftest import Connect, wait_for_answer, wait_until


def _apply(c: Cluster, name: str, summary: str) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": name, "namespace": c.namespace,
                          "labels": {"pushsvc.io/presence": "pushsvc"},
                          "annotations": {"pushsvc.io/presence-summary": summary}},
             "spec": {"holderIdentity": "forger", "leaseDurationSeconds": 3600}}
    req = urllib.request.Request(
        f"{c.api.url}/apis/coordination.k8s.io/v1/namespaces/{c.namespace}/leases",
        data=json.dumps(lease).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {c.api.admin_token()}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201


def test_forged_summaries_are_skipped_and_counted_and_answers_are_unaffected(
        presence_cluster: Cluster, presence_client: Connect) -> None:
    before = presence_cluster.metric(0, "pushsvc_presence_bad_summaries_total")
    _apply(presence_cluster, "forged-json", "{not json")
    forged = {"v": 1, "pod": "pushsvc-9", "ts": 1,
              "rooms": [["team-forged", 1000000, [["x", 5, 1]]]], "dropped": [0, 0]}
    _apply(presence_cluster, "forged-shape", json.dumps(forged))
    wait_until(lambda: presence_cluster.metric(0, "pushsvc_presence_bad_summaries_total")
               >= before + 2, timeout=30, what="both forged Leases counted")
    presence_client(2, "tina", rooms=("team-forged",))
    asker = presence_client(0, "ulf", presence=["team-*"])
    answer = wait_for_answer(asker, "team-forged", lambda a: a["count"] == 1)
    assert "pushsvc-9" not in answer["pods"]
    log = presence_cluster.pods[0].read_log()
    assert log.count("presence: skipped Lease pushsvc/forged-json") == 1
    assert "presence: skipped Lease pushsvc/forged-shape: summary has a malformed member" in log
