"""Three real ``pushsvc serve`` processes on one Kubernetes API emulator (shared by tests/bus).

The pods run as ServiceAccount ``pushsvc-api`` and the notifier as ``pushsvc-notifier``, with
the shipped ``rbac/api.yaml`` and ``rbac/notifier.yaml`` loaded into the emulator. Short watch
timeouts (4 s server, 6 s read) make every test cross several routine reconnects and let a
stalled watch recover quickly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.support.pushsvc_proc import REPO_ROOT, PushsvcProcess, start_pushsvc
from tests.support.sio_client import RecordingClient, wait_until

NAMESPACE = "pushsvc"
RBAC_TEXT = "\n---\n".join(
    (REPO_ROOT / "rbac" / name).read_text() for name in ("api.yaml", "notifier.yaml")
)
POD_ENV = {
    "PUSHSVC_BUS": "kubernetes",
    "PUSHSVC_BUS_NAMESPACE": NAMESPACE,
    "PUSHSVC_WATCH_TIMEOUT_SECONDS": "4",  # the read timeout follows: 4 + 2 s
    "PUSHSVC_WATCH_DOWN_GRACE_SECONDS": "2",
    "PUSHSVC_WATCH_BACKOFF_MAX_SECONDS": "2",  # reset after 4 s healthy
    # Tests here count the bus Events; the session outlives the 5-minute retention, so the
    # janitor is off unless a test turns it on (tests/bus/janitor_support.py).
    "PUSHSVC_JANITOR": "false",
    # Presence's Lease traffic would share the pods' APF budget and request counts with the
    # bus; tests/presence turns it on.
    "PUSHSVC_PRESENCE": "false",
}


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


@dataclass
class Cluster:
    api: KubeAPI
    pods: list[PushsvcProcess]
    notifier_kubeconfig: Path
    log_dir: Path
    namespace: str = NAMESPACE
    #: What every pod of this cluster was started with (``add_pod`` starts one more).
    base_env: dict[str, str] = field(default_factory=dict)
    _clients: list[RecordingClient] = field(default_factory=list)

    def add_pod(self, env: dict[str, str]) -> PushsvcProcess:
        """Start one more pod with the cluster's settings plus ``env`` (a rolling update
        leaves pods with different settings side by side); stopped with the others."""
        pod = start_pushsvc(env={**self.base_env, "PUSHSVC_POD_NAME":
                                 f"pushsvc-{len(self.pods)}", **env}, log_dir=self.log_dir)
        self.pods.append(pod)
        return pod

    def connect(self, pod: int, *, rooms: tuple[str, ...] = ()) -> RecordingClient:
        client = RecordingClient(transports=["websocket"]).connect(self.pods[pod].url)
        self._clients.append(client)
        client.wait_for(predicate=lambda p: p.get("data") == "Connected")
        for room in rooms:
            client.emit("join", {"room": room})
            client.wait_for(predicate=lambda p, r=room: r in str(p.get("data")))
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    def ready(self, pod: int) -> bool:
        return http_get(f"{self.pods[pod].url}/readyz")[0] == 200

    def health(self, pod: int) -> dict[str, Any]:
        """The pod's /internal/health (asked from loopback, as a probe on the pod would)."""
        status, body = http_get(f"{self.pods[pod].url}/internal/health")
        assert status == 200, body
        result: dict[str, Any] = json.loads(body)
        return result

    def watching(self, pod: int) -> bool:
        try:
            return bool(self.health(pod)["bus"]["watch_up"])
        except (AssertionError, ValueError, KeyError):
            return False

    def wait_all_watching(self, timeout: float = 60) -> None:
        """Every pod ready with its watch up (the emulator sees as many open watches)."""
        wait_until(lambda: all(self.ready(i) and self.watching(i) for i in range(len(self.pods)))
                   and self.api.stats()["open_watches"] >= len(self.pods),
                   timeout=timeout, what="every pod watching")

    def token(self, kubeconfig: Path) -> str:
        doc = yaml.safe_load(kubeconfig.read_text())
        return str(doc["users"][0]["user"]["token"])

    def post_event(self, body: dict[str, Any]) -> int:
        """Create an Event with raw HTTP as the notifier (``create`` rights only)."""
        req = urllib.request.Request(
            f"{self.api.url}/api/v1/namespaces/{self.namespace}/events",
            data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token(self.notifier_kubeconfig)}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def bus_events(self) -> list[dict[str, Any]]:
        out = self.kubectl("get", "events", "-n", self.namespace, "-l",
                           "pushsvc.io/channel=pushsvc", "-o", "json")
        return list(json.loads(out)["items"])

    def kubectl(self, *args: str) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.api.kubeconfig), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def metric(self, pod: int, name: str) -> float:
        text = http_get(f"{self.pods[pod].url}/metrics")[1]
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def start_stream(self, *, count: int, tag: str, room: str | None = None,
                     every: int = 50) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "tests.bus.stream_notifier", "--kubeconfig",
               str(self.notifier_kubeconfig), "--namespace", self.namespace, "--count",
               str(count), "--tag", tag, "--every", str(every)]
        if room:
            cmd += ["--room", room]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)


