"""Events expire after the TTL (a setting) and watchers receive DELETED."""

from __future__ import annotations

from collections.abc import Callable

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event, wait_for


def test_an_expired_event_is_deleted_and_watchers_see_deleted(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(event_ttl=1)
    h = Http(api, api.admin_token())
    w = h.watch("/api/v1/namespaces/ns/events", timeoutSeconds=20)
    created = h.create("ns", event("ns", "short-lived"))
    added = w.next()
    assert added["type"] == "ADDED"
    deleted = w.next(timeout=10)
    assert deleted["type"] == "DELETED"
    assert deleted["object"]["metadata"]["name"] == "short-lived"
    assert int(deleted["object"]["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"])
    assert h.get("/api/v1/namespaces/ns/events").json()["items"] == []
    assert wait_for(lambda: api.stats()["expired"] == 1)
    w.close()
    h.close()
