"""A client that never reads is disconnected (slow_reader) once its queue passes the byte cap.

Before the cap the queue of a client that never read grew without bound (6,000 joins took a
worker from 75 MiB to 3.9 GiB). Over WebSocket the server's writer blocks on a socket the
client does not read (a small SO_RCVBUF fills it fast); over long-polling the packets wait
for a GET that never comes. Either way: one log line, a metric, the worker's memory stays
bounded, and a well-behaved client on the same server keeps receiving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.probes import metric, worker_rss_bytes
from tests.support.raw_engineio import RawPolling, RawWebSocket

CAP = 256 * 1024
ECHO = "y" * 60000
ECHOES = 100  # 6 MB of replies: 23 x the cap
MIB = 1024 * 1024
# The per-client event rate limit (another stream's) would refuse a flood of echoes: lift it.
ENV = {
    "PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT": str(CAP),
    "PUSHSVC_CLIENT_EVENTS_PER_SECOND": "100000",
    "PUSHSVC_CLIENT_EVENTS_BURST": "100000",
}


@pytest.fixture(scope="module")
def capped(server_logs: Path) -> Iterator[PushsvcProcess]:
    with start_pushsvc(env=ENV, log_dir=server_logs) as proc:
        yield proc


def _slow_reader_lines(proc: PushsvcProcess, sid: str) -> list[str]:
    return [line for line in proc.read_log().splitlines() if "slow_reader" in line and sid in line]


def _flood(ws: RawWebSocket, event: str = "my_event") -> None:
    for _ in range(ECHOES):
        try:
            ws.emit(event, {"data": ECHO})
        except OSError:
            return  # the server shut the connection down


def test_a_websocket_client_that_never_reads_is_disconnected_and_memory_stays_bounded(
    capped: PushsvcProcess, clients: Callable[..., RecordingClient],
) -> None:
    bystander = clients(transports=["websocket"]).connect(capped.url)
    # Every inbound message leaves some memory behind (measured on the unlimited code too),
    # so the same flood of messages that get only a short error back is the baseline.
    with RawWebSocket(capped.url) as sender:
        sender.sio_connect()
        rss = worker_rss_bytes(capped)
        _flood(sender, "no_such_event")
        sender.emit("my_event", {"data": "last"})
        sender.recv_until(lambda f: '"last"' in str(f), timeout=60)
        baseline = worker_rss_bytes(capped) - rss
    before = metric(capped.url, "pushsvc_engine_closed_connections_total", reason="slow_reader")
    with RawWebSocket(capped.url, rcvbuf=4096) as slow:
        slow.sio_connect()
        rss = worker_rss_bytes(capped)
        _flood(slow)
        lines = wait_until(lambda: _slow_reader_lines(capped, slow.sid),
                           what="the slow_reader log line")
        assert len(lines) == 1
        grown = worker_rss_bytes(capped) - rss
        assert grown < baseline + 12 * MIB, (
            f"worker grew {grown / MIB:.0f} MiB for a slow reader, {baseline / MIB:.0f} MiB "
            "for a reader of the same replies")
        assert slow.closed_by_server()
    assert metric(capped.url, "pushsvc_engine_closed_connections_total",
                  reason="slow_reader") == before + 1
    # The writer greenlet that existed only while it was backpressured is gone too.
    wait_until(lambda: metric(capped.url, "pushsvc_ws_writer_greenlets") == 0,
               what="the slow reader's writer greenlet to end")
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")


def test_a_polling_client_that_never_gets_is_disconnected_and_its_session_ends(
    capped: PushsvcProcess, clients: Callable[..., RecordingClient],
) -> None:
    bystander = clients(transports=["polling"]).connect(capped.url)
    with RawPolling(capped.url) as slow:
        slow.sio_connect()
        packet = "42" + '["my_event",{"data":"' + ECHO + '"}]'
        for _ in range(ECHOES // 4):
            if slow.post([packet] * 4).status_code != 200:
                break  # the session is gone
        wait_until(lambda: _slow_reader_lines(capped, slow.sid), what="the slow_reader log line")
        # Its queue was freed: the next long-poll gets the CLOSE packet, not megabytes.
        resp = slow.http.get(slow.base, params=slow._params(), timeout=10)
        assert len(resp.content) < 1024
        assert resp.status_code != 200 or resp.text.split("\x1e")[-1] == "1"
        slow.sid = ""  # nothing left to close
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")


def test_a_client_that_reads_is_never_cut_however_much_it_receives(
    capped: PushsvcProcess, clients: Callable[..., RecordingClient],
) -> None:
    reader = clients(transports=["websocket"]).connect(capped.url)
    for n in range(60):  # 3.6 MB in all, 14 x the cap, each reply read before the next
        reader.emit("my_event", {"data": f"{n}-{ECHO}"})
        reader.wait_for_reply(f"{n}-{ECHO}")
    assert reader.connected
    assert requests.get(f"{capped.url}/healthz", timeout=5).status_code == 200
