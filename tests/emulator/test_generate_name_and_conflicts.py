"""generateName, and 409 AlreadyExists on a duplicate name."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Http, event


@pytest.fixture
def http(shared_http: Http) -> Http:
    """These tests only read and write their own namespace: share one emulator."""
    return shared_http


def test_generate_name_appends_five_random_characters(http: Http, ns: str) -> None:
    names = {http.create(ns, event(ns))["metadata"]["name"] for _ in range(20)}
    assert len(names) == 20
    assert all(n.startswith("ev.") and len(n) == len("ev.") + 5 for n in names)


def test_a_duplicate_name_is_409_already_exists(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "same"))
    resp = http.post(f"/api/v1/namespaces/{ns}/events", event(ns, "same"))
    assert resp.status_code == 409
    assert resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'events "same" already exists', "reason": "AlreadyExists",
        "details": {"name": "same", "kind": "events"}, "code": 409}


def test_the_same_name_in_another_namespace_is_fine(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "same"))
    http.create("team-b", event("team-b", "same"))
