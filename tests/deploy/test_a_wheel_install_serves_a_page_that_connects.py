"""``pip install 'pushsvc[server]'`` from the wheel into a fresh virtualenv, ``pushsvc serve``
from a folder outside the source tree with no setting pointing anywhere: the wheel carries the
Socket.IO browser client and the Admin UI (copied from the npm packages of package-lock.json
at build time), so the page connects in Chromium and echoes, and the Admin UI logs in and
shows a client and its room, nothing fetched from elsewhere.

Before, the wheel had no JavaScript: /js/socket.io.min.js was a 404, the page said
"disconnected", and the log told a pip user to run ./scripts/setup.sh.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from pushsvc.testing.procs import free_port, http_get, spawn, stop_process, wait_until
from pushsvc.web.routes import JS_CLIENT_FILES
from tests.deploy.conftest import (
    REPO_ROOT,
    build_wheel,
    clean_env,
    fresh_venv,
    require_tool,
    source_copy,
)
from tests.support import RecordingClient

pytestmark = pytest.mark.starts_first

DRIVER = REPO_ROOT / "tests" / "deploy" / "browser_page_connects.js"
ADMIN_DRIVER = REPO_ROOT / "tests" / "js" / "admin_ui_browser.js"
NODE_MODULES = REPO_ROOT / "node_modules"
ADMIN_PASSWORD = "wheel-admin-password"


def test_the_wheel_holds_the_pinned_browser_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in JS_CLIENT_FILES:
        assert f"pushsvc/_assets/js/{name}" in names
    assert "pushsvc/_assets/admin-ui/index.html" in names
    assert "pushsvc/_assets/admin-icons/css/materialdesignicons.min.css" in names
    js = zipfile.ZipFile(wheel).read("pushsvc/_assets/js/socket.io.min.js")
    assert js == (NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js").read_bytes()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return int(resp.status), resp.read()


@pytest.mark.browser
def test_a_page_served_from_a_pip_install_connects_and_echoes(
    tmp_path: Path, wheel: Path
) -> None:
    chromium = require_tool("chromium")
    venv = fresh_venv(tmp_path, f"{wheel}[server]")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = clean_env() | {"PUSHSVC_PORT": str(port), "PUSHSVC_BUS": "memory",
                         "PUSHSVC_ADMIN_UI": "true", "PUSHSVC_ADMIN_UI_PASSWORD": ADMIN_PASSWORD,
                         "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3"}
    log_path = tmp_path / "serve.log"
    popen = spawn([str(venv / "bin" / "pushsvc"), "serve"], log_path=log_path, env=env,
                  cwd=elsewhere)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(f"{url}/healthz") or popen.poll() is not None, timeout=60,
                   what="pushsvc serve from the virtualenv")
        assert popen.poll() is None, log_path.read_text()
        status, js = _get(f"{url}/js/socket.io.min.js")
        assert status == 200
        assert js == (NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js").read_bytes()
        status, admin = _get(f"{url}/admin/")
        assert status == 200 and b"<script" in admin
        status, _ = _get(f"{url}/admin/_icons/css/materialdesignicons.min.css")
        assert status == 200

        done = subprocess.run(
            [require_tool("node"), str(DRIVER),
             json.dumps({"url": url, "chromium": chromium, "text": "echo from a wheel"})],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert done.returncode == 0 and report["errors"] == [], done.stdout + done.stderr
        assert report["status"] == "connected" and report["echo"]

        # The Admin UI from the wheel, in Chromium: it logs in and shows a client and its room.
        with RecordingClient(transports=["websocket"]) as client:
            client.connect(url)
            client.wait_for_reply("Connected")
            client.emit("join", {"room": "wheel-room"})
            client.wait_for(predicate=lambda p: "wheel-room" in str(p.get("data")))
            admin = subprocess.run(
                [require_tool("node"), str(ADMIN_DRIVER), url, "admin", ADMIN_PASSWORD,
                 client.sio.get_sid("/"), "wheel-room", str(tmp_path)],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=150, check=False)
        assert admin.stdout.strip(), admin.stderr
        seen = json.loads(admin.stdout.strip().splitlines()[-1])
        assert seen["ok"] and seen["foreignRequests"] == [], seen
    finally:
        assert stop_process(popen, timeout=20) == 0
    log = log_path.read_text()
    assert "not found" not in log and "setup.sh" not in log, log[-3000:]
    assert str(REPO_ROOT) not in log  # nothing came from the checkout


@pytest.mark.topology
def test_a_build_without_node_modules_says_to_run_npm_ci(tmp_path: Path) -> None:
    done = build_wheel(source_copy(tmp_path, node_modules=False), tmp_path / "dist")
    assert done.returncode != 0
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines()
             if "pushsvc build:" in line]
    assert len(lines) == 1, done.stderr[-3000:]
    assert "socket.io-client is not in node_modules" in lines[0]
    assert "run `npm ci`" in lines[0]


def test_a_wheel_built_from_the_sdist_needs_no_node_modules(tmp_path: Path, wheel: Path) -> None:
    # The sdist (python -m build makes the wheel from it) carries the copied files.
    source = source_copy(tmp_path, node_modules=True)
    made = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(tmp_path / "sdist")],
        cwd=source, capture_output=True, text=True, timeout=300, check=False,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    with tarfile.open(tmp_path / "sdist" / made.stdout.split()[-1]) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    [unpacked] = (tmp_path / "unpacked").iterdir()
    assert not (unpacked / "node_modules").exists()
    done = build_wheel(unpacked, tmp_path / "dist")
    assert done.returncode == 0, done.stderr[-3000:]
    [from_sdist] = (tmp_path / "dist").glob("pushsvc-*.whl")
    assert _assets(from_sdist) == _assets(wheel) != []


def _assets(path: Path) -> list[str]:
    return sorted(n for n in zipfile.ZipFile(path).namelist() if "/_assets/" in n)
