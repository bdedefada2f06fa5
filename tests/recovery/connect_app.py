"""An app with its own connect handler, which puts each client in rooms of the server's
choosing: ``lobby`` always, and ``desk-<name>`` for the name the client sends as its auth
``token`` (pushsvc's own connect checks are not in play: the app's handler replaces them,
``PUSHSVC_AUTH_MODE=none``). Served by gunicorn in
tests/recovery/test_rooms_the_apps_connect_handler_joins_are_recovered.py.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_socketio import join_room

import pushsvc

app = Flask(__name__)
socketio = pushsvc.init_app(app)


@socketio.on("connect")
def connect(auth: Any = None) -> None:
    join_room("lobby")
    name = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(name, str) and name.isalnum():
        join_room(f"desk-{name}")
