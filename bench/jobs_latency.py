"""Job transition → browser latency (issue 24): ``python -m bench jobs``.

Two ``pushsvc serve`` pods (JWT mode, Kubernetes bus, PUSHSVC_JOB_NOTIFY on) on the API
emulator; alice has one python-socketio client on each pod. For each of a bounded number of
Jobs labelled ``pushsvc.io/notify=true`` and annotated for alice, this process creates the Job,
then writes its status as the Job controller would (running, then succeeded), one Job at a
time. The latency of a transition is from just before its write (the create, or the status
update) is sent to the emulator until a client receives the ``pushsvc_job`` event: the
leader's watch line, its Event create, every pod's watch line and the Socket.IO frame — all
on one machine clock. p50/p99 over every (transition, client) pair.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from contextlib import ExitStack
from typing import Any

import jwt
import socketio

from bench.common import Context, Row, ScenarioResult, latency_summary

log = logging.getLogger(__name__)

NAMESPACE = "pushsvc"
ALICE = "alice@example.com"
SECRET = "bench-jobs-secret-" + "x" * 32
JOBS_FULL = 50
JOBS_SMOKE = 3
PHASES = ("created", "running", "succeeded")


def _rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Tab:
    """One browser tab: records the receipt time of each (Job, phase)."""

    def __init__(self, url: str, token: str) -> None:
        self.got: dict[tuple[str, str], float] = {}
        self.duplicates = 0
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("pushsvc_job", self._on_job)
        self.sio.connect(url, transports=["websocket"], auth={"token": token},
                         wait_timeout=10)

    def _on_job(self, data: dict[str, Any]) -> None:
        now = time.time()
        key = (str(data.get("name")), str(data.get("phase")))
        with self._lock:
            if key in self.got:
                self.duplicates += 1
            else:
                self.got[key] = now

    def wait(self, key: tuple[str, str], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if key in self.got:
                    return True
            time.sleep(0.002)
        return False


def run(ctx: Context) -> ScenarioResult:
    from kubernetes import client, config

    from pushsvc.testing.kubeapi import start_kubeapi
    from pushsvc.testing.procs import start_pushsvc

    result = ScenarioResult("jobs")
    count = JOBS_SMOKE if ctx.smoke else JOBS_FULL
    with ExitStack() as stack:
        workdir = ctx.log_dir / f"kubeapi-jobs-{os.getpid()}-{time.monotonic_ns()}"
        api = stack.enter_context(start_kubeapi(workdir, persist=False))
        env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_KUBECONFIG": str(api.kubeconfig),
               "PUSHSVC_BUS_NAMESPACE": NAMESPACE, "PUSHSVC_JOB_NOTIFY": "true",
               "PUSHSVC_AUTH_MODE": "jwt", "PUSHSVC_JWT_SECRET": SECRET,
               # renewed every 0.53 s, deadline 2.67 s (client-go's ratios)
               "PUSHSVC_JANITOR_LEASE_DURATION_SECONDS": "4"}
        pods = []
        for k in range(2):
            pod = start_pushsvc(env={**env, "PUSHSVC_POD_NAME": f"bench-jobs-{k}"},
                                log_dir=ctx.log_dir)
            stack.callback(pod.stop)
            pods.append(pod)
        token = jwt.encode({"sub": ALICE, "exp": time.time() + 3600}, SECRET,
                           algorithm="HS256")
        tabs = [_Tab(pod.url, token) for pod in pods]
        for tab in tabs:
            stack.callback(tab.sio.disconnect)
        jobs = client.BatchV1Api(config.new_client_from_config(config_file=str(api.kubeconfig)))
        # The first Job waits for the Lease holder's watch to be up; it is not measured.
        names = ["warmup", *(f"bench-{k}" for k in range(count))]
        sent: dict[tuple[str, str], float] = {}
        missing = 0
        for name in names:
            body = client.V1Job(
                metadata=client.V1ObjectMeta(name=name, labels={"pushsvc.io/notify": "true"},
                                             annotations={"pushsvc.io/notify-user": ALICE}),
                spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="c", image="bench:1")]))))
            statuses: list[tuple[str, dict[str, Any]]] = [
                ("running", {"start_time": _rfc3339(), "active": 1}),
                ("succeeded", {"start_time": _rfc3339(), "succeeded": 1,
                               "completion_time": _rfc3339(),
                               "conditions": [{"type": "Complete", "status": "True"}]})]
            sent[(name, "created")] = time.time()
            jobs.create_namespaced_job(NAMESPACE, body)
            missing += _await(tabs, (name, "created"), warmup=name == "warmup")
            for phase, status in statuses:
                job = jobs.read_namespaced_job(name, NAMESPACE)
                job.status = client.V1JobStatus(**status)
                sent[(name, phase)] = time.time()
                jobs.replace_namespaced_job_status(name, NAMESPACE, job)
                missing += _await(tabs, (name, phase), warmup=name == "warmup")
        latencies = [(tab.got[key] - at) * 1000 for key, at in sent.items()
                     if key[0] != "warmup" for tab in tabs if key in tab.got]
        summary = latency_summary(latencies)
        duplicates = sum(tab.duplicates for tab in tabs)
    result.raw = {"jobs": count, "transitions": count * len(PHASES), "clients": len(tabs),
                  "latency_ms": summary, "missing": missing, "duplicates": duplicates}
    result.rows = [
        Row(f"Job transition → browser p50 ({count} Jobs x 3 transitions, 2 pods)",
            summary["p50"], None, "ms", higher_is_better=False, baseline_name="-"),
        Row("Job transition → browser p99", summary["p99"], None, "ms",
            higher_is_better=False, baseline_name="-"),
    ]
    result.notes.append(f"jobs: {len(latencies)} receipts, {missing} missing, {duplicates} "
                        "duplicates; from the write's send (create or status update) to the "
                        "client's receipt, one clock")
    if missing or duplicates:
        result.errors.append(f"jobs: {missing} transitions missing, {duplicates} duplicated")
    log.info("jobs latency: %s", summary)
    return result


def _await(tabs: list[_Tab], key: tuple[str, str], *, warmup: bool) -> int:
    """Wait for every tab to have ``key``; returns how many never got it."""
    return sum(not tab.wait(key, timeout=60 if warmup else 30) for tab in tabs)
