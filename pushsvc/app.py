"""The app factory, and the one code path that adds push to any Flask app.

``create_app()`` is ``Flask(...)`` + ``init_app()``. ``init_app(app)`` is what an
existing Flask service calls: it builds the ``SocketIO`` object (gevent, the bus
manager from ``pushsvc.bus``, the origin policy, the message size limits),
registers the demo protocol handlers and the pushsvc routes (demo page, JS
client, /healthz, /readyz, /metrics), and keeps a ``PushService`` in
the app (``pushsvc.service.service_of(app)``) for readiness and the graceful shutdown.

Run it under gunicorn with pushsvc's worker (``pushsvc serve``); importing this
module imports Flask-SocketIO, so the gevent monkey-patching must have run first.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from pushsvc import engine_limits, wsdirect
from pushsvc.admin import init_admin_ui
from pushsvc.bus import make_client_manager
from pushsvc.handlers import register_handlers
from pushsvc.health import register_health
from pushsvc.identity import EXTENSION_KEY as IDENTITY_KEY
from pushsvc.identity import Identity, describe, install_log_redaction, register_demo_tokens
from pushsvc.limits import engineio_logger, log_oversized_polls
from pushsvc.origins import OriginPolicy
from pushsvc.recovery import install as install_recovery
from pushsvc.routes import check_js_client, register_routes
from pushsvc.service import EXTENSION_KEY, PushService, service_of
from pushsvc.settings import Settings

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings | None = None) -> SocketIO:
    """Add Socket.IO push (the demo protocol, health, metrics) to ``app``; return the SocketIO.

    Register your own handlers on the returned object (``@socketio.on("my_app_event")``).
    """
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("pushsvc.init_app() was already called for this app")
    settings = settings if settings is not None else Settings()
    manager = make_client_manager(settings)
    socketio = SocketIO(
        app,
        async_mode="gevent",
        client_manager=manager,
        cors_allowed_origins=OriginPolicy(settings.allowed_origins()),
        max_http_buffer_size=settings.hard_message_limit_bytes,
        engineio_logger=engineio_logger(settings.hard_message_limit_bytes),
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
    )
    if settings.engine == "pushsvc":  # issue 21: pushsvc's own Engine.IO server, opt-in
        from pushsvc.engineio.sio import install as install_engine

        engine_limits.install_socketio_layer(install_engine(socketio, settings), settings)
    else:
        guard = engine_limits.install(socketio.server, settings)
        wsdirect.install(socketio.server.eio)
        app.wsgi_app = guard.wsgi(  # type: ignore[method-assign,assignment]
            log_oversized_polls(app.wsgi_app, hard_limit=settings.hard_message_limit_bytes)
        )
    service = PushService(settings=settings, socketio=socketio)
    app.extensions[EXTENSION_KEY] = service
    identity = Identity(settings)
    install_log_redaction()  # ?token= never reaches a request log line
    app.extensions[IDENTITY_KEY] = identity
    register_handlers(socketio, settings=settings, service=service, identity=identity)
    register_demo_tokens(app, settings)  # off unless PUSHSVC_DEMO_TOKENS
    if identity.authenticator is not None:
        log.info("%s", describe(settings, identity.authenticator))
    install_recovery(settings=settings, server=socketio.server, manager=manager)
    register_routes(app, settings)
    register_health(app, settings)
    init_admin_ui(app, socketio, settings)  # off unless PUSHSVC_ADMIN_UI
    check_js_client(settings)
    log.info(
        "pushsvc initialised: reply event %r, %d extra allowed origin(s), message limit %d "
        "bytes (connection closed past %d)",
        settings.reply_event,
        len(settings.allowed_origins()),
        settings.max_message_bytes,
        settings.hard_message_limit_bytes,
    )
    return socketio


def create_app(settings: Settings | None = None) -> Flask:
    """A Flask app that is only pushsvc (the demo page at /)."""
    app = Flask(__name__)
    init_app(app, settings)
    return app


def get_socketio(app: Flask) -> SocketIO:
    """The SocketIO object ``init_app`` attached to ``app``."""
    return service_of(app).socketio
