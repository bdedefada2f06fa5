"""The change history is bounded as the API server's storage bounds it: past ``max_history``
changes the oldest are compacted, and the periodic compactor compacts to the revision it saw
one interval earlier. A watch from before the compaction point gets the real 410 ERROR line,
a continued list from before it a 410 Status (with a token that continues inconsistently),
and the state file is rewritten so the disk levels off too. Before this, nothing but the
5-minute compaction to "now" trimmed the history, and the state file only grew (12 000
writes: about 7 MiB).
"""

from __future__ import annotations

from collections.abc import Callable

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event, wait_for

MAX_HISTORY = 100
EXPIRED = {"type": "ERROR", "object": {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "The resourceVersion for the provided watch is too old.",
    "reason": "Expired", "code": 410}}


def test_many_creates_keep_the_history_bounded_and_an_old_watch_gets_410(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(max_history=MAX_HISTORY)
    h = Http(api, api.admin_token())
    first = h.create("busy", event("busy"))["metadata"]["resourceVersion"]
    most = 0
    for n in range(2000):
        h.create("busy", event("busy", f"e-{n}"))
        if n % 2:  # deletions are changes too, as the janitor's are
            assert h.delete(f"/api/v1/namespaces/busy/events/e-{n - 1}").status_code == 200
        if n % 100 == 0:
            most = max(most, api.stats()["history"])
    stats = api.stats()
    assert most <= MAX_HISTORY * 1.1 and stats["history"] <= MAX_HISTORY * 1.1
    assert stats["max_history"] == MAX_HISTORY
    assert int(stats["compacted_resource_version"]) > int(first)
    assert h.watch("/api/v1/namespaces/busy/events", resourceVersion=first).rest() == [EXPIRED]

    # The last changes are still there to resume from, in order.
    last = stats["resource_version"]
    recent = str(int(last) - 10)
    lines = h.watch("/api/v1/namespaces/busy/events", resourceVersion=recent,
                    timeoutSeconds=1).rest()
    assert [int(x["object"]["metadata"]["resourceVersion"]) for x in lines] == list(
        range(int(recent) + 1, int(last) + 1))
    h.close()


def test_a_continued_list_from_before_the_compaction_point_gets_410_expired(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(max_history=MAX_HISTORY)
    h = Http(api, api.admin_token())
    for n in range(5):
        h.create("paged", event("paged", f"p-{n}"))
    page = h.get("/api/v1/namespaces/paged/events", params={"limit": 2}).json()
    token = page["metadata"]["continue"]
    listed_at = page["metadata"]["resourceVersion"]
    for _ in range(MAX_HISTORY * 2):
        h.create("other", event("other"))
    resp = h.get("/api/v1/namespaces/paged/events", params={"limit": 2, "continue": token})
    assert resp.status_code == 410
    body = resp.json()
    assert body["kind"] == "Status" and body["reason"] == "Expired" and body["code"] == 410
    assert body["message"].startswith("The provided continue parameter is too old")
    # The new token continues after the same key, from the current revision.
    rest = h.get("/api/v1/namespaces/paged/events",
                 params={"limit": 10, "continue": body["metadata"]["continue"]}).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p-2", "p-3", "p-4"]
    exact = h.get("/api/v1/namespaces/paged/events",
                  params={"resourceVersion": listed_at, "resourceVersionMatch": "Exact"})
    assert exact.status_code == 410
    assert exact.json()["message"] == "The resourceVersion for the provided list is too old."
    h.close()


def test_the_periodic_compactor_keeps_one_interval_of_history(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(compaction_interval=2.0)
    h = Http(api, api.admin_token())
    old = h.create("ns", event("ns"))["metadata"]["resourceVersion"]
    # Two rounds later the version seen at the first is compacted; the one just written is
    # still watchable.
    wait_for(lambda: int(api.stats()["compacted_resource_version"]) >= int(old), timeout=20)
    assert h.watch("/api/v1/namespaces/ns/events", resourceVersion=str(int(old) - 1)
                   ).rest() == [EXPIRED]
    now = h.create("ns", event("ns", "now"))["metadata"]["resourceVersion"]
    w = h.watch("/api/v1/namespaces/ns/events", resourceVersion=str(int(now) - 1),
                timeoutSeconds=1)
    assert int(api.stats()["compacted_resource_version"]) < int(now)
    assert [x["object"]["metadata"]["name"] for x in w.rest()] == ["now"]
    h.close()


def test_the_state_file_levels_off_and_a_restart_keeps_the_bound(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(max_history=MAX_HISTORY)
    h = Http(api, api.admin_token())
    sizes = []
    for n in range(6000):
        h.create("busy", event("busy", f"s-{n}"))
        if n >= 10:  # ten stay, as a janitor leaves the young ones
            assert h.delete(f"/api/v1/namespaces/busy/events/s-{n - 10}").status_code == 200
        if n % 1000 == 999:
            sizes.append(api.state_file.stat().st_size)
    # Every write appends a line; rewrites keep the file under twice the live data + 1 MiB.
    assert max(sizes) < 2.5 * 1024 * 1024, sizes
    api.restart()
    h.close()
    h = Http(api, api.admin_token())
    stats = api.stats()
    assert stats["stored_events"] == 10
    assert stats["history"] <= MAX_HISTORY
    assert h.get("/api/v1/namespaces/busy/events/s-5999").status_code == 200
    h.close()
