"""An exception anywhere in connect handling refuses the client and forgets it.

pushsvc's own connect check turns any error into a refusal; this covers what runs around
or instead of it — here an application's own connect handler with a bug. Without the guard,
python-socketio lets the exception escape with the client still pre-connected.
In process, with Flask-SocketIO's test client (it goes through the same connect path).
"""

from __future__ import annotations

from typing import Any

import pytest

from pushsvc import metrics
from pushsvc.app import create_app, get_socketio
from pushsvc.settings import Settings

pytestmark = pytest.mark.unit  # in process, whatever its folder


def _refused_for_error() -> float:
    return float(metrics.refused_connections.labels(reason="error")._value.get())


def test_a_raising_connect_handler_refuses_and_leaves_no_session() -> None:
    app = create_app(Settings())
    socketio = get_socketio(app)

    @socketio.on("connect")
    def buggy_connect(auth: Any = None) -> None:
        raise RuntimeError("application bug")

    before = _refused_for_error()
    client = socketio.test_client(app, auth={"token": "anything"})
    assert not client.is_connected()
    manager = socketio.server.manager
    assert not manager.rooms.get("/", {}).get(None)
    assert not manager.pending_connect
    assert _refused_for_error() == before + 1
