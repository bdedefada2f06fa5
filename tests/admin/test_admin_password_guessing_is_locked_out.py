"""Guessing the Admin UI password gets an address locked out of /admin, the right password
included, and one log line per connection, not one per guess.

The issue: on one WebSocket, 2,000 wrong admin passwords in 1.2 s with no lockout, and the
right one then worked on the same socket. Here, over raw WebSocket frames against a real
pod: five wrong logins (PUSHSVC_ADMIN_UI_LOGIN_FAILURES_PER_ADDRESS) lock the address out;
the right password on the same socket gets ``too_many_attempts`` with ``retry_after`` and the
connection is closed; a new socket from that address is refused the same way, unchecked;
another address logs in.
"""

from __future__ import annotations

import json
from typing import Any

import websocket

from tests.admin.conftest import ADMIN_ENV
from tests.support import start_pushsvc
from tests.support.probes import metric
from tests.support.raw_engineio import RawWebSocket

LOGIN = {"username": ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
         "password": ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"]}
#: Refills and unlocks too slowly to matter during the test.
SLOW_CLOCK = {"PUSHSVC_ADMIN_UI_LOGIN_WINDOW_SECONDS": "86400",
              "PUSHSVC_CONNECT_LOCKOUT_SECONDS": "600"}


def _login(ws: RawWebSocket, auth: dict[str, str]) -> dict[str, Any] | None:
    """Send one /admin CONNECT; its answer (``refused`` plus the data), None if closed."""
    ws.send_text("40/admin," + json.dumps(auth))
    try:
        frame = ws.recv_until(lambda f: isinstance(f, str) and f.startswith(("40/admin",
                                                                             "44/admin")))
    except (AssertionError, websocket.WebSocketTimeoutException):
        return None
    body = frame[len("40/admin,"):]
    data = json.loads(body) if body else {}
    return {"refused": frame.startswith("44"), **(data if isinstance(data, dict) else {})}


def test_password_guesses_lock_the_address_out_even_for_the_right_password(tmp_path) -> None:
    with start_pushsvc(env={**ADMIN_ENV, **SLOW_CLOCK}, log_dir=tmp_path / "logs") as proc:
        with RawWebSocket(proc.url, source_address="127.0.0.9") as ws:
            ws.handshake()
            guesses = [_login(ws, {"username": "ops", "password": f"guess-{n:04d}"})
                       for n in range(5)]
            assert all(g is not None and g["message"] == "authentication failed"
                       for g in guesses), guesses
            right = _login(ws, LOGIN)
            assert right is not None and right["refused"], right
            assert right["message"] == "too_many_attempts"
            assert 1 <= right["data"]["retry_after"] <= 600
            assert ws.closed_by_server()
        with RawWebSocket(proc.url, source_address="127.0.0.9") as ws:
            ws.handshake()
            again = _login(ws, LOGIN)
            assert again is not None and again["message"] == "too_many_attempts"
        with RawWebSocket(proc.url, source_address="127.0.0.10") as ws:
            ws.handshake()
            other = _login(ws, LOGIN)
            assert other is not None and not other["refused"] and "sid" in other
        assert metric(proc.url, "pushsvc_refused_connections_total", reason="admin_auth") == 5
        assert metric(proc.url, "pushsvc_connect_lockouts_total", kind="admin") == 1
        log = proc.read_log().splitlines()
        assert len([ln for ln in log if "refused an Admin UI connection" in ln]) == 1
        assert len([ln for ln in log if "locked out Admin UI logins from 127.0.0.9" in ln]) == 1
        assert not any("guess-" in ln or LOGIN["password"] in ln for ln in log)


def test_two_thousand_pipelined_guesses_on_one_socket_are_checked_five_times(tmp_path
                                                                            ) -> None:
    with start_pushsvc(env={**ADMIN_ENV, **SLOW_CLOCK}, log_dir=tmp_path / "logs") as proc:
        with RawWebSocket(proc.url, source_address="127.0.0.12") as ws:
            ws.handshake()
            for n in range(2000):  # as fast as the socket takes them, answers unread
                try:
                    ws.send_text("40/admin," + json.dumps({"username": "ops",
                                                           "password": f"guess-{n:04d}"}))
                except OSError:
                    break
            # Answers unread when the server closes may be lost with the connection (a
            # reset): count on the server's side.
            assert ws.closed_by_server()
        assert metric(proc.url, "pushsvc_refused_connections_total", reason="admin_auth") == 5
        log = proc.read_log().splitlines()
        assert len([ln for ln in log if "refused an Admin UI connection" in ln]) == 1
        assert len([ln for ln in log if "locked out Admin UI logins from 127.0.0.12" in ln]) == 1
