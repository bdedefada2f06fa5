"""A pod under a fan-out it cannot finish: the server of the overload test.

A Socket.IO server on pushsvc's engine and three plain routes: ``/healthz`` answers ``ok``;
``/pid`` the worker's pid; ``GET /flood?seconds=S`` starts a background loop that emits to
every connected client for S seconds (at most 60) without ever waiting itself, as a bus
listener with a backlog of messages to everyone does; ``/flood`` answers at once, and
``/flooded`` says how many emits the loop made and whether it is done. Every write of such a
loop is non-blocking: nothing in it gives the gevent loop back, so only the engine's pacing
can keep gunicorn's heartbeat and ``/healthz`` going."""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import parse_qs

import gevent
import socketio

from pushsvc.engineio import Limits
from pushsvc.engineio.sio import SocketIOServer

MAX_SECONDS = 60.0
_state = {"emits": 0, "done": False, "started": False}


sio = SocketIOServer(engine_limits=Limits(max_sessions_per_address=1000, handshake_burst=10000,
                                          handshakes_per_second=10000.0))
_sio_app = socketio.WSGIApp(sio)


def _flood(seconds: float) -> None:
    deadline = time.monotonic() + min(seconds, MAX_SECONDS)
    try:
        while time.monotonic() < deadline:
            sio.emit("tick", 1)
            _state["emits"] += 1
    finally:
        _state["done"] = True


def _text(start_response: Any, body: str, status: str = "200 OK") -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _text(start_response, "ok")
    if path == "/pid":
        return _text(start_response, str(os.getpid()))
    if path == "/flood":
        seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("seconds", ["10"])[0])
        if not _state["started"]:
            _state["started"] = True
            gevent.spawn(_flood, seconds)
        return _text(start_response, "started")
    if path == "/flooded":
        return _text(start_response, json.dumps(_state))
    return _sio_app(environ, start_response)
