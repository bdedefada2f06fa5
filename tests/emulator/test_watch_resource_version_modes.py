"""The three resourceVersion modes of a watch (unset, "0", a value)."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Http, event


@pytest.fixture
def http(shared_http: Http) -> Http:
    """These tests only read and write their own namespace: share one emulator."""
    return shared_http


def test_unset_sends_synthetic_added_for_existing_events_then_changes(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "old1"))
    http.create(ns, event(ns, "old2"))
    http.create("other", event("other", "elsewhere"))
    w = http.watch(f"/api/v1/namespaces/{ns}/events", timeoutSeconds=10)
    first = w.take(2)
    assert [(m["type"], m["object"]["metadata"]["name"]) for m in first] == [
        ("ADDED", "old1"), ("ADDED", "old2")]
    http.create(ns, event(ns, "new"))
    msg = w.next()
    assert (msg["type"], msg["object"]["metadata"]["name"]) == ("ADDED", "new")
    w.close()


def test_zero_starts_from_the_current_state_like_unset_with_the_watch_cache_off(
        http: Http, ns: str) -> None:
    http.create(ns, event(ns, "old"))
    w = http.watch(f"/api/v1/namespaces/{ns}/events", resourceVersion="0", timeoutSeconds=10)
    assert w.next()["object"]["metadata"]["name"] == "old"
    http.create(ns, event(ns, "new"))
    assert w.next()["object"]["metadata"]["name"] == "new"
    w.close()


def test_a_value_sends_only_changes_after_it(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "before"))
    mark = http.create(ns, event(ns, "mark"))["metadata"]["resourceVersion"]
    http.create(ns, event(ns, "after1"))
    http.delete(f"/api/v1/namespaces/{ns}/events/before")
    w = http.watch(f"/api/v1/namespaces/{ns}/events", resourceVersion=mark, timeoutSeconds=10)
    got = [(m["type"], m["object"]["metadata"]["name"]) for m in w.take(2)]
    assert got == [("ADDED", "after1"), ("DELETED", "before")]
    http.create(ns, event(ns, "after2"))
    assert w.next()["object"]["metadata"]["name"] == "after2"
    w.close()
