"""Malformed Engine.IO / Socket.IO frames, over raw WebSocket and long-polling.

Whatever a client sends, the server keeps its one worker, its memory stays bounded and a
well-behaved client on the same server keeps getting its replies.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.rawclient import RawPolling, RawWebSocket
from tests.fuzz.strategies import polling_bodies, ws_frames

MAX_RSS_GROWTH_MIB = 150


@given(frames=st.lists(ws_frames, min_size=1, max_size=8))
def test_malformed_websocket_frames_never_crash_the_server(target, frames):
    client = RawWebSocket(target.proc.url)
    try:
        for frame in frames:
            if not client.send(frame):
                break  # the server closed this connection: a fine answer to garbage
    finally:
        client.close()
    target.check()


@given(bodies=st.lists(polling_bodies, min_size=1, max_size=4))
def test_malformed_polling_bodies_never_crash_the_server(target, bodies):
    client = RawPolling(target.proc.url)
    try:
        for body in bodies:
            if client.post(body) != 200:
                break  # refused (400) and the session ended
    finally:
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
