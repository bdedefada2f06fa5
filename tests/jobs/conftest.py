"""Fixtures for the Job lifecycle tests: real pods in JWT mode on the Kubernetes API emulator,
with the job-notify component's Role loaded, and Jobs driven through their life with the
official ``kubernetes`` client (create, then ``replace_namespaced_job_status`` as the Job
controller's UpdateStatus does).

The pods run the janitor with short Lease timings (a takeover after a SIGKILL in about two
seconds) and a two-minute retention, so every transition of a test is inside the window.
"""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from emitter.client import Emitter
from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.bus.cluster import NAMESPACE, POD_ENV, Cluster, stop_cluster
from tests.bus.janitor_support import leaders
from tests.support.pushsvc_proc import REPO_ROOT, PushsvcProcess, start_pushsvc
from tests.support.sio_client import RecordingClient, wait_until
from tests.support.tokens import Tokens, jwt_env

RBAC_TEXT = "\n---\n".join(
    path.read_text() for path in (REPO_ROOT / "rbac" / "api.yaml",
                                  REPO_ROOT / "rbac" / "notifier.yaml",
                                  REPO_ROOT / "manifests" / "job-notify" / "role.yaml",
                                  REPO_ROOT / "manifests" / "job-notify" / "rolebinding.yaml"))
JOB_ENV = {
    **POD_ENV,
    **jwt_env(),
    "PUSHSVC_JOB_NOTIFY": "true",
    "PUSHSVC_JANITOR": "true",
    "PUSHSVC_RETENTION_SECONDS": "120",
    "PUSHSVC_JANITOR_LEASE_DURATION_SECONDS": "2",
}
ALICE = "alice@example.com"
BOB = "bob@example.com"
TOKENS = Tokens()
API_USER = f"system:serviceaccount:{NAMESPACE}:pushsvc-api"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobCluster:
    """Pods, tabs and Jobs of one test module."""

    def __init__(self, api: KubeAPI, pods: list[PushsvcProcess], log_dir: Path) -> None:
        self.api = api
        self.cluster = Cluster(api, pods, api.kubeconfig_for(NAMESPACE, "pushsvc-notifier"),
                               log_dir)
        admin = config.new_client_from_config(config_file=str(api.kubeconfig))
        self.batch = client.BatchV1Api(admin)
        self.tabs: list[RecordingClient] = []

    @property
    def pods(self) -> list[PushsvcProcess]:
        return self.cluster.pods

    def leader(self) -> int:
        found = wait_until(lambda: leaders(self.cluster), timeout=30, what="a Lease holder")
        return int(found[0])

    def tab(self, sub: str, pod: int, **claims: Any) -> RecordingClient:
        """A python-socketio client of user ``sub`` on pod ``pod`` (claims: ``rooms=[...]``)."""
        tab = RecordingClient(transports=["websocket"])
        self.tabs.append(tab)
        tab.connect(self.pods[pod].url, auth={"token": TOKENS.mint(sub, **claims)})
        tab.wait_for("pushsvc_info")
        return tab

    def create_job(self, name: str, *, labelled: bool = True,
                   annotations: dict[str, str] | None = None) -> client.V1Job:
        job = client.V1Job(
            metadata=client.V1ObjectMeta(
                name=name, labels={"pushsvc.io/notify": "true"} if labelled else {},
                annotations=annotations if annotations is not None else {
                    "pushsvc.io/notify-user": ALICE}),
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="Never",
                containers=[client.V1Container(name="report", image="report:1")]))))
        return self.batch.create_namespaced_job(NAMESPACE, job)

    def set_status(self, name: str, **status: Any) -> client.V1Job:
        """Replace the Job's status as the Job controller does (UpdateStatus)."""
        job = self.batch.read_namespaced_job(name, NAMESPACE)
        job.status = client.V1JobStatus(**status)
        return self.batch.replace_namespaced_job_status(name, NAMESPACE, job)

    def sentinel(self, tag: str) -> None:
        """A bus message to everyone after the Jobs' Events: once a tab has it, every Job
        Event created before it was delivered (each pod delivers in watch order)."""
        with Emitter(kubeconfig=str(self.cluster.notifier_kubeconfig),
                     bus_namespace=NAMESPACE) as emitter:
            emitter.notify("sentinel", {"tag": tag})
        for tab in self.tabs:
            if tab.connected:
                tab.wait_for("sentinel", lambda p: p.get("tag") == tag, timeout=30)

    def kill(self, pod: int, sig: signal.Signals = signal.SIGKILL) -> None:
        self.pods[pod].stop(sig=sig)

    def metric(self, pod: int, name: str) -> float:
        return self.cluster.metric(pod, name)

    def job_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.api.stats()["job_requests"] if r["user"] == API_USER]

    def close(self) -> None:
        for tab in self.tabs:
            tab.close()
        stop_cluster(self.cluster)


def job_events(tab: RecordingClient, name: str) -> list[str]:
    """The transitions of Job ``name`` a tab received, in order (``phase-attempt``)."""
    return [f"{p['phase']}-{p['attempt']}" for p in tab.received("pushsvc_job")
            if isinstance(p, dict) and p.get("name") == name]


def wait_transition(tabs: list[RecordingClient], name: str, key: str) -> None:
    for tab in tabs:
        wait_until(lambda t=tab: key in job_events(t, name), timeout=40,
                   what=f"{key} of Job {name}")


def start_job_cluster(workdir: Path, *, pods: int) -> Iterator[JobCluster]:
    log_dir = REPO_ROOT / "artifacts" / "jobs" / workdir.name
    with start_kubeapi(workdir / "kubeapi") as api:
        api.set_rbac(RBAC_TEXT)
        env = {**JOB_ENV, "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE,
                                                                         "pushsvc-api"))}
        started: list[PushsvcProcess] = []
        try:
            for k in range(pods):
                started.append(start_pushsvc(env={**env, "PUSHSVC_POD_NAME": f"pushsvc-{k}"},
                                             log_dir=log_dir))
            jc = JobCluster(api, started, log_dir)
            jc.cluster.wait_all_watching()
            yield jc
        finally:
            for pod in started:
                if pod.is_running():
                    pod.stop()


@pytest.fixture(scope="session")
def job_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobCluster]:
    """Two pods shared by the Job tests (a test that kills a pod starts its own)."""
    gen = start_job_cluster(tmp_path_factory.mktemp("jobs"), pods=2)
    jc = next(gen)
    try:
        yield jc
    finally:
        jc.close()
        gen.close()


@pytest.fixture
def three_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobCluster]:
    gen = start_job_cluster(tmp_path_factory.mktemp("jobs-leader"), pods=3)
    jc = next(gen)
    try:
        yield jc
    finally:
        jc.close()
        gen.close()
