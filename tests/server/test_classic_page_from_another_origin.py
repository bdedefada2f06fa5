"""The classic static test page, served from another origin, connects only once that origin
is listed in PUSHSVC_CORS_ALLOWED_ORIGINS; until then it is refused with one clear log line.

The page and socket.io-client 3.0.3 come from a small static server on another loopback port.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.server.conftest import NODE
from tests.support import start_pushsvc
from tests.support.pushsvc_proc import REPO_ROOT

DRIVER = REPO_ROOT / "tests" / "js" / "classic_page_browser.js"
FILES = {
    "/": (REPO_ROOT / "tests/js/classic_page/index.html", "text/html; charset=utf-8"),
    "/socket.io.js": (
        REPO_ROOT / "node_modules/socket.io-client-3/dist/socket.io.min.js",
        "application/javascript",
    ),
}


class _StaticHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        entry = FILES.get(urlsplit(self.path).path)
        if entry is None:
            self.send_error(404)
            return
        body = entry[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", entry[1])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def static_origin() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StaticHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _open_page(origin: str, server_url: str, expect: str, artifacts: Path) -> dict[str, object]:
    page_url = f"{origin}/?server={quote(server_url + '/', safe='')}"
    result = subprocess.run(
        [NODE, str(DRIVER), page_url, expect, str(artifacts)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_the_page_is_refused_with_a_log_line_while_its_origin_is_not_listed(
    static_origin: str, artifacts_dir: Path
) -> None:
    with start_pushsvc(log_dir=artifacts_dir) as proc:
        report = _open_page(static_origin, proc.url, "refused", artifacts_dir)
        assert report["status"] != "connected"
        lines = [ln for ln in proc.read_log().splitlines() if "refused Socket.IO connection" in ln]
        assert len(lines) == 1  # once per origin, although the page keeps retrying
        assert static_origin in lines[0] and "PUSHSVC_CORS_ALLOWED_ORIGINS" in lines[0]


def test_the_page_works_once_its_origin_is_listed(static_origin: str, artifacts_dir: Path) -> None:
    env = {"PUSHSVC_CORS_ALLOWED_ORIGINS": f"http://other.example:8080, {static_origin}"}
    with start_pushsvc(env=env, log_dir=artifacts_dir) as proc:
        report = _open_page(static_origin, proc.url, "works", artifacts_dir)
        assert report["status"] == "connected"
        assert "refused Socket.IO connection" not in proc.read_log()
