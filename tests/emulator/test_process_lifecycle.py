"""The emulator process: ready line, loopback only, kubeconfig, clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http

REPO = Path(__file__).resolve().parents[2]


def test_it_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pushsvc.testing.kubeapi", "--host", "0.0.0.0",
                          "--kubeconfig-out", str(tmp_path / "kc")], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "loopback" in out.stderr
    assert not (tmp_path / "kc").exists()


def test_the_kubeconfig_is_admin_in_the_default_namespace(kubeapi: KubeAPI) -> None:
    doc = yaml.safe_load(kubeapi.kubeconfig.read_text())
    assert doc["contexts"][0]["context"]["namespace"] == "default"
    assert doc["users"][0]["name"] == "system:admin"
    assert doc["clusters"][0]["cluster"]["server"] == kubeapi.url.replace("http:", "https:")
    assert kubeapi.url == f"http://127.0.0.1:{kubeapi.port}"


def test_sigterm_closes_watches_cleanly_and_exits_zero(kubeapi: KubeAPI, http: Http) -> None:
    w = http.watch("/api/v1/namespaces/ns/events", timeoutSeconds=60)
    assert kubeapi.pid is not None
    assert kubeapi.stop() == 0
    assert w.rest() == []
    assert w.ended.is_set()


def test_sigint_also_exits_zero(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pushsvc.testing.kubeapi", "--port", "0",
                             "--kubeconfig-out", str(tmp_path / "kc")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("kubeapi listening on http://127.0.0.1:")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    proc.stdout.close()
