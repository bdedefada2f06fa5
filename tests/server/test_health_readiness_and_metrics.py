"""/healthz, /readyz, /metrics and the served JS client."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.pushsvc_proc import REPO_ROOT


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.headers.get("Content-Type", ""), err.read().decode()


def test_healthz_and_readyz_answer_ok(server: PushsvcProcess) -> None:
    assert _get(f"{server.url}/healthz")[0::2] == (200, '{"status":"ok"}\n')
    assert _get(f"{server.url}/readyz")[0::2] == (200, '{"ready":true,"reason":"ok"}\n')


def test_metrics_count_connected_clients(
    server: PushsvcProcess, clients: Callable[..., RecordingClient]
) -> None:
    def gauge() -> float:
        text = _get(f"{server.url}/metrics")[2]
        line = next(ln for ln in text.splitlines() if ln.startswith("pushsvc_connected_clients "))
        return float(line.split()[1])

    before = gauge()
    client = clients().connect(server.url)
    wait_until(lambda: gauge() == before + 1, what="the gauge to count the client")
    client.disconnect()
    wait_until(lambda: gauge() == before, what="the gauge to drop the client")


def test_the_demo_page_loads_the_js_client_from_pushsvc(server: PushsvcProcess) -> None:
    status, _, page = _get(f"{server.url}/")
    assert status == 200
    assert 'src="/js/socket.io.min.js"' in page and "http" not in page.split("<body")[0]
    status, content_type, body = _get(f"{server.url}/js/socket.io.min.js")
    expected = REPO_ROOT / "node_modules/socket.io-client/dist/socket.io.min.js"
    assert status == 200 and "javascript" in content_type
    assert body == expected.read_text()


def test_only_the_client_build_files_are_served(server: PushsvcProcess) -> None:
    assert _get(f"{server.url}/js/package.json")[0] == 404
    assert _get(f"{server.url}/js/..%2Fpackage.json")[0] == 404


@pytest.mark.parametrize("what", ["missing client folder"])
def test_a_missing_js_client_is_a_clear_404_and_a_startup_error(
    artifacts_dir: Path, tmp_path: Path, what: str
) -> None:
    env = {"PUSHSVC_JS_CLIENT_DIR": str(tmp_path / "nowhere")}
    with start_pushsvc(env=env, log_dir=artifacts_dir) as proc:
        status, _, body = _get(f"{proc.url}/js/socket.io.min.js")
        assert status == 404 and "npm ci" in body and "PUSHSVC_JS_CLIENT_DIR" in body
        assert "Socket.IO JS client not found" in proc.read_log()
