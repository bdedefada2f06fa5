"""Defect (a) of issue 21: a WebSocket opened to upgrade a polling session that never sends
``2probe`` or ``5`` must end when its session expires, and count toward the per-address bound
meanwhile. On the former engine (python-engineio) it stayed open after its session expired,
outside every bound."""

from __future__ import annotations

import json
from collections.abc import Callable

import requests

from tests.support import PushsvcProcess
from tests.support.raw_ws import FrameSocket, closed_by_server

ENV = {"PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "3", "PUSHSVC_PING_INTERVAL_SECONDS": "0.5",
       "PUSHSVC_PING_TIMEOUT_SECONDS": "0.5"}


def test_a_pending_upgrade_counts_and_ends_with_its_session(
    serve_with: Callable[..., PushsvcProcess]
) -> None:
    server = serve_with(ENV)
    base = f"{server.url}/socket.io/?EIO=4"
    probes = []
    try:
        for _ in range(3):
            opened = requests.get(f"{base}&transport=polling", timeout=10)
            sid = json.loads(opened.text[1:])["sid"]
            ws = FrameSocket(server.url, f"/socket.io/?EIO=4&transport=websocket&sid={sid}")
            assert ws.status == 101
            probes.append(ws)  # never sends 2probe; its session is never polled again
        assert requests.get(f"{base}&transport=polling", timeout=10).status_code == 429
        assert all(closed_by_server(ws, within=5.0) for ws in probes)
    finally:
        for ws in probes:
            ws.close()
