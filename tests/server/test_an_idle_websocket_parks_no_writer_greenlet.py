"""An idle WebSocket holds one greenlet (its reader), no writer greenlet and no sleeping ping.

python-engineio parks a writer greenlet on every WebSocket's send queue and a greenlet sleeping
out every ping interval: with the pywsgi reader, three per idle client. pushsvc's engine writes
from the greenlet that emits (pushsvc/engineio/websocket.py) and needs a writer only while a
client reads slower than it is sent to. The greenlets are counted inside the worker
(tests/server/greenlet_probe_app.py), run by the worker ``pushsvc serve`` runs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from pushsvc.testing.procs import PushsvcProcess, http_get, pushsvc_env, spawn
from tests.support import RecordingClient, free_port, start_pushsvc, wait_until
from tests.support.probes import metric
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS
from tests.support.raw_engineio import RawWebSocket

IDLE = 40
UPGRADED = 5
ECHO = "z" * 60000
ECHOES = 100  # 6 MB of replies: more than the socket buffers hold (4 MiB), less than the cap
CAP = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def probe_server(server_logs: Path) -> Iterator[PushsvcProcess]:
    port = free_port()
    env = pushsvc_env("127.0.0.1", port, {
        "PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "1000",
        "PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT": str(CAP),
        "PUSHSVC_CLIENT_EVENTS_PER_SECOND": "100000",
        "PUSHSVC_CLIENT_EVENTS_BURST": "100000",
    })
    env = {k: v for k, v in env.items() if k not in ("PUSHSVC_HOST", "PUSHSVC_PORT")}
    popen = spawn(
        [str(Path(sys.executable).parent / "gunicorn"), "-k", WORKER_CLASS,
         "-w", "1", "--no-control-socket", "--graceful-timeout", "5",
         "-b", f"127.0.0.1:{port}", "tests.server.greenlet_probe_app:app"],
        log_path=server_logs / f"greenlet-probe-{os.getpid()}.log", env=env, cwd=REPO_ROOT)
    proc = PushsvcProcess(popen=popen, host="127.0.0.1", port=port,
                          log_path=server_logs / f"greenlet-probe-{os.getpid()}.log")
    with proc:
        wait_until(lambda: http_get(f"{proc.url}/healthz"), timeout=30, what="gunicorn to serve")
        yield proc


def _alive(proc: PushsvcProcess) -> int:
    got = http_get(f"{proc.url}/_test/greenlets", timeout=10)
    assert got is not None and got[0] == 200
    return int(json.loads(got[1])["alive"])


def test_idle_websockets_hold_one_greenlet_each_whichever_way_they_connected(
    probe_server: PushsvcProcess,
) -> None:
    before = _alive(probe_server)
    with ExitStack() as stack:
        sockets = [stack.enter_context(RawWebSocket(probe_server.url)) for _ in range(IDLE)]
        for ws in sockets:
            ws.sio_connect()
        upgraded = [stack.enter_context(RecordingClient(transports=["polling", "websocket"]))
                    for _ in range(UPGRADED)]
        for client in upgraded:
            client.connect(probe_server.url)
            wait_until(lambda c=client: c.transport == "websocket", timeout=30,
                       what="the upgrade to WebSocket")
        held = _alive(probe_server) - before
        # An upgraded client also keeps its polling keep-alive connection (a pywsgi handler)
        # and the ping greenlet scheduled while it polled, until that ping is sent.
        allowed = IDLE + 3 * UPGRADED + 3
        assert held <= allowed, (
            f"{IDLE + UPGRADED} idle WebSockets hold {held} greenlets, more than {allowed}: "
            "python-engineio's writer and ping greenlets make it about 3 per client")
        assert metric(probe_server.url, "pushsvc_ws_writer_greenlets") == 0
        # Direct writes still reach everyone, in order.
        sockets[0].emit("my_broadcast_event", {"data": "to all"})
        for ws in sockets:
            ws.recv_until(lambda f: '"to all"' in str(f))
        for client in upgraded:
            client.wait_for_reply("to all")


def _writers(proc: PushsvcProcess) -> float:
    return metric(proc.url, "pushsvc_ws_writer_greenlets")


def test_a_writer_greenlet_exists_only_while_a_client_reads_slower_and_order_holds(
    probe_server: PushsvcProcess,
) -> None:
    backpressured = metric(probe_server.url, "pushsvc_ws_backpressured_total")
    with RawWebSocket(probe_server.url, rcvbuf=4096) as slow:
        slow.sio_connect()
        for n in range(ECHOES):
            slow.emit("my_event", {"data": f"{n}-{ECHO}"})
        # Backpressured at least once (the writer may drain and end between two replies,
        # then the next one backpressures again), and once the client's buffers are full
        # one writer waits for it.
        wait_until(lambda: metric(probe_server.url, "pushsvc_ws_backpressured_total")
                   > backpressured, timeout=30, what="the socket to be backpressured")
        wait_until(lambda: _writers(probe_server) == 1, timeout=30,
                   what="one writer greenlet for the backpressured socket")
        for n in range(ECHOES):
            frame = slow.recv_until(lambda f: isinstance(f, str) and ECHO in f)
            assert f'"{n}-{ECHO}"' in frame, f"reply {n} out of order"
        wait_until(lambda: _writers(probe_server) == 0, timeout=30,
                   what="the writer greenlet to end once the socket drained")
        slow.emit("my_event", {"data": "direct again"})
        slow.recv_until(lambda f: '"direct again"' in str(f))
        assert _writers(probe_server) == 0



def _next_ping(ws: RawWebSocket) -> bool:
    for _ in range(20):  # frames other than a ping are skipped; a ping comes every second
        frame = ws.recv(timeout=10)
        if frame is None:
            return False
        if frame == "2":
            return True
    return False


def test_websocket_pings_keep_coming_from_a_timer_and_a_silent_client_is_dropped(
    server_logs: Path,
) -> None:
    env = {"PUSHSVC_PING_INTERVAL_SECONDS": "1", "PUSHSVC_PING_TIMEOUT_SECONDS": "2"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc, \
            RawWebSocket(proc.url) as answering, RawWebSocket(proc.url) as silent:
        answering.sio_connect()
        silent.sio_connect()
        for _ in range(3):  # each PONG schedules the next PING
            assert _next_ping(answering)
            answering.send_text("3")
        assert _next_ping(silent)
        # No PONG: past the ping timeout the server closes it; the other one stays.
        assert silent.closed_by_server(timeout=15)
        answering.emit("my_event", {"data": "still answering"})
        answering.recv_until(lambda f: '"still answering"' in str(f))
