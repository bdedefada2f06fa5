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
``bench_bus_hop_seconds`` on ``/metrics``: a regex and three observations per
message, nothing the message itself carries changes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import socketio as python_socketio
from flask import Flask, Response, request
from flask_socketio import SocketIO, emit, join_room
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from pushsvc.bus.metrics import HOP_BUCKETS

_REGISTRY = CollectorRegistry()
_HOPS = Histogram("bench_bus_hop_seconds", "RedisManager's hops, as pushsvc_bus_hop_seconds",
                  ["hop"], buckets=HOP_BUCKETS, registry=_REGISTRY)
_SENT = re.compile(rb"bt=([0-9.]+)")


class TimedRedisManager(python_socketio.RedisManager):
    """RedisManager with its listener timed: read off redis → emitted here (see above)."""

    def _listen(self) -> Iterator[Any]:
        for message in super()._listen():
            read = time.time()
            yield message  # PubSubManager._thread emits it before it asks for the next one
            emitted = time.time()
            found = _SENT.search(message if isinstance(message, bytes) else b"")
            if found:
                sent = float(found.group(1)) / 1000
                _HOPS.labels(hop="publish_to_read").observe(max(0.0, read - sent))
                _HOPS.labels(hop="read_to_emit").observe(max(0.0, emitted - read))
                _HOPS.labels(hop="publish_to_emit").observe(max(0.0, emitted - sent))


app = Flask(__name__)
_redis = os.environ.get("BENCH_REDIS_URL")
# Flask-SocketIO's own message_queue= builds the same RedisManager on the same channel.
_queue = {"client_manager": TimedRedisManager(_redis, channel="flask-socketio")} if _redis else {}
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


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(_REGISTRY), mimetype="text/plain")


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