def read_until_sent(proc: subprocess.Popen[str], sent: int) -> None:
    """Block until the notifier reports ``sent`` messages (or ends)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sent ") and int(line.split()[1]) >= sent:
            return
        if line.startswith(("done", "failed")) or "Error" in line:
            raise AssertionError(f"notifier ended early: {line}")
    raise AssertionError("notifier ended before the fault point")


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def numbered(client: RecordingClient, tag: str) -> list[int]:
    return [p["n"] for p in client.received("seq") if isinstance(p, dict) and p.get("tag") == tag]


def start_cluster(api: KubeAPI, *, pods: int, log_dir: Path,
                  env: dict[str, str] | None = None) -> Cluster:
    """``pods`` pods on ``api`` (RBAC loaded here); the caller stops them (``stop_cluster``)."""
    api.set_rbac(RBAC_TEXT)
    base = {**POD_ENV, "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE, "pushsvc-api")),
            **(env or {})}
    started: list[PushsvcProcess] = []
    try:
        for k in range(pods):
            started.append(start_pushsvc(env={**base, "PUSHSVC_POD_NAME": f"pushsvc-{k}"},
                                         log_dir=log_dir))
    except BaseException:
        for pod in started:
            pod.stop()
        raise
    return Cluster(api, started, api.kubeconfig_for(NAMESPACE, "pushsvc-notifier"), log_dir,
                   base_env=base)


def stop_cluster(c: Cluster) -> None:
    c.close_clients()
    for pod in c.pods:
        if pod.is_running():
            pod.stop()


@pytest.fixture
def cluster_factory() -> Iterator[Any]:
    """Start a small cluster of its own on an emulator: ``cluster_factory(api, pods=2, env=...)``.

    For tests that break the API server (stop it, restore an old state) without disturbing
    the shared three-pod cluster.
    """
    made: list[Cluster] = []
    log_dir = REPO_ROOT / "artifacts" / "bus" / "own-clusters"

    def factory(api: KubeAPI, *, pods: int = 2, env: dict[str, str] | None = None) -> Cluster:
        c = start_cluster(api, pods=pods, log_dir=log_dir, env=env)
        made.append(c)
        return c

    yield factory
    for c in made:
        stop_cluster(c)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("bus")
    log_dir = REPO_ROOT / "artifacts" / "bus" / workdir.name
    with start_kubeapi(workdir / "kubeapi") as api:
        api.set_rbac(RBAC_TEXT)
        env = {**POD_ENV, "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE,
                                                                         "pushsvc-api"))}
        pods: list[PushsvcProcess] = []
        try:
            for k in range(3):
                pods.append(start_pushsvc(env={**env, "PUSHSVC_POD_NAME": f"pushsvc-{k}"},
                                          log_dir=log_dir))
            c = Cluster(api, pods, api.kubeconfig_for(NAMESPACE, "pushsvc-notifier"), log_dir)
            c.wait_all_watching()
            yield c
            c.close_clients()
        finally:
            for pod in pods:
                pod.stop()


def rbac_without_api_grant() -> str:
    docs = [d for d in yaml.safe_load_all(RBAC_TEXT) if d]
    kept = [d for d in docs if not (d["kind"] in ("Role", "RoleBinding")
                                    and d["metadata"]["name"] == "pushsvc-api")]
    return yaml.safe_dump_all(kept)


def wait_stream_delivered(clients: list[RecordingClient], tag: str, count: int,
                          timeout: float = 90) -> None:
    wait_until(lambda: all(len(numbered(c, tag)) >= count for c in clients), timeout=timeout,
               what=f"{count} '{tag}' messages at every client")
    time.sleep(0.5)  # a late duplicate would arrive now; the assertion below would catch it
