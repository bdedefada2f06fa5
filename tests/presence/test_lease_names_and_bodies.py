"""A pod's presence Lease: a valid object name from any pod name, the presence label, the
summary annotation, a duration of 3 intervals, and the Pod as owner when its uid is known (so
Kubernetes' garbage collector deletes the Lease with the Pod)."""

from __future__ import annotations

import pytest

from pushsvc.presence.leases import PRESENCE_LABEL, SUMMARY_ANNOTATION, LeaseWriter, lease_name
from pushsvc.testing.kubeapi.leases import validate


@pytest.mark.parametrize(("pod", "name"), [
    ("pushsvc-7d9f-abcde", "pushsvc-presence-pushsvc-7d9f-abcde"),
    ("Laptop.local:5000", "pushsvc-presence-laptop.local-5000"),
    ("--", "pushsvc-presence-pod"),
])
def test_any_pod_name_gives_a_valid_lease_name(pod: str, name: str) -> None:
    assert lease_name(pod) == name
    validate({"metadata": {"name": lease_name(pod)}, "spec": {}})
    assert len(lease_name("p" * 400)) <= 253


def test_the_lease_body_carries_label_summary_duration_and_owner() -> None:
    writer = LeaseWriter(None, namespace="ns", name="pushsvc-presence-p", identity="p_1",  # type: ignore[arg-type]
                         channel="pushsvc", duration_seconds=15,
                         owner={"name": "p", "uid": "0000-1111"})
    body = writer._body(b'{"v":1}', 15)
    meta = body["metadata"]
    assert meta["labels"] == {PRESENCE_LABEL: "pushsvc"}
    assert meta["annotations"] == {SUMMARY_ANNOTATION: '{"v":1}'}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "p",
                                        "uid": "0000-1111"}]
    assert body["spec"]["leaseDurationSeconds"] == 15 and body["spec"]["holderIdentity"] == "p_1"
    assert body["spec"]["renewTime"].endswith("Z")
    validate(body)
