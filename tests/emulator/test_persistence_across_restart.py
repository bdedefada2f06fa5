"""The state file keeps Events, the counter and history across an emulator restart."""

from __future__ import annotations

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event


def test_events_and_the_resource_version_survive_a_restart(kubeapi: KubeAPI) -> None:
    h = Http(kubeapi, kubeapi.admin_token())
    h.create("ns", event("ns", "e1"))
    last = h.create("ns", event("ns", "e2"))["metadata"]["resourceVersion"]
    port = kubeapi.port
    assert kubeapi.restart() == 0
    assert kubeapi.port == port
    body = h.get("/api/v1/namespaces/ns/events").json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["e1", "e2"]
    assert body["metadata"]["resourceVersion"] == last
    after = h.create("ns", event("ns", "e3"))["metadata"]["resourceVersion"]
    assert int(after) == int(last) + 1
    h.close()


def test_a_watcher_resumes_after_restart_from_a_recent_version(kubeapi: KubeAPI) -> None:
    h = Http(kubeapi, kubeapi.admin_token())
    mark = h.create("ns", event("ns", "seen"))["metadata"]["resourceVersion"]
    h.create("ns", event("ns", "missed-before-restart"))
    w = h.watch("/api/v1/namespaces/ns/events", resourceVersion=mark, timeoutSeconds=30)
    assert w.next()["object"]["metadata"]["name"] == "missed-before-restart"
    kubeapi.restart()
    assert w.rest() == []  # server shutdown just closes the stream
    h2 = Http(kubeapi, kubeapi.admin_token())
    h2.create("ns", event("ns", "missed-during-restart"))
    resumed = h2.watch("/api/v1/namespaces/ns/events", resourceVersion=mark, timeoutSeconds=1)
    names = [m["object"]["metadata"]["name"] for m in resumed.rest()]
    assert names == ["missed-before-restart", "missed-during-restart"]
    h.close()
    h2.close()


def test_a_compacted_version_is_still_410_after_restart(kubeapi: KubeAPI) -> None:
    h = Http(kubeapi, kubeapi.admin_token())
    old = h.create("ns", event("ns"))["metadata"]["resourceVersion"]
    h.create("ns", event("ns"))
    kubeapi.fault("compact")
    kubeapi.restart()
    lines = h.watch("/api/v1/namespaces/ns/events", resourceVersion=old).rest()
    assert [m["object"]["code"] for m in lines] == [410]
    h.close()


def test_the_state_file_grows_by_one_line_per_write(kubeapi: KubeAPI) -> None:
    h = Http(kubeapi, kubeapi.admin_token())
    before = kubeapi.state_file.read_bytes().count(b"\n")
    for _ in range(5):
        h.create("ns", event("ns"))
    assert kubeapi.state_file.read_bytes().count(b"\n") == before + 5
    h.close()


def test_tokens_survive_a_restart(kubeapi: KubeAPI) -> None:
    kubeapi.kubeconfig_for("ns", "api")
    token = kubeapi.admin_token()
    kubeapi.restart()
    assert kubeapi.admin_token() == token
    h = Http(kubeapi, token)
    assert h.get("/api/v1/namespaces/ns/events").status_code == 200
    h.close()
