"""timeoutSeconds ends a stream cleanly; without it the server picks 1800-3600 s."""

from __future__ import annotations

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event, wait_for


def test_timeout_seconds_ends_the_stream_without_an_error_line(http: Http) -> None:
    http.create("ns", event("ns", "e1"))
    w = http.watch("/api/v1/namespaces/ns/events", timeoutSeconds=1)
    lines = w.rest(timeout=15)
    assert [m["type"] for m in lines] == ["ADDED"]
    assert w.ended.is_set()


def test_without_timeout_seconds_the_server_picks_30_to_60_minutes(
        kubeapi: KubeAPI, http: Http) -> None:
    watches = [http.watch("/api/v1/namespaces/ns/events") for _ in range(3)]
    stats = wait_for(lambda: (s := kubeapi.stats())["open_watches"] == 3 and s)
    remaining = stats["watch_seconds_left"]
    assert len(remaining) == 3
    assert all(1790 <= r <= 3600 for r in remaining)
    for w in watches:
        w.close()
    wait_for(lambda: kubeapi.stats()["open_watches"] == 0)
