"""An existing Flask app that adds push with ``pushsvc.init_app`` (docs/flask-app.md's example).

Served by gunicorn in tests/server/test_init_app_adds_push_to_an_existing_flask_app.py.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

import pushsvc

app = Flask(__name__)


@app.get("/")
def home() -> str:
    return "the existing app's home page"


@app.get("/hello")
def hello() -> str:
    return "hello from the existing app"


socketio = pushsvc.init_app(app)  # only your own events; classic=True adds the demo protocol


@socketio.on("add")
def add(message: dict[str, Any]) -> dict[str, Any]:
    return {"sum": message["a"] + message["b"]}
