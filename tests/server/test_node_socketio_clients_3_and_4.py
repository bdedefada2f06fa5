"""The official Node socket.io-client, 3.0.3 and 4.x, speaks the demo protocol over WebSocket
and over long-polling (driver: tests/js/protocol_client.js), with the classic semantics: a
client that never joined a room sends to it and closes it, and its members stop receiving."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.server.conftest import NODE
from tests.support import PushsvcProcess
from tests.support.pushsvc_proc import REPO_ROOT

DRIVER = REPO_ROOT / "tests" / "js" / "protocol_client.js"


@pytest.mark.parametrize(
    ("package", "major"), [("socket.io-client", "4."), ("socket.io-client-3", "3.0.3")]
)
def test_the_node_client_runs_every_demo_event(
    server: PushsvcProcess, transport: str, package: str, major: str
) -> None:
    result = subprocess.run(
        [NODE, str(DRIVER), server.url, package, transport],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["version"].startswith(major)
    assert report["transport"] == transport
    assert "room event from a non-member" in report["steps"]
    assert "close_room from a non-member" in report["steps"]
    assert report["steps"][-2:] == ["disconnect_request", "other client unaffected"]
