"""With the watch cache off for Events, no BOOKMARK is ever sent, even when asked for."""

from __future__ import annotations

from tests.emulator.conftest import Http, event


def test_allow_watch_bookmarks_yields_no_bookmark_events(http: Http) -> None:
    w = http.watch("/api/v1/namespaces/ns/events", allowWatchBookmarks="true",
                   resourceVersion="1", timeoutSeconds=2)
    http.create("ns", event("ns", "e1"))
    http.create("other", event("other", "e2"))
    types = [m["type"] for m in w.rest()]
    assert types == ["ADDED"]
