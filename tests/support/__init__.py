"""Helpers shared by every test folder: real pushsvc processes and real Socket.IO clients.

``start_pushsvc`` runs the real ``pushsvc serve`` (gunicorn, one worker of pushsvc's
Engine.IO layer) on a loopback port — it is the shipped ``pushsvc.testing.procs`` one, which
the topology and bench/ use too; ``RecordingClient`` wraps python-socketio's client and
keeps every event it receives so tests can wait for them with bounded polling.
"""

from __future__ import annotations

from tests.support.pushsvc_proc import PushsvcProcess, PushsvcStartError, free_port, start_pushsvc
from tests.support.sio_client import RecordingClient, wait_until

__all__ = [
    "PushsvcProcess",
    "PushsvcStartError",
    "RecordingClient",
    "free_port",
    "start_pushsvc",
    "wait_until",
]
