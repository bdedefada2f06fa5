"""The API Priority and Fairness component gives pushsvc's traffic a limited, queuing share.

Using Events as a bus puts pushsvc's creates, watches and relists on the API server and etcd;
``manifests/api-priority`` classifies every request of the pods' and the notifiers'
ServiceAccounts into a priority level of their own (``Limited``, queuing, lending and
borrowing nothing), one flow per ServiceAccount. The manifests are checked against the
Kubernetes 1.33 schemas (strictly: a misspelt field fails) and for what must agree: the
FlowSchema names the level, matches every ServiceAccount that talks to the API (the remote
notifier's too when that component is listed), and comes before the default
``service-accounts`` schema. The emulator's 429s and the clients' back-off are tested apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import REPO_ROOT, kustomize, overlay_of, strict_validation

MANIFESTS = REPO_ROOT / "manifests"
#: The default FlowSchema that would otherwise catch every ServiceAccount (workload-low).
SERVICE_ACCOUNTS_PRECEDENCE = 9000
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def full() -> list[Obj]:
    return kustomize(MANIFESTS / "overlays" / "full")


def _one(objs: list[Obj], kind: str) -> Obj:
    [found] = [o for o in objs if o["kind"] == kind]
    return found


def test_the_priority_level_is_limited_and_queues(full: list[Obj]) -> None:
    level = _one(full, "PriorityLevelConfiguration")
    assert level["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1"
    assert level["metadata"]["name"] == "pushsvc"
    spec = level["spec"]
    assert spec["type"] == "Limited"
    limited = spec["limited"]
    assert 0 < limited["nominalConcurrencyShares"] <= 20
    assert limited["lendablePercent"] == 0
    assert limited["borrowingLimitPercent"] == 0
    assert limited["limitResponse"]["type"] == "Queue"
    queuing = limited["limitResponse"]["queuing"]
    assert queuing["handSize"] <= queuing["queues"]
    assert queuing["queueLengthLimit"] > 0


def test_the_flowschema_sends_each_pushsvc_service_account_to_its_own_flow(
        full: list[Obj]) -> None:
    schema = _one(full, "FlowSchema")
    level = _one(full, "PriorityLevelConfiguration")
    spec = schema["spec"]
    assert spec["priorityLevelConfiguration"]["name"] == level["metadata"]["name"]
    assert spec["distinguisherMethod"]["type"] == "ByUser"
    assert spec["matchingPrecedence"] < SERVICE_ACCOUNTS_PRECEDENCE
    [rule] = spec["rules"]
    users = set()
    for subject in rule["subjects"]:
        if subject["kind"] == "ServiceAccount":
            account = subject["serviceAccount"]
            users.add(f"system:serviceaccount:{account['namespace']}:{account['name']}")
        else:
            assert subject["kind"] == "User"
            users.add(subject["user"]["name"])
    # Every identity the rendered RBAC grants something to, and nothing else.
    granted = {f"system:serviceaccount:{s['namespace']}:{s['name']}"
               for o in full if o["kind"] == "RoleBinding" for s in o["subjects"]}
    assert users == granted == {
        "system:serviceaccount:myteam:pushsvc-api",
        "system:serviceaccount:myteam:pushsvc-notifier",
        "system:serviceaccount:batch:report-notifier",
    }
    # All their requests: resources in any namespace and cluster-wide, and the non-resource
    # URLs (discovery, /version) a client asks for.
    assert rule["resourceRules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                      "namespaces": ["*"], "clusterScope": True}]
    assert rule["nonResourceRules"] == [{"verbs": ["*"], "nonResourceURLs": ["*"]}]


def test_without_the_remote_notifier_the_flowschema_matches_the_two_local_accounts(
        tmp_path: Path) -> None:
    objs = kustomize(overlay_of(tmp_path, components=[MANIFESTS / "api-priority"],
                                namespace="elsewhere"))
    [rule] = _one(objs, "FlowSchema")["spec"]["rules"]
    assert rule["subjects"] == [
        {"kind": "ServiceAccount",
         "serviceAccount": {"name": "pushsvc-api", "namespace": "elsewhere"}},
        {"kind": "ServiceAccount",
         "serviceAccount": {"name": "pushsvc-notifier", "namespace": "elsewhere"}},
    ]


def test_strict_validation_knows_the_flowcontrol_schema(full: list[Obj], tmp_path: Path) -> None:
    objs = [o for o in full if o["kind"] in ("FlowSchema", "PriorityLevelConfiguration")]
    done = strict_validation(objs, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed for resource") == 2
    level = _one(objs, "PriorityLevelConfiguration")
    level["spec"]["limited"]["limitResponse"]["queuing"]["queueLenghtLimit"] = 50
    done = strict_validation(objs, tmp_path)
    assert done.returncode != 0
    assert "queueLenghtLimit" in done.stdout + done.stderr
