"""`pushsvc demo` prints a ready-to-paste ``pushsvc-notify`` command; run in a plain shell (no
KUBECONFIG, no PUSHSVC_* settings), its ``report_ready {"id": 42}`` appears on the demo page
in Chromium with its event name and data, and so does the README's ``emitter.notify`` after
the printed ``export`` line, although the page's reply event is
``nuke_response``. The demo runs with a relative ``--workdir`` (the pods and the notifier
read kubeconfigs written under it). Screenshot: artifacts/deploy/demo-pasted-push.png.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO_ROOT, require_tool, running_demo

pytestmark = pytest.mark.browser  # Chromium

PUSHSVC = str(Path(sys.executable).parent / "pushsvc")
DRIVER = Path(__file__).with_name("browser_pasted_push.js")
COMMAND_LINE = re.compile(r"^    (KUBECONFIG=\S+ \S*pushsvc-notify .*)$", re.MULTILINE)
EXPORT_LINE = re.compile(r"^    (export KUBECONFIG=\S+ PUSHSVC_BUS_NAMESPACE=\S+)$", re.MULTILINE)
# The README's Python example, after the printed export line.
PYTHON_PUSH = "import emitter; emitter.notify('report_ready', {'id': 43})"


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PUSHSVC_", "PYTEST_")) and k != "KUBECONFIG"}


def test_the_printed_notifier_command_pushes_an_event_the_page_shows(
    tmp_path: Path, artifacts_dir: Path
) -> None:
    require_tool("haproxy")
    cmd = [PUSHSVC, "demo", "--port", "0", "--pods", "2", "--interval", "30",
           "--workdir", "relative-workdir"]
    with running_demo(cmd, cwd=tmp_path, env=_plain_env()) as demo:
        found = COMMAND_LINE.search(demo.output)
        assert found, demo.output
        command = found.group(1)
        assert "--event report_ready" in command and "'{\"id\": 42}'" in command
        assert str(tmp_path / "relative-workdir") in command  # absolute, pasteable anywhere
        exports = EXPORT_LINE.search(demo.output)
        assert exports, demo.output
        python = f"{shlex.quote(sys.executable)} -c {shlex.quote(PYTHON_PUSH)}"
        config = {
            "url": demo.url,
            "chromium": require_tool("chromium"),
            "command": f"{command} && {exports.group(1)} && {python}",
            "env": _plain_env(),
            "expect": 'Received report_ready: {"id":43}',
            "shots": str(artifacts_dir),
        }
        done = subprocess.run(
            [require_tool("node"), str(DRIVER), json.dumps(config)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=150, check=False,
        )
        lines = done.stdout.strip().splitlines()
        assert lines, done.stderr
        result = json.loads(lines[-1])
        assert done.returncode == 0 and result["ok"], result.get("failure") or done.stderr
        assert result["errors"] == []
        assert 'Received report_ready: {"id":42}' in result["log"]
        assert demo.stop() == 0
    assert (tmp_path / "relative-workdir" / "kubeapi").is_dir()
