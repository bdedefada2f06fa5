"""docs/authentication.md's example: an existing Flask app mints the push token in its own
login view, and its own Socket.IO handler puts a user in a room after its own check.

Served by gunicorn in tests/server/test_an_apps_login_view_mints_the_push_token.py, with
PUSHSVC_AUTH_MODE=jwt and PUSHSVC_JWT_SECRET set (the pods verify with the same secret).
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

import jwt
from flask import Flask, jsonify, request
from flask_socketio import join_room

import pushsvc
from pushsvc.identity import identity_of

logging.basicConfig(level=logging.INFO)  # as many apps do: request lines get logged too
app = Flask(__name__)
PUSH_SECRET = os.environ["PUSHSVC_JWT_SECRET"]  # the pods verify with the same secret
PROJECT_MEMBERS = {"apollo": {"alice"}}  # stands for your own database


@app.post("/login")
def login() -> Any:
    user = request.form["user"]  # your own password / SSO check goes here
    now = datetime.datetime.now(datetime.UTC)
    token = jwt.encode(
        {
            "sub": user,
            "iat": now,
            "exp": now + datetime.timedelta(minutes=15),  # the client refreshes before this
            "pushsvc": {"rooms": [f"team-{user}", "job-*"], "publish": ["job-*"]},
        },
        PUSH_SECRET,
        algorithm="HS256",
    )
    return jsonify(token=token)


socketio = pushsvc.init_app(app, classic=True)  # the demo protocol too: join, my_event


@socketio.on("open_project")
def open_project(message: dict[str, Any]) -> dict[str, Any]:
    # The server may put a client in any room from its own code, whatever the token says.
    principal = identity_of(app).principal(request.sid)  # type: ignore[attr-defined]
    project = str(message.get("project", ""))
    if principal is None or principal.sub not in PROJECT_MEMBERS.get(project, set()):
        return {"ok": False}
    join_room(f"project-{project}")
    return {"ok": True}


@socketio.on("my_tabs")
def my_tabs(message: Any = None) -> dict[str, Any]:
    principal = identity_of(app).principal(request.sid)  # type: ignore[attr-defined]
    if principal is None:
        return {"sessions": []}
    # This pod's connections of the user; the room user:<sub> reaches those on every pod.
    return {"sessions": identity_of(app).sessions_of(principal.sub)}
