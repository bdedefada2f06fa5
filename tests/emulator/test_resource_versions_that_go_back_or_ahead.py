"""Resource versions the store does not have (kubernetes-facts.md, "Resource versions that go
backwards or ahead"): an etcd restore sends the version back; list/get from a version not
reached yet answer 504 "Too large resource version"; a watch from one waits silently."""

from __future__ import annotations

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event


def test_a_list_or_get_from_a_version_not_reached_yet_is_a_504_timeout_status(
        kubeapi: KubeAPI, http: Http) -> None:
    created = http.create("ns", event("ns", "one"))
    current = int(created["metadata"]["resourceVersion"])
    for path in ("/api/v1/namespaces/ns/events", "/api/v1/namespaces/ns/events/one"):
        resp = http.get(path, params={"resourceVersion": str(current + 100)})
        assert resp.status_code == 504
        assert resp.headers["Retry-After"] == "1"
        body = resp.json()
        assert body["reason"] == "Timeout" and body["code"] == 504
        assert body["message"] == f"Too large resource version: {current + 100}, current: " \
                                  f"{current}"
        assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert http.get("/api/v1/namespaces/ns/events",
                    params={"resourceVersion": str(current)}).status_code == 200


def test_a_watch_from_a_version_not_reached_yet_waits_silently_for_it(
        kubeapi: KubeAPI, http: Http) -> None:
    current = int(http.create("ns", event("ns", "one"))["metadata"]["resourceVersion"])
    w = http.watch("/api/v1/namespaces/ns/events", resourceVersion=str(current + 2),
                   timeoutSeconds=10)
    http.create("ns", event("ns", "below"))  # current + 1
    http.create("ns", event("ns", "at"))     # current + 2
    http.create("ns", event("ns", "above"))  # current + 3: the first change after it
    assert w.next()["object"]["metadata"]["name"] == "above"
    w.close()


def test_restoring_a_snapshot_sends_the_resource_version_back_and_drops_watches(
        kubeapi: KubeAPI, http: Http) -> None:
    http.create("ns", event("ns", "kept"))
    snap = int(kubeapi.fault("snapshot")["resourceVersion"])
    for n in range(5):
        http.create("ns", event("ns", f"lost{n}"))
    w = http.watch("/api/v1/namespaces/ns/events", resourceVersion=str(snap + 5),
                   timeoutSeconds=30)
    restored = kubeapi.fault("restore")
    assert restored["resourceVersion"] == str(snap) and restored["watches"] == 1
    assert w.ended.wait(10)
    listed = http.get("/api/v1/namespaces/ns/events").json()
    assert listed["metadata"]["resourceVersion"] == str(snap)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["kept"]
    # A client resuming from its old version now hears nothing, even about new Events.
    stale = http.watch("/api/v1/namespaces/ns/events", resourceVersion=str(snap + 5),
                       timeoutSeconds=2)
    new = http.create("ns", event("ns", "new"))
    assert new["metadata"]["resourceVersion"] == str(snap + 1)
    assert stale.rest(timeout=15) == []
    # The restore survives an emulator restart (the state file was rewritten).
    kubeapi.restart()
    names = [i["metadata"]["name"] for i in Http(kubeapi, kubeapi.admin_token()).get(
        "/api/v1/namespaces/ns/events").json()["items"]]
    assert names == ["kept", "new"]
