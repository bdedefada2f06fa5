"""Headless Chromium on the demo page through HAProxy: two browsers on different pods,
echo, a room message that crosses pods over the Events bus, and the example notifier
Job's message (its command and args read from manifests/base/notifier-job.yaml) reaching
both, and the pod each page shows, also after a reconnect to another pod. Screenshots go to
artifacts/deploy/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pushsvc.testing.topology import LocalTopology
from tests.deploy.conftest import REPO_ROOT, require_tool

pytestmark = pytest.mark.browser  # Chromium

BROWSER_DEMO = Path(__file__).with_name("browser_demo.js")


def _notifier_job_command(topology: LocalTopology) -> tuple[list[str], dict[str, str]]:
    """The example Job's container command, run locally as the notifier ServiceAccount."""
    job = yaml.safe_load((REPO_ROOT / "manifests" / "base" / "notifier-job.yaml").read_text())
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["pushsvc-notify"]
    executable = str(Path(sys.executable).parent / "pushsvc-notify")
    env = {**topology.notifier_env(), "PUSHSVC_JOB_NAME": job["metadata"]["name"]}
    return [executable, *container["args"]], env


def test_two_browsers_on_different_pods_get_echo_room_and_job_messages(
    bus_topology: LocalTopology, artifacts_dir: Path
) -> None:
    cookies = [
        line.split(" cookie ")[1].split()[0]
        for line in bus_topology.haproxy_cfg_path.read_text().splitlines()
        if line.strip().startswith("server ")
    ]
    other = {c: cookies[(i + 1) % len(cookies)] for i, c in enumerate(cookies)}
    cmd, env = _notifier_job_command(bus_topology)
    config = {
        "url": bus_topology.url,
        "chromium": require_tool("chromium"),
        "otherCookie": other,
        "notify": {"cmd": cmd, "env": env},
        "shots": str(artifacts_dir),
    }
    done = subprocess.run(
        [require_tool("node"), str(BROWSER_DEMO), json.dumps(config)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=150, check=False,
        env={**os.environ},
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    result = json.loads(lines[-1])
    assert done.returncode == 0 and result.get("ok"), result.get("failure") or done.stderr

    # Different pods, and each browser stayed on its pod through polling and the upgrade.
    assert result["cookieA"] in cookies and result["cookieB"] in cookies
    assert result["cookieA"] != result["cookieB"]
    assert result["cookieAAfter"] == result["cookieA"]
    assert result["cookieBAfter"] == result["cookieB"]
    # Echo goes to the sender only; a room message from A, which never joined the room, to
    # the room's members (B on the other pod), not to A; the Job's message to everyone.
    assert "echo from A" not in result["logB"]
    assert "Received: room message from A" not in result["logA"]
    assert "Error from server" not in result["logA"]
    assert result["errors"] == []
    # Each page shows the pod it is connected to, and follows a reconnect to another pod.
    pod_of = {c: bus_topology.pod_name(bus_topology.pod_for_cookie(c)) for c in cookies}
    assert result["podA"] == pod_of[result["cookieA"]]
    assert result["podB"] == pod_of[result["cookieB"]]
    assert result["podAReconnected"] == result["podB"]
    assert (artifacts_dir / "demo-browser-a.png").stat().st_size > 0
    assert (artifacts_dir / "demo-browser-b.png").stat().st_size > 0
