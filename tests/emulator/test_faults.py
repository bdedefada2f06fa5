"""Fault injection through the control endpoint: 429, stall (half-open), drop, compact."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes import client, config, watch

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event, wait_for


def test_429_hits_the_next_n_requests_with_a_plain_text_body(
        kubeapi: KubeAPI, http: Http) -> None:
    kubeapi.fault("429", count=2, retry_after=3)
    for _ in range(2):
        resp = http.get("/api/v1/namespaces/ns/events")
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.text == "Too many requests, please try again later.\n"
    assert http.get("/api/v1/namespaces/ns/events").status_code == 200
    assert kubeapi.stats()["throttled"] == 2


def test_the_python_client_retries_a_429_get_but_raises_on_a_create(
        kubeapi: KubeAPI, core_v1: client.CoreV1Api) -> None:
    # urllib3's default Retry honours Retry-After on 429 for idempotent methods only.
    kubeapi.fault("429", count=1, retry_after=1)
    assert core_v1.list_namespaced_event("ns").items == []
    assert kubeapi.stats()["throttled"] == 1
    kubeapi.fault("429", count=1, retry_after=1)
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="x."),
        involved_object=client.V1ObjectReference(kind="Pod", name="p", namespace="ns"))
    with pytest.raises(client.ApiException) as info:
        core_v1.create_namespaced_event("ns", body)
    assert info.value.status == 429
    assert info.value.headers is not None
    assert info.value.headers["Retry-After"] == "1"
    assert info.value.body == "Too many requests, please try again later.\n"


def test_stall_keeps_open_watches_silent_but_open(kubeapi: KubeAPI, http: Http) -> None:
    stalled = http.watch("/api/v1/namespaces/ns/events", resourceVersion="1", timeoutSeconds=1)
    assert kubeapi.fault("stall")["watches"] == 1
    http.create("ns", event("ns", "unseen"))
    fresh = http.watch("/api/v1/namespaces/ns/events", resourceVersion="1", timeoutSeconds=10)
    assert fresh.next()["object"]["metadata"]["name"] == "unseen"
    # Even its own timeoutSeconds cannot end it: nothing reaches the client.
    assert not stalled.ended.wait(2)
    assert stalled.lines.empty()
    kubeapi.fault("drop_watches")
    assert stalled.ended.wait(10)
    fresh.close()


def test_a_stalled_watch_hangs_the_python_client_until_its_read_timeout(
        kubeapi: KubeAPI, http: Http) -> None:
    api_client = config.new_client_from_config(config_file=str(kubeapi.kubeconfig))
    v1 = client.CoreV1Api(api_client)
    stream = watch.Watch().stream(v1.list_namespaced_event, "ns", _request_timeout=(5, 1))
    http.create("ns", event("ns", "first"))
    assert next(stream)["object"].metadata.name == "first"
    kubeapi.fault("stall")
    http.create("ns", event("ns", "second"))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        next(stream)
    api_client.close()


def test_drop_watches_closes_every_open_stream(kubeapi: KubeAPI, http: Http) -> None:
    watches = [http.watch("/api/v1/namespaces/ns/events", timeoutSeconds=60) for _ in range(3)]
    wait_for(lambda: kubeapi.stats()["open_watches"] == 3)
    assert kubeapi.fault("drop_watches")["watches"] == 3
    for w in watches:
        assert w.ended.wait(10)
    assert kubeapi.stats()["open_watches"] == 0


def test_stats_count_creates_lists_watches_and_cpu(kubeapi: KubeAPI, http: Http) -> None:
    http.create("ns", event("ns"))
    http.get("/api/v1/namespaces/ns/events")
    http.watch("/api/v1/namespaces/ns/events", timeoutSeconds=1).rest()
    stats = kubeapi.stats()
    assert stats["creates"] == 1 and stats["lists"] == 1 and stats["watches"] == 1
    assert stats["stored_events"] == 1
    assert stats["resource_version"] == "2"
    assert stats["cpu_seconds"] > 0


def test_a_closed_client_connection_unregisters_its_watch(kubeapi: KubeAPI,
                                                          http: Http) -> None:
    w = http.watch("/api/v1/namespaces/ns/events")
    wait_for(lambda: kubeapi.stats()["open_watches"] == 1)
    w.close()
    wait_for(lambda: kubeapi.stats()["open_watches"] == 0)
