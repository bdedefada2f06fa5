"""``pip install 'pushsvc[server,testing]'`` into a fresh virtualenv, then ``pushsvc demo``
from a folder outside the source tree: it serves the page, a notifier's message reaches a
client, and SIGTERM stops it cleanly. And ``pushsvc[testing]`` alone (no server extra) is
enough for the emulator and a user's ``kube_api`` tests.

Proves that the wheel carries what the demo needs (rbac/ and haproxy.cfg as package data,
the emulator in pushsvc.testing, the Socket.IO browser client copied in at build time) and
that nothing imports the source tree: no setting points at it. Packages come from the
configured package index (and pip's cache), as for any user.
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.deploy.conftest import clean_env, fresh_venv, require_tool, running_demo
from tests.support import RecordingClient

pytestmark = pytest.mark.starts_first


def test_the_demo_runs_from_a_fresh_virtualenv_outside_the_source_tree(
    tmp_path: Path, wheel: Path
) -> None:
    require_tool("haproxy")
    venv = fresh_venv(tmp_path, f"{wheel}[server,testing]")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env()
    cmd = [str(venv / "bin" / "pushsvc"), "demo", "--port", "0", "--pods", "2",
           "--interval", "1", "--workdir", str(tmp_path / "demo")]
    with running_demo(cmd, cwd=elsewhere, env=env, timeout=120) as demo:
        # Every process runs the virtualenv's interpreter, not this checkout's.
        pythons = [c.cmdline()[0] for c in demo.children if c.name() != "haproxy"]
        assert len(pythons) >= 3 and all(cmd.startswith(str(venv)) for cmd in pythons), pythons
        with urllib.request.urlopen(f"{demo.url}/", timeout=10) as page:
            assert page.status == 200
            assert 'id="pod"' in page.read().decode()
        with urllib.request.urlopen(f"{demo.url}/js/socket.io.min.js", timeout=10) as js:
            assert js.status == 200  # from the wheel
            assert len(js.read()) > 10_000
        with RecordingClient() as client:
            client.connect(demo.url)
            client.wait_for(None, lambda p: "notifier message #" in str(p), timeout=30)
        assert demo.stop() == 0
        gone, alive = psutil.wait_procs(demo.children, timeout=10)
        assert alive == [], [p.pid for p in alive]

USER_TEST = """
import emitter


def test_a_job_notifies(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    emitter.notify("report_ready", {"id": 42}, to="finance")
    assert [m.event for m in kube_api.messages()] == ["report_ready"]
"""


def test_the_testing_extra_alone_runs_the_emulator_and_a_users_kube_api_test(
    tmp_path: Path, wheel: Path
) -> None:
    venv = fresh_venv(tmp_path, f"{wheel}[testing]")
    python = str(venv / "bin" / "python")
    missing = subprocess.run([python, "-c", "import flask"], capture_output=True, check=False)
    assert missing.returncode != 0  # no server extra
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "test_job.py").write_text(USER_TEST)
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=clean_env(),
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
