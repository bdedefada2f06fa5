"""Past 4 x max_message_bytes Engine.IO closes the sender's connection: one log line, no payload.

The soft limit (an ``error`` event, connection kept) is in test_bad_input_gets_a_clear_error.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support import PushsvcProcess, RecordingClient
from tests.support.sio_client import wait_until

SECRET = "hard-limit-secret-payload"
HARD_LIMIT = 4 * 64 * 1024


def test_an_oversized_message_closes_the_senders_connection_and_others_keep_working(
    server: PushsvcProcess, clients: Callable[..., RecordingClient], transport: str,
) -> None:
    bystander = clients(transports=[transport]).connect(server.url)
    offender = clients(transports=[transport]).connect(server.url)
    sid = offender.sio.eio.sid

    offender.emit("my_event", {"data": SECRET + "x" * HARD_LIMIT})

    wait_until(lambda: not offender.connected, what="the offender to be disconnected")
    lines = wait_until(
        lambda: [line for line in server.read_log().splitlines()
                 if "exceeded the hard limit" in line and sid in line],
        what="the hard-limit log line",
    )
    assert len(lines) == 1 and str(HARD_LIMIT) in lines[0]
    assert SECRET not in server.read_log()
    bystander.emit("my_event", {"data": "still here"})
    bystander.wait_for_reply("still here")
