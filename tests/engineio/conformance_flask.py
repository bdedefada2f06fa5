"""The official protocol suites' server as a Flask app on pushsvc: ``pushsvc serve`` runs it.

    PUSHSVC_PING_INTERVAL_SECONDS=0.3 PUSHSVC_PING_TIMEOUT_SECONDS=0.2 \\
    PUSHSVC_MAX_MESSAGE_BYTES=250000 PUSHSVC_CONNECT_TIMEOUT_SECONDS=1 \\
    PUSHSVC_HOST=127.0.0.1 PUSHSVC_PORT=3000 pushsvc serve tests.engineio.conformance_flask:app

That is the configuration the suites' READMEs give (pingInterval 300 ms, pingTimeout 200 ms,
maxPayload 1,000,000 = 4 x PUSHSVC_MAX_MESSAGE_BYTES, connectTimeout 1,000 ms). The app calls
``pushsvc.init_app`` (every pushsvc bound and check) and adds the suites' handlers: on ``/``
and ``/custom`` the connect handler emits ``auth`` with the CONNECT's payload (on ``/`` it
stands in for pushsvc's own connect checks, which the suite does not exercise), ``message``
is answered ``message-back`` and ``message-with-ack`` acknowledged with its arguments. The
engine.io-protocol suite's echo is an Engine.IO server at ``/engine.io/`` on the same engine,
with the same limits, origin policy and heartbeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask_socketio import emit

import pushsvc
from pushsvc.engineio import Server
from pushsvc.engineio.sio import limits_from
from pushsvc.settings import Settings
from pushsvc.web.origins import OriginPolicy

settings = Settings()
app = Flask(__name__)
socketio = pushsvc.init_app(app, settings)

for _namespace in ("/", "/custom"):
    @socketio.on("connect", namespace=_namespace)
    def _connect(auth: Any = None) -> None:
        emit("auth", auth if auth is not None else {})

    @socketio.on("message", namespace=_namespace)
    def _message(*args: Any) -> None:
        emit("message-back", args)

    @socketio.on("message-with-ack", namespace=_namespace)
    def _message_with_ack(*args: Any) -> Any:
        return args


echo = Server(engine_limits=limits_from(settings), ping_interval=settings.ping_interval_seconds,
              ping_timeout=settings.ping_timeout_seconds,
              max_http_buffer_size=settings.hard_message_limit_bytes,
              cors_allowed_origins=OriginPolicy(settings.allowed_origins()))
echo.on("message", lambda sid, data: echo.send(sid, data))

_flask_wsgi = app.wsgi_app


def _with_echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if str(environ.get("PATH_INFO", "")).startswith("/engine.io/"):
        return echo.handle_request(environ, start_response)
    return _flask_wsgi(environ, start_response)


app.wsgi_app = _with_echo  # type: ignore[method-assign]
