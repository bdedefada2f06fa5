"""Headless Chromium, two pages on the demo page: every form, messages seen where they should be.

Screenshots: artifacts/server/<test>/demo-page-A.png and -B.png.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import NODE
from tests.support import PushsvcProcess
from tests.support.pushsvc_proc import REPO_ROOT

pytestmark = pytest.mark.browser  # Chromium

DRIVER = REPO_ROOT / "tests" / "js" / "demo_page_browser.js"


def test_two_browser_pages_use_every_form_of_the_demo_page(
    server: PushsvcProcess, artifacts_dir: Path
) -> None:
    result = subprocess.run(
        [NODE, str(DRIVER), server.url, str(artifacts_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=150,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and len(report["steps"]) == 10
    assert report["transport"] == "websocket"  # the page upgraded from polling
    assert (artifacts_dir / "demo-page-A.png").stat().st_size > 0
