"""Discovery documents and the server-side Table kubectl asks for."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Http, event


@pytest.fixture
def http(shared_http: Http) -> Http:
    """These tests only read and write their own namespace: share one emulator."""
    return shared_http

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


def test_discovery_lists_core_v1_events(http: Http, ns: str) -> None:
    assert http.get("/api")
    assert http.get("/api").json()["versions"] == ["v1"]
    resources = http.get("/api/v1").json()["resources"]
    events = next(r for r in resources if r["name"] == "events")
    assert events["namespaced"] and events["kind"] == "Event"
    assert {"create", "get", "list", "watch", "delete", "deletecollection"} <= set(
        events["verbs"])
    assert http.get("/apis").json()["kind"] == "APIGroupList"
    assert http.get("/version").json()["minor"] == "32"


def test_list_as_table_has_the_event_columns(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "e1", reason="Joined", message="  hi  "))
    body = http.get(f"/api/v1/namespaces/{ns}/events", headers={"Accept": TABLE_ACCEPT}).json()
    assert body["kind"] == "Table"
    names = [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Last Seen", "Type", "Reason", "Object", "Message"]
    [row] = body["rows"]
    assert row["cells"][1:4] == ["Normal", "Joined", "pod/web-0"]
    assert row["cells"][6] == "hi"
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_a_watch_as_table_sends_one_row_per_event(http: Http, ns: str) -> None:
    w = http.session.get(http.url(f"/api/v1/namespaces/{ns}/events"),
                         params={"watch": "1", "resourceVersion": "1", "timeoutSeconds": "5"},
                         headers={"Accept": TABLE_ACCEPT}, stream=True, timeout=10)
    http.create(ns, event(ns, "e1"))
    import json

    msg = json.loads(next(li for li in w.iter_lines() if li))
    assert msg["type"] == "ADDED" and msg["object"]["kind"] == "Table"
    assert msg["object"]["rows"][0]["cells"][9] == "e1"
    w.close()
