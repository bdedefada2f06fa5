"""A python-socketio client in a process of its own, so a test can freeze it (SIGSTOP: no
disconnect, no close, no pong) and its Engine.IO session has to time out on the server.

    python -m tests.presence.frozen_client URL ROOM   (the token on stdin)
prints ``joined`` once in the room, then waits to be stopped or killed.
"""

from __future__ import annotations

import sys
import time

import socketio


def main() -> None:
    url, room = sys.argv[1], sys.argv[2]
    token = sys.stdin.readline().strip()
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], auth={"token": token}, wait_timeout=10)
    answer = client.call("join", {"room": room}, timeout=10)
    print("joined" if answer.get("ok") else f"refused {answer}", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
