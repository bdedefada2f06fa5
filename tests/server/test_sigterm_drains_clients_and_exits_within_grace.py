"""SIGTERM: readiness false at once, new connections refused, clients told and disconnected,
the process exits by itself (no SIGKILL, no gunicorn graceful timeout) within the grace."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from tests.support import RecordingClient, start_pushsvc, wait_until

GRACE_S = 8
DELAY_S = 2


def _readyz(url: str) -> tuple[int, dict[str, object]] | None:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read())
    except (urllib.error.URLError, OSError):
        return None


def test_sigterm_tells_and_disconnects_clients_then_exits_cleanly(artifacts_dir: Path) -> None:
    env = {
        "PUSHSVC_SHUTDOWN_GRACE_SECONDS": str(GRACE_S),
        "PUSHSVC_SHUTDOWN_DELAY_SECONDS": str(DELAY_S),
    }
    proc = start_pushsvc(env=env, log_dir=artifacts_dir)
    made: list[RecordingClient] = []
    try:
        for transport in ("websocket", "polling", "websocket", "polling"):
            client = RecordingClient(transports=[transport]).connect(proc.url)
            client.wait_for_reply("Connected")
            client.call("join", {"room": "drain-room"})
            made.append(client)
        assert _readyz(proc.url) == (200, {"ready": True, "reason": "ok"})

        proc.popen.send_signal(signal.SIGTERM)

        # Readiness turns false while the clients are still being served (the delay).
        assert wait_until(
            lambda: _readyz(proc.url) == (503, {"ready": False, "reason": "shutting down"}),
            what="/readyz to say shutting down",
        )
        assert all(c.connected for c in made)
        # A new Socket.IO connection is refused with a reason.
        late = RecordingClient(transports=["websocket"])
        with pytest.raises(socketio.exceptions.ConnectionError):
            late.connect(proc.url)
        assert late.received("connect_error") == [{"message": "server shutting down"}]
        late.close()

        # Every client is told, then disconnected by the server.
        for client in made:
            client.wait_for("server_shutdown", timeout=GRACE_S)
            client.wait_for_reply("server shutting down", timeout=GRACE_S)
            wait_until(lambda c=client: not c.connected, timeout=GRACE_S,  # type: ignore[misc]
                       what="the server to disconnect the client")

        try:
            returncode = proc.popen.wait(timeout=GRACE_S + 5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pushsvc still running {GRACE_S + 5} s after SIGTERM")
        log = proc.read_log()
        assert returncode == 0, log[-3000:]
        assert "Worker graceful timeout" not in log
        assert "SIGKILL" not in log
        assert "drain finished: 4 client(s) told, 0 connection(s) left" in log
        assert _readyz(proc.url) is None  # the listener is gone: connection refused
    finally:
        for client in made:
            client.close()
        proc.stop(timeout=5)


def test_an_idle_keep_alive_connection_does_not_hold_the_shutdown(artifacts_dir: Path) -> None:
    # A load balancer's idle keep-alive connection used to keep gunicorn waiting for the
    # whole graceful timeout; after the drain it is closed instead.
    proc = start_pushsvc(env={"PUSHSVC_SHUTDOWN_GRACE_SECONDS": str(GRACE_S)},
                         log_dir=artifacts_dir)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=5)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and not response.will_close
        response.read()  # the connection is now idle, kept alive
        proc.popen.send_signal(signal.SIGTERM)
        returncode = proc.popen.wait(timeout=GRACE_S + 5)
        assert conn.sock is not None and conn.sock.recv(1) == b""  # closed by the server
        conn.close()
        log = proc.read_log()
        assert returncode == 0, log[-3000:]
        assert "closed 1 idle keep-alive connection(s)" in log
        assert "Worker graceful timeout" not in log
    finally:
        proc.stop(timeout=5)
