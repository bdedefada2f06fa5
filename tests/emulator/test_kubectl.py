"""kubectl 1.32, a client nobody here wrote, against the emulator."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import KUBECTL, Http, event, kubectl

pytestmark = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl not installed")

EVENT_YAML = """\
apiVersion: v1
kind: Event
metadata:
  name: from-yaml
  namespace: team-a
involvedObject:
  kind: Pod
  name: web-0
  namespace: team-a
reason: Deployed
type: Normal
message: created by kubectl create -f
"""


def test_kubectl_get_events_prints_readable_columns(kubeapi: KubeAPI, http: Http) -> None:
    http.create("team-a", event("team-a", "e1", reason="Joined", message="alice joined",
                                lastTimestamp="2026-01-01T00:00:00Z"))
    out = kubectl(kubeapi.kubeconfig, "get", "events", "-n", "team-a")
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split()[1:] == ["Normal", "Joined", "pod/web-0", "alice", "joined"]
    empty = kubectl(kubeapi.kubeconfig, "get", "events", "-n", "nobody-here")
    assert empty.returncode == 0 and "No resources found" in empty.stderr


def test_kubectl_create_from_a_yaml_file(kubeapi: KubeAPI, http: Http, tmp_path: Path) -> None:
    path = tmp_path / "event.yaml"
    path.write_text(EVENT_YAML)
    out = kubectl(kubeapi.kubeconfig, "create", "-f", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "event/from-yaml created"
    obj = http.get("/api/v1/namespaces/team-a/events/from-yaml").json()
    assert obj["message"] == "created by kubectl create -f"
    again = kubectl(kubeapi.kubeconfig, "create", "-f", str(path))
    assert again.returncode != 0
    assert 'events "from-yaml" already exists' in again.stderr


def test_kubectl_create_validates_fields_on_the_server(kubeapi: KubeAPI) -> None:
    out = kubectl(kubeapi.kubeconfig, "create", "-f", "-",
                  stdin=EVENT_YAML.replace("reason:", "bogusField: 1\nreason:"))
    assert out.returncode != 0
    assert 'strict decoding error: unknown field "bogusField"' in out.stderr


def test_kubectl_delete_events_all(kubeapi: KubeAPI, http: Http) -> None:
    for i in range(3):
        http.create("team-a", event("team-a", f"e{i}"))
    http.create("team-b", event("team-b", "keep"))
    out = kubectl(kubeapi.kubeconfig, "delete", "events", "--all", "-n", "team-a")
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == [f'event "e{i}" deleted' for i in range(3)]
    assert http.get("/api/v1/namespaces/team-a/events").json()["items"] == []
    assert len(http.get("/api/v1/namespaces/team-b/events").json()["items"]) == 1


def test_kubectl_get_events_watch_sees_new_events(kubeapi: KubeAPI, http: Http) -> None:
    http.create("team-a", event("team-a", "existing", message="was-here"))
    proc = subprocess.Popen([KUBECTL, "--kubeconfig", str(kubeapi.kubeconfig), "get", "events",
                             "-w", "-n", "team-a"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for li in stdout:
            lines.put(li)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        created = False
        while time.monotonic() < deadline and not any("arrived-live" in s for s in seen):
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if not created and any("was-here" in s for s in seen):
                http.create("team-a", event("team-a", "new", message="arrived-live"))
                created = True
        assert seen[0].split()[:2] == ["LAST", "SEEN"]
        assert any("arrived-live" in s for s in seen), seen
    finally:
        proc.terminate()
        proc.wait(10)
        stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def test_kubectl_as_a_service_account_gets_the_real_forbidden_message(kubeapi: KubeAPI) -> None:
    kubeconfig = kubeapi.kubeconfig_for("team-a", "notifier")
    out = kubectl(kubeconfig, "get", "events")
    assert out.returncode != 0
    assert ('events is forbidden: User "system:serviceaccount:team-a:notifier" cannot list '
            'resource "events" in API group "" in the namespace "team-a"') in out.stderr
