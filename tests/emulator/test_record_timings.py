"""``--record-timings`` (benchmarks): accept and watch-write times per Event, in a side channel
only — the Events a watch serves are the same bytes with it as without it."""

from __future__ import annotations

import time
from typing import Any

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event


def _watched_object(http: Http, name: str) -> dict[str, Any]:
    w = http.watch("/api/v1/namespaces/ns/events", resourceVersion="1", timeoutSeconds=10)
    try:
        before = time.time()
        http.create("ns", event("ns", name))
        got = w.next()["object"]
        return {"object": got, "before": before, "after": time.time()}
    finally:
        w.close()


def test_each_event_has_its_accept_time_and_one_write_time_per_watch(kubeapi_factory):
    api: KubeAPI = kubeapi_factory(extra_args=["--record-timings"])
    http = Http(api, api.admin_token())
    try:
        seen = _watched_object(http, "timed")
        record = api.timings()["timed"]
        assert seen["before"] <= record["arrived"] <= record["accepted"] <= seen["after"]
        assert len(record["written"]) == 1
        # "written" is taken when the write returned: the client may have read the line first
        assert record["accepted"] <= record["written"][0]
        assert api.timings() == {}  # a read takes the records
        assert set(seen["object"]["metadata"].get("annotations") or {}) == set()
    finally:
        http.close()


def test_without_the_flag_there_are_no_timings_and_the_same_event_is_served(kubeapi_factory):
    api: KubeAPI = kubeapi_factory()
    timed: KubeAPI = kubeapi_factory(extra_args=["--record-timings"])
    objects = []
    for one in (api, timed):
        http = Http(one, one.admin_token())
        try:
            objects.append(_watched_object(http, "same")["object"])
            status = http.get("/_emulator/timings").status_code
        finally:
            http.close()
        assert status == (400 if one is api else 200)
    plain, recorded = (dict(o, metadata={k: v for k, v in o["metadata"].items()
                                         if k not in ("uid", "creationTimestamp")})
                       for o in objects)
    assert plain == recorded
