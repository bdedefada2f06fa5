"""The classic static test page, served from another origin, connects only once that origin
is listed in PUSHSVC_CORS_ALLOWED_ORIGINS; until then it is refused with one clear log line.

The page and socket.io-client 3.0.3 come from a small static server on another loopback port
(tests/support/classic_page.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import start_pushsvc
from tests.support.classic_page import open_classic_page
from tests.support.classic_page import static_origin as serve_classic_page

pytestmark = pytest.mark.browser  # Chromium


@pytest.fixture(scope="module")
def static_origin() -> Iterator[str]:
    with serve_classic_page() as origin:
        yield origin


def test_the_page_is_refused_with_a_log_line_while_its_origin_is_not_listed(
    static_origin: str, artifacts_dir: Path
) -> None:
    with start_pushsvc(log_dir=artifacts_dir) as proc:
        report = open_classic_page(static_origin, proc.url, "refused", artifacts_dir)
        assert report["status"] != "connected"
        lines = [ln for ln in proc.read_log().splitlines() if "refused Socket.IO connection" in ln]
        assert len(lines) == 1  # once per origin, although the page keeps retrying
        assert static_origin in lines[0] and "PUSHSVC_CORS_ALLOWED_ORIGINS" in lines[0]


def test_the_page_works_once_its_origin_is_listed(static_origin: str, artifacts_dir: Path) -> None:
    env = {"PUSHSVC_CORS_ALLOWED_ORIGINS": f"http://other.example:8080, {static_origin}"}
    with start_pushsvc(env=env, log_dir=artifacts_dir) as proc:
        report = open_classic_page(static_origin, proc.url, "works", artifacts_dir)
        assert report["status"] == "connected"
        assert "refused Socket.IO connection" not in proc.read_log()
