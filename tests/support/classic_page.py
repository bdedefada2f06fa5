"""The classic static test page on an origin of its own, and its headless-Chromium driver.

A small static server on another loopback port serves ``tests/js/classic_page/index.html``
(the classic Flask-SocketIO test page, without jQuery) and socket.io-client 3.0.3 from
node_modules, as a page hosted apart from pushsvc would be; ``open_classic_page`` runs
``tests/js/classic_page_browser.js`` on it and returns the driver's one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

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


@contextmanager
def static_origin() -> Iterator[str]:
    """Serve the classic page; yields its origin (``http://127.0.0.1:PORT``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StaticHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def open_classic_page(origin: str, server_url: str, expect: str, artifacts: Path
                      ) -> dict[str, object]:
    """Run the driver (``expect``: refused, works or forms); assert it exited 0."""
    page_url = f"{origin}/?server={quote(server_url + '/', safe='')}"
    result = subprocess.run(
        [shutil.which("node") or "node", str(DRIVER), page_url, expect, str(artifacts)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
