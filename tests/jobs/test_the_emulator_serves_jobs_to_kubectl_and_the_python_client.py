"""The emulator serves batch/v1 Jobs as kube-apiserver does: kubectl finds them by discovery,
``kubectl create job --image=…`` (a protobuf body) creates one, ``kubectl get jobs`` prints
NAME, STATUS, COMPLETIONS, DURATION, AGE, ``kubectl get jobs -w`` shows status updates,
``--subresource=status`` patches only the status and a plain update never changes it; the
Python client lists by label selector and watches from a resourceVersion (410 once it is
compacted away)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # it starts its processes itself

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NS = "default"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    with start_kubeapi(tmp_path_factory.mktemp("kubeapi-jobs")) as handle:
        yield handle


def kubectl(api: KubeAPI, *args: str) -> str:
    done = subprocess.run([KUBECTL, "--kubeconfig", str(api.kubeconfig), "-n", NS, *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def batch(api: KubeAPI) -> client.BatchV1Api:
    return client.BatchV1Api(config.new_client_from_config(config_file=str(api.kubeconfig)))


def test_kubectl_creates_lists_watches_patches_status_and_deletes_a_job(api: KubeAPI) -> None:
    assert "job.batch/hello created" in kubectl(api, "create", "job", "hello",
                                                "--image=busybox", "--", "echo", "hi")
    header, row = kubectl(api, "get", "jobs").splitlines()
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row.split()[:3] == ["hello", "Running", "0/1"]
    job = json.loads(kubectl(api, "get", "job", "hello", "-o", "json"))
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["backoffLimit"] == 6 and job["status"] == {}

    watcher = subprocess.Popen([KUBECTL, "--kubeconfig", str(api.kubeconfig), "-n", NS, "get",
                                "jobs", "-w", "--output-watch-events"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[list[str]] = []
    pending = [b""]

    def read_until(event: str) -> None:
        # What kubectl printed so far, read from the pipe itself (a text wrapper's buffer would
        # hide lines from select): the next step waits for this event's line.
        assert watcher.stdout is not None
        fd = watcher.stdout.fileno()
        deadline = time.monotonic() + 20
        while not any(line[:1] == [event] for line in lines):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"kubectl printed no {event} line: {lines}"
            chunk = os.read(fd, 65536)
            assert chunk, f"kubectl ended before a {event} line: {lines}"
            *done, pending[0] = (pending[0] + chunk).split(b"\n")
            lines.extend(line.decode().split() for line in done if line.strip())

    try:
        wait_until(lambda: api.stats()["open_job_watches"] == 1, timeout=20,
                   what="kubectl watching")
        read_until("ADDED")
        status = {"status": {"startTime": "2026-01-01T10:00:00Z", "completionTime":
                             "2026-01-01T10:01:05Z", "succeeded": 1,
                             "conditions": [{"type": "Complete", "status": "True"}]}}
        kubectl(api, "patch", "job", "hello", "--subresource=status", "--type=merge", "-p",
                json.dumps(status))
        read_until("MODIFIED")
        kubectl(api, "delete", "job", "hello")
        read_until("DELETED")
    finally:
        watcher.terminate()
        watcher.communicate(timeout=10)
    assert ["EVENT", "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"] == lines[0]
    assert ["MODIFIED", "hello", "Complete", "1/1", "65s"] == lines[-2][:5]
    assert lines[-1][:2] == ["DELETED", "hello"]


def test_status_and_spec_are_written_separately_and_times_are_normalized(api: KubeAPI) -> None:
    jobs = batch(api)
    body = client.V1Job(metadata=client.V1ObjectMeta(name="split", labels={"a": "1"}),
                        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(
                            spec=client.V1PodSpec(restart_policy="Never", containers=[
                                client.V1Container(name="c", image="i")]))),
                        status=client.V1JobStatus(active=3))
    created = jobs.create_namespaced_job(NS, body)
    assert created.status.active is None  # a create never sets the status
    created.status = client.V1JobStatus(active=1, start_time="2026-01-01T10:00:00.5+02:00")
    updated = jobs.replace_namespaced_job_status("split", NS, created)
    assert updated.status.active == 1
    assert kubectl(api, "get", "job", "split", "-o", "jsonpath={.status.startTime}") == (
        "2026-01-01T08:00:00Z")
    updated.metadata.labels = {"a": "2"}
    updated.status = client.V1JobStatus(active=9)
    relabelled = jobs.replace_namespaced_job("split", NS, updated)
    assert relabelled.metadata.labels == {"a": "2"} and relabelled.status.active == 1
    with pytest.raises(ApiException) as stale:
        jobs.replace_namespaced_job_status("split", NS, updated)  # an old resourceVersion
    assert stale.value.status == 409


def test_the_python_client_lists_by_label_and_watches_until_the_version_is_compacted(
        api: KubeAPI) -> None:
    jobs = batch(api)
    for name, labels in (("w-a", {"pushsvc.io/notify": "true"}), ("w-b", {})):
        jobs.create_namespaced_job(NS, client.V1Job(
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="Never", containers=[client.V1Container(name="c",
                                                                       image="i")])))))
    listed = jobs.list_namespaced_job(NS, label_selector="pushsvc.io/notify=true")
    assert [j.metadata.name for j in listed.items] == ["w-a"]
    version = listed.metadata.resource_version
    jobs.patch_namespaced_job_status("w-a", NS, {"status": {"active": 1}})
    jobs.patch_namespaced_job_status("w-b", NS, {"status": {"active": 1}})
    seen = [(e["type"], e["object"].metadata.name, e["object"].status.active)
            for e in watch.Watch().stream(jobs.list_namespaced_job, NS,
                                          label_selector="pushsvc.io/notify=true",
                                          resource_version=version, timeout_seconds=1)]
    assert seen == [("MODIFIED", "w-a", 1)]
    api.fault("compact")
    with pytest.raises(ApiException) as expired:
        list(watch.Watch().stream(jobs.list_namespaced_job, NS, resource_version=version,
                                  timeout_seconds=1))
    assert expired.value.status == 410


def test_a_selector_watch_sees_a_job_arrive_when_labelled_and_leave_when_unlabelled(
        api: KubeAPI) -> None:
    jobs = batch(api)
    jobs.create_namespaced_job(NS, client.V1Job(
        metadata=client.V1ObjectMeta(name="later"),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="c", image="i")])))))
    selector = "pushsvc.io/notify=true"
    version = jobs.list_namespaced_job(NS, label_selector=selector).metadata.resource_version
    kubectl(api, "label", "job", "later", "pushsvc.io/notify=true")
    kubectl(api, "annotate", "job", "later", "note=1")
    kubectl(api, "label", "job", "later", "pushsvc.io/notify-")
    kubectl(api, "annotate", "job", "later", "note=2", "--overwrite")  # unseen: no match
    seen = [(e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(jobs.list_namespaced_job, NS,
                                          label_selector=selector, resource_version=version,
                                          timeout_seconds=1)]
    assert seen == [("ADDED", "later"), ("MODIFIED", "later"), ("DELETED", "later")]
