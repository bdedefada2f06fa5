"""get/list bodies: EventList with resourceVersion, items without kind; limit/continue."""

from __future__ import annotations

from tests.emulator.conftest import Http, event


def test_a_list_body_has_kind_metadata_resource_version_and_bare_items(http: Http) -> None:
    created = http.create("team-a", event("team-a", "e1"))
    body = http.get("/api/v1/namespaces/team-a/events").json()
    assert body["kind"] == "EventList" and body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": created["metadata"]["resourceVersion"]}
    [item] = body["items"]
    assert "kind" not in item and "apiVersion" not in item
    assert item["metadata"]["name"] == "e1"


def test_get_returns_the_object_with_kind_and_server_set_metadata(http: Http) -> None:
    http.create("team-a", event("team-a", "e1"))
    obj = http.get("/api/v1/namespaces/team-a/events/e1").json()
    assert obj["kind"] == "Event" and obj["apiVersion"] == "v1"
    meta = obj["metadata"]
    assert meta["namespace"] == "team-a" and meta["uid"] and meta["creationTimestamp"]
    missing = http.get("/api/v1/namespaces/team-a/events/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'events "nope" not found'


def test_a_cluster_wide_list_covers_every_namespace(http: Http) -> None:
    http.create("team-a", event("team-a"))
    http.create("team-b", event("team-b"))
    items = http.get("/api/v1/events").json()["items"]
    assert sorted(i["metadata"]["namespace"] for i in items) == ["team-a", "team-b"]


def test_limit_and_continue_page_through_a_list_as_kubectl_does(http: Http) -> None:
    for i in range(7):
        http.create("team-a", event("team-a", f"e{i}"))
    names: list[str] = []
    params: dict[str, str | int] = {"limit": 3}
    pages = 0
    while True:
        body = http.get("/api/v1/namespaces/team-a/events", params=params).json()
        names += [i["metadata"]["name"] for i in body["items"]]
        pages += 1
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 7 - len(names)
        params = {"limit": 3, "continue": token}
    assert pages == 3
    assert names == [f"e{i}" for i in range(7)]


def test_continued_pages_show_the_first_pages_snapshot_not_newer_events(http: Http) -> None:
    # etcd serves every page of a paginated list at the first page's revision: an Event
    # created between pages (name "e9" sorts after the first page) must not appear.
    for i in range(4):
        http.create("team-a", event("team-a", f"e{i}"))
    first = http.get("/api/v1/namespaces/team-a/events", params={"limit": 2}).json()
    http.create("team-a", event("team-a", "e9"))
    rest = http.get("/api/v1/namespaces/team-a/events",
                    params={"limit": 10, "continue": first["metadata"]["continue"]}).json()
    names = [i["metadata"]["name"] for i in first["items"] + rest["items"]]
    assert names == ["e0", "e1", "e2", "e3"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
