"""`pushsvc demo` turns the Job notifier on and prints ``kubectl`` commands against its emulator:
a ``kubectl create job`` line for a Job labelled and annotated for alice, then the status
writes that walk it through its life. Run as pasted in a plain shell (no KUBECONFIG, no
PUSHSVC_* settings), the demo page in Chromium lists the Job with each phase in turn —
created, running, retrying, running again, succeeded — updated in place on one line. Two
pages of alice on different pods (HAProxy's SERVERID cookie) both show the presence of her
user room with count 2 and both pods, one of them from the other pod's summary; so does a
room both join with the page's form.
Screenshot: artifacts/deploy/demo-jobs-presence.png.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import ARTIFACTS, REPO_ROOT, require_tool, running_demo

pytestmark = pytest.mark.browser  # Chromium

PUSHSVC = str(Path(sys.executable).parent / "pushsvc")
DRIVER = Path(__file__).with_name("browser_demo_jobs_presence.js")
KUBECTL_LINE = re.compile(r"^    (kubectl --kubeconfig \S+ -n pushsvc .*)$", re.MULTILINE)
# The Jobs line after each printed command, in order.
PHASES = [
    "pushsvc/report-42: created (attempt 1)",
    "pushsvc/report-42: running (attempt 1)",
    "pushsvc/report-42: retrying (attempt 1)",
    "pushsvc/report-42: running (attempt 2)",
    "pushsvc/report-42: succeeded (attempt 2)",
]


def _plain_env() -> dict[str, str]:
    # The kubectl on PATH and a HOME without a kubeconfig of its own: only what was printed.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PUSHSVC_", "PYTEST_")) and k != "KUBECONFIG"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo (two pods) with two Chromium pages of alice, the printed kubectl commands run
    one by one; the driver's result and the demo's output."""
    require_tool("haproxy")
    require_tool("kubectl")
    tmp_path = tmp_path_factory.mktemp("demo-jobs")
    home = tmp_path / "home"
    home.mkdir()
    env = {**_plain_env(), "HOME": str(home)}
    cmd = [PUSHSVC, "demo", "--port", "0", "--pods", "2", "--interval", "30",
           "--workdir", "workdir"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_demo(cmd, cwd=tmp_path, env=_plain_env()) as demo:
        commands = KUBECTL_LINE.findall(demo.output)
        config = {
            "url": demo.url,
            "chromium": require_tool("chromium"),
            "room": "user:alice",
            "shared": "team",
            "cookies": ["s1", "s2"],  # haproxy.cfg: node1 cookie s1, node2 cookie s2
            "commands": commands,
            "phases": PHASES[:len(commands)],
            "env": env,
            "shots": str(ARTIFACTS),
        }
        done = subprocess.run(
            [require_tool("node"), str(DRIVER), json.dumps(config)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        )
        out = done.stdout.strip().splitlines()
        assert out, done.stderr
        yield {"output": demo.output, "commands": commands, "result": json.loads(out[-1]),
               "returncode": done.returncode, "stderr": done.stderr}
        assert demo.stop() == 0


def test_the_printed_kubectl_lines_walk_a_job_whose_phases_the_page_lists(
    demo_run: dict[str, Any],
) -> None:
    commands = demo_run["commands"]
    assert len(commands) == len(PHASES), demo_run["output"]
    assert " create job report-42 " in commands[0]
    assert "pushsvc.io/notify=true" in commands[0]
    assert "pushsvc.io/notify-user=alice" in commands[0]
    assert all("patch job report-42 --subresource=status" in c for c in commands[1:])
    result = demo_run["result"]
    assert result["phasesSeen"] == PHASES, result.get("failure") or demo_run["stderr"]
    assert result["ok"] and demo_run["returncode"] == 0, result.get("failure")
    assert result["errors"] == []
    # One line per Job, updated in place, on both pages of alice.
    assert result["jobs"] == [[PHASES[-1]], [PHASES[-1]]]
    # The event log still shows every event, each transition once.
    pushed = [line for line in result["log"] if line.startswith("Received pushsvc_job: ")]
    assert [(json.loads(line.split(": ", 1)[1])["phase"]) for line in pushed] == [
        "created", "running", "retrying", "running", "succeeded"]


def test_two_pages_of_one_user_see_its_user_room_and_a_joined_room_with_both(
    demo_run: dict[str, Any],
) -> None:
    result = demo_run["result"]
    presence = result.get("presence")
    assert presence, result.get("failure") or demo_run["stderr"]
    assert result["pods"] == ["pushsvc-node1", "pushsvc-node2"]
    for lines in presence:
        for name in ("user:alice", "team"):
            room = [line for line in lines if line.startswith(name + ": ")]
            assert room, presence
            assert room[0].startswith(f"{name}: 2 connections \u2014 alice@pushsvc-"), presence
            assert "pod summaries up to " in room[0]
            members = room[0].split(" \u2014 ", 1)[1].split(" (as of")[0].split(", ")
            assert sorted(members) == ["alice@pushsvc-node1", "alice@pushsvc-node2"], presence
