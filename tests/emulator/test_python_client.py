"""The official ``kubernetes`` Python client against the emulator."""

from __future__ import annotations

import threading
import time

from kubernetes import client, watch

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http


def _event(namespace: str, name: str | None = None) -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, generate_name=None if name else "py.",
                                     labels={"app": "pushsvc"}),
        involved_object=client.V1ObjectReference(kind="Pod", name="web-0",
                                                 namespace=namespace),
        reason="Pushed", message="from python", type="Normal")


def test_create_and_list_namespaced_event(core_v1: client.CoreV1Api) -> None:
    created = core_v1.create_namespaced_event("ns", _event("ns"))
    assert created.metadata is not None and created.metadata.name is not None
    assert created.metadata.name.startswith("py.")
    listed = core_v1.list_namespaced_event("ns", label_selector="app=pushsvc")
    assert listed.metadata is not None
    assert [e.metadata.name for e in listed.items] == [created.metadata.name]
    assert listed.metadata.resource_version == created.metadata.resource_version
    read = core_v1.read_namespaced_event(created.metadata.name, "ns")
    assert read.message == "from python"


def test_watch_stream_with_timeout_seconds_ends_and_the_caller_loops(
        core_v1: client.CoreV1Api) -> None:
    core_v1.create_namespaced_event("ns", _event("ns", "before"))

    def later() -> None:
        time.sleep(0.3)
        core_v1.create_namespaced_event("ns", _event("ns", "during"))

    t = threading.Thread(target=later)
    t.start()
    w = watch.Watch()
    got = [(e["type"], e["object"].metadata.name)
           for e in w.stream(core_v1.list_namespaced_event, "ns", timeout_seconds=2,
                             _request_timeout=(5, 10))]
    t.join()
    assert got == [("ADDED", "before"), ("ADDED", "during")]
    # The client advanced its resource version; a second loop resumes from there.
    got2 = [e["object"].metadata.name
            for e in w.stream(core_v1.list_namespaced_event, "ns", timeout_seconds=1,
                              resource_version=w.resource_version)]
    assert got2 == []


def test_watch_sees_deletes_and_deletecollection(kubeapi: KubeAPI, http: Http,
                                                 core_v1: client.CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        core_v1.create_namespaced_event("ns", _event("ns", name))
    meta = core_v1.list_namespaced_event("ns").metadata
    assert meta is not None
    start = meta.resource_version
    core_v1.delete_namespaced_event("a", "ns")
    core_v1.delete_collection_namespaced_event("ns", label_selector="app=pushsvc")
    got = [(e["type"], e["object"].metadata.name)
           for e in watch.Watch().stream(core_v1.list_namespaced_event, "ns",
                                         resource_version=start, timeout_seconds=1)]
    assert got == [("DELETED", "a"), ("DELETED", "b"), ("DELETED", "c")]
    assert core_v1.list_namespaced_event("ns").items == []
    assert kubeapi.stats()["stored_events"] == 0
    del http
