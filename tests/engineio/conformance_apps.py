"""The two WSGI apps the protocol conformance tests serve (and the official suites, run by hand).

The engine.io-protocol and socket.io-protocol READMEs describe the server their test suites
expect: an Engine.IO echo at ``/engine.io/``, and a Socket.IO server with the namespaces
``/`` and ``/custom`` that emits ``auth`` on connect, answers ``message`` with
``message-back`` and acknowledges ``message-with-ack`` — pingInterval 300 ms, pingTimeout
200 ms, maxPayload 1,000,000, connectTimeout 1,000 ms. Both run on pushsvc's engine, served
with ``gunicorn -k pushsvc.engineio.worker.Worker``.
"""

from __future__ import annotations

import os
from typing import Any

import engineio
import socketio

PING_INTERVAL = float(os.environ.get("PUSHSVC_PING_INTERVAL_SECONDS", "0.3"))
PING_TIMEOUT = float(os.environ.get("PUSHSVC_PING_TIMEOUT_SECONDS", "0.2"))
CONNECT_TIMEOUT = float(os.environ.get("PUSHSVC_CONNECT_TIMEOUT_SECONDS", "1.0"))
MAX_FRAMES = int(os.environ.get("PUSHSVC_MAX_FRAMES_PER_MESSAGE", "256"))
MAX_SESSIONS_PER_ADDRESS = int(os.environ.get("PUSHSVC_MAX_SESSIONS_PER_ADDRESS", "500"))
UPGRADE_TIMEOUT = float(os.environ.get("PUSHSVC_UPGRADE_TIMEOUT_SECONDS", "10"))
MAX_PAYLOAD = 1_000_000


def _limits() -> Any:
    from pushsvc.engineio import Limits

    return Limits(max_payload=MAX_PAYLOAD, max_frames_per_message=MAX_FRAMES,
                  max_sessions_per_address=MAX_SESSIONS_PER_ADDRESS, handshake_burst=10000,
                  handshakes_per_second=10000.0, upgrade_timeout=UPGRADE_TIMEOUT)


def _options() -> dict[str, Any]:
    return {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT,
            "max_http_buffer_size": MAX_PAYLOAD, "cors_allowed_origins": "*"}


def build_echo() -> Any:
    from pushsvc.engineio import Server

    eio = Server(engine_limits=_limits(), **_options())

    def message(sid: str, data: Any) -> None:
        eio.send(sid, data)

    eio.on("message", message)
    return engineio.WSGIApp(eio, engineio_path="engine.io")


def build_socketio() -> Any:
    from pushsvc.engineio.sio import SocketIOServer

    sio = SocketIOServer(connect_timeout=CONNECT_TIMEOUT, engine_limits=_limits(),
                         namespaces=["/", "/custom"], **_options())

    for namespace in ("/", "/custom"):
        def connect(sid: str, environ: dict[str, Any], auth: Any = None,
                    namespace: str = namespace) -> None:
            sio.emit("auth", auth if auth is not None else {}, to=sid, namespace=namespace)

        def message(sid: str, *args: Any, namespace: str = namespace) -> None:
            sio.emit("message-back", args, to=sid, namespace=namespace)

        def message_with_ack(sid: str, *args: Any) -> Any:
            return args

        sio.on("connect", connect, namespace=namespace)
        sio.on("message", message, namespace=namespace)
        sio.on("message-with-ack", message_with_ack, namespace=namespace)
    return socketio.WSGIApp(sio)


echo_app = build_echo()
socketio_app = build_socketio()
