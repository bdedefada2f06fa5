"""One resourceVersion counter across the whole cluster, exposed as opaque strings."""

from __future__ import annotations

from tests.emulator.conftest import Http, event


def test_every_write_in_any_namespace_advances_one_counter(http: Http) -> None:
    a1 = http.create("team-a", event("team-a"))["metadata"]["resourceVersion"]
    b1 = http.create("team-b", event("team-b"))["metadata"]["resourceVersion"]
    a2 = http.create("team-a", event("team-a"))["metadata"]["resourceVersion"]
    assert all(isinstance(rv, str) for rv in (a1, b1, a2))
    assert int(a1) < int(b1) < int(a2)
    list_a = http.get("/api/v1/namespaces/team-a/events").json()
    assert list_a["metadata"]["resourceVersion"] == a2


def test_a_delete_is_a_write_with_its_own_resource_version(http: Http) -> None:
    created = http.create("team-a", event("team-a", "e1"))
    deleted = http.delete("/api/v1/namespaces/team-a/events/e1").json()
    assert int(deleted["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"])
    other = http.create("team-b", event("team-b"))
    assert int(other["metadata"]["resourceVersion"]) > int(deleted["metadata"]["resourceVersion"])
