"""``pushsvc-notify`` end to end against the emulator: exit 0 and a readable Event, or one
clear line and a non-zero status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pushsvc_proc import REPO_ROOT

pytestmark = pytest.mark.server  # it starts its processes itself

RBAC = (REPO_ROOT / "rbac" / "notifier.yaml").read_text()


def notify(*args: str, kubeconfig: Path | None = None, stdin: str | None = None):
    exe = Path(sys.executable).parent / "pushsvc-notify"
    cmd = [str(exe), "--namespace", "pushsvc", *args]
    if kubeconfig is not None:
        cmd += ["--kubeconfig", str(kubeconfig)]
    return subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=60,
                          check=False)


@pytest.fixture
def notifier(kubeapi):
    kubeapi.set_rbac(RBAC)
    return kubeapi.kubeconfig_for("pushsvc", "pushsvc-notifier")


def test_a_notification_exits_0_and_kubectl_shows_it_readably(kubeapi, notifier, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"report": "ready", "token": "hidden"}))
    result = notify("--event", "report_ready", "--room", "finance", "--data", f"@{data}",
                    kubeconfig=notifier)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sent pushsvc-report-ready-")
    table = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeapi.kubeconfig), "get", "events", "-n", "pushsvc"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert "PushsvcMessage" in table
    assert "emit 'report_ready' to room 'finance'" in table
    assert "hidden" not in table


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--event", "e", "--data", "{bad"], 2, "--data is not valid JSON"),
    (["--event", "e", "--data", "@/nonexistent/file.json"], 2, "cannot read --data file"),
    (["--event", "", "--data", "1"], 2, "event name must be a non-empty string"),
    (["--event", "e", "--room", "", "--data", "1"], 2, "bad room"),
    (["--event", "e", "--data", "@-"], 2, "over the limit of"),  # 300 kB on stdin
])
def test_bad_input_exits_non_zero_with_one_clear_line(notifier, args, code, message):
    result = notify(*args, kubeconfig=notifier, stdin=json.dumps("x" * 300_000))
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_permission_names_the_rbac_file(kubeapi):
    stranger = kubeapi.kubeconfig_for("pushsvc", "someone-else")
    result = notify("--event", "e", kubeconfig=stranger)
    assert result.returncode == 4
    assert ("forbidden: ServiceAccount pushsvc/someone-else cannot create events in "
            "namespace 'pushsvc'; apply rbac/notifier.yaml") in result.stderr


def test_no_configuration_is_a_clear_error(tmp_path):
    exe = Path(sys.executable).parent / "pushsvc-notify"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([str(exe), "--event", "e"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 3
    assert "no Kubernetes configuration" in result.stderr
