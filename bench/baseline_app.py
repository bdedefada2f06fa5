"""Plain Flask-SocketIO, the baseline every pushsvc figure is compared with.

The same demo protocol as pushsvc (the "Connected" reply on connect, join,
my_room_event, my_broadcast_event; pushes arrive as ``nuke_response``), nothing
else. Its join does not reply with the client's room list as pushsvc's does:
python-socketio answers that by scanning every room, which makes joining 10k
clients take minutes (pushsvc keeps a room index). Served exactly like
pushsvc: gunicorn with one gevent-websocket worker. With ``BENCH_REDIS_URL``
set the pods share python-socketio's ``RedisManager`` (the usual multi-pod
answer), on Flask-SocketIO's default channel ``flask-socketio``.

For the bus latency budget its manager times the same hops as pushsvc's
``pushsvc_bus_hop_seconds`` (subscriber read, emitted to this pod's clients),
from the ``bt=`` send time the bench notifier puts in each message, into
``bench_bus_hop_seconds`` on ``/metrics`` (bench/baseline_hops.py, loaded only
with ``BENCH_REDIS_URL``): a regex and three observations per message, nothing
the message itself carries changes.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request
from flask_socketio import SocketIO, emit, join_room

app = Flask(__name__)
_redis = os.environ.get("BENCH_REDIS_URL")
_queue: dict[str, Any] = {}
if _redis:
    # Flask-SocketIO's own message_queue= builds the same RedisManager on the same channel.
    from bench.baseline_hops import TimedRedisManager, metrics

    _queue["client_manager"] = TimedRedisManager(_redis, channel="flask-socketio")
    app.add_url_rule("/metrics", "metrics", metrics)
socketio = SocketIO(
    app,
    async_mode="gevent",
    **_queue,
    cors_allowed_origins=[],
    logger=False,
    engineio_logger=False,
)


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    emit("nuke_response", {"data": "Connected"})


@socketio.on("join")
def on_join(message: dict[str, Any]) -> None:
    join_room(message["room"])


@socketio.on("my_room_event")
def on_room_event(message: dict[str, Any]) -> None:
    emit("nuke_response", {"data": message["data"]}, to=message["room"])


@socketio.on("my_broadcast_event")
def on_broadcast(message: dict[str, Any]) -> None:
    emit("nuke_response", {"data": message["data"]}, broadcast=True)


@socketio.on("my_event")
def on_echo(message: dict[str, Any]) -> None:
    emit("nuke_response", {"data": message["data"], "sid": request.sid})  # type: ignore[attr-defined]
