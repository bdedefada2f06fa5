"""Compaction: a watch from a compacted resourceVersion gets the 410 Expired ERROR line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client, config, watch

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event, wait_for

EXPIRED = {"type": "ERROR", "object": {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "The resourceVersion for the provided watch is too old.",
    "reason": "Expired", "code": 410}}


def test_watching_from_a_compacted_version_gives_200_one_error_line_then_close(
        kubeapi: KubeAPI, http: Http) -> None:
    old = http.create("quiet", event("quiet"))["metadata"]["resourceVersion"]
    http.create("busy", event("busy"))  # writes elsewhere move the global counter
    kubeapi.fault("compact")
    resp = http.session.get(http.url("/api/v1/namespaces/quiet/events"),
                            params={"watch": "1", "resourceVersion": old}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert [line for line in resp.text.splitlines()] == [
        '{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},'
        '"status":"Failure","message":"The resourceVersion for the provided watch is too old.",'
        '"reason":"Expired","code":410}}']
    assert resp.json() == EXPIRED


def test_the_current_version_is_still_watchable_after_compaction(
        kubeapi: KubeAPI, http: Http) -> None:
    rv = http.create("ns", event("ns"))["metadata"]["resourceVersion"]
    assert kubeapi.fault("compact")["resourceVersion"] == rv
    w = http.watch("/api/v1/namespaces/ns/events", resourceVersion=rv, timeoutSeconds=10)
    http.create("ns", event("ns", "next"))
    assert w.next()["object"]["metadata"]["name"] == "next"
    w.close()


def test_periodic_compaction_runs_at_the_configured_interval(
        kubeapi_factory: Callable[..., KubeAPI]) -> None:
    api = kubeapi_factory(compaction_interval=0.3)
    h = Http(api, api.admin_token())
    old = h.create("ns", event("ns"))["metadata"]["resourceVersion"]
    h.create("ns", event("ns"))
    wait_for(lambda: int(api.stats()["compacted_resource_version"]) > int(old))
    lines = h.watch("/api/v1/namespaces/ns/events", resourceVersion=old).rest()
    assert lines == [EXPIRED]
    h.close()


def test_the_python_client_raises_api_exception_410(kubeapi: KubeAPI, http: Http) -> None:
    old = http.create("ns", event("ns"))["metadata"]["resourceVersion"]
    http.create("ns", event("ns"))
    kubeapi.fault("compact")
    api_client = config.new_client_from_config(config_file=str(kubeapi.kubeconfig))
    v1 = client.CoreV1Api(api_client)
    with pytest.raises(client.ApiException) as info:
        for _ in watch.Watch().stream(v1.list_namespaced_event, "ns", resource_version=old,
                                      timeout_seconds=5):
            pass
    assert info.value.status == 410
    api_client.close()
