"""DELETE of an Event with DeleteOptions.preconditions: 409 Conflict when the resourceVersion
or uid no longer match (the object stays), 404 when it is already gone, DELETED to watchers."""

from __future__ import annotations

import pytest
import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.emulator.conftest import Http, event

NS = "team-a"


def _delete(http: Http, name: str, **preconditions: str) -> requests.Response:
    return http.session.delete(http.url(f"/api/v1/namespaces/{NS}/events/{name}"),
                               json={"kind": "DeleteOptions", "apiVersion": "v1",
                                     "preconditions": preconditions}, timeout=30)


def test_a_resource_version_precondition_that_no_longer_matches_is_409(http: Http) -> None:
    created = http.create(NS, event(NS, "e1"))
    rv = created["metadata"]["resourceVersion"]
    updated = http.session.patch(http.url(f"/api/v1/namespaces/{NS}/events/e1"),
                                 json={"message": "changed"}, timeout=30,
                                 headers={"Content-Type": "application/merge-patch+json"})
    assert updated.status_code == 200, updated.text
    new_rv = updated.json()["metadata"]["resourceVersion"]
    resp = _delete(http, "e1", resourceVersion=rv)
    assert resp.status_code == 409
    assert resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'Operation cannot be fulfilled on events "e1": Precondition failed: '
                   f"ResourceVersion in precondition: {rv}, ResourceVersion in object meta: "
                   f"{new_rv}",
        "reason": "Conflict", "details": {"name": "e1", "kind": "events"}, "code": 409}
    assert http.get(f"/api/v1/namespaces/{NS}/events/e1").status_code == 200
    assert _delete(http, "e1", resourceVersion=new_rv).status_code == 200
    gone = _delete(http, "e1", resourceVersion=new_rv)
    assert gone.status_code == 404
    assert gone.json()["message"] == 'events "e1" not found'


def test_a_recreated_event_is_not_deleted_by_a_uid_precondition(
        core_v1: client.CoreV1Api, http: Http) -> None:
    first = http.create(NS, event(NS, "e2"))
    core_v1.delete_namespaced_event("e2", NS)
    http.create(NS, event(NS, "e2"))
    with pytest.raises(ApiException) as info:
        core_v1.delete_namespaced_event("e2", NS, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=first["metadata"]["uid"])))
    assert info.value.status == 409
    assert "Precondition failed: UID in precondition" in (info.value.body or "")
    assert core_v1.read_namespaced_event("e2", NS).metadata.uid != first["metadata"]["uid"]


def test_a_delete_reaches_watchers_as_deleted(http: Http) -> None:
    created = http.create(NS, event(NS, "e3"))
    w = http.watch(f"/api/v1/namespaces/{NS}/events",
                   resourceVersion=created["metadata"]["resourceVersion"])
    try:
        assert _delete(http, "e3", resourceVersion=created["metadata"][
            "resourceVersion"]).status_code == 200
        line = w.next()
        assert line["type"] == "DELETED"
        assert line["object"]["metadata"]["name"] == "e3"
    finally:
        w.close()
