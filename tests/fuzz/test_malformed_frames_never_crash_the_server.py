"""Malformed Engine.IO / Socket.IO frames, over raw WebSocket and long-polling.

Whatever a client sends, the server keeps its one worker, its memory stays bounded and a
well-behaved client on the same server keeps getting its replies.
"""

from __future__ import annotations

import contextlib

import requests
import websocket
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.strategies import TextBytes, polling_bodies, ws_frames
from tests.support.raw_engineio import RawPolling, RawWebSocket

MAX_RSS_GROWTH_MIB = 150


@given(frames=st.lists(ws_frames, min_size=1, max_size=8))
@example(frames=["4"])  # an empty Socket.IO packet: python-socketio indexed its None data
@example(frames=["451-" + "[" * 20_000, b"x"])
def test_malformed_websocket_frames_never_crash_the_server(target, frames):
    client = RawWebSocket(target.proc.url, timeout=5)
    try:
        client.sio_connect()
        for frame in frames:
            try:
                if isinstance(frame, TextBytes):
                    client.ws.send(bytes(frame), opcode=websocket.ABNF.OPCODE_TEXT)
                elif isinstance(frame, bytes):
                    client.send_binary(frame)
                else:
                    client.send_text(frame)
            except (websocket.WebSocketException, OSError):
                break  # the server closed this connection: a fine answer to garbage
    finally:
        client.close()
    target.check()


@given(bodies=st.lists(polling_bodies, min_size=1, max_size=4))
@example(bodies=["0"])  # the session is closed; the next POST to it used to be a 500
def test_malformed_polling_bodies_never_crash_the_server(target, bodies):
    # python-engineio answers an invalid packet by closing the session, and that close waits
    # for the client to fetch what is queued: such a POST stays open until the ping timeout.
    client = RawPolling(target.proc.url, timeout=2)
    try:
        client.sio_connect()
        for body in bodies:
            data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
            try:
                if client.post(data).status_code != 200:
                    break  # refused (400) and the session ended
            except requests.Timeout:
                break
    finally:
        with contextlib.suppress(requests.RequestException):
            client.close()
    target.check()


def test_after_the_fuzzing_memory_is_bounded_and_the_log_holds_no_traceback(target):
    # Runs after the two fuzz tests in this module (same server): whatever they sent is gone,
    # and each bad frame was answered with one log line at most, never a traceback.
    target.check()
    assert target.rss_growth_mib() < MAX_RSS_GROWTH_MIB, (
        f"worker RSS grew by {target.rss_growth_mib():.0f} MiB during the fuzzing")
    log = target.proc.read_log()
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]
