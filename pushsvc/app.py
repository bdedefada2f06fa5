"""The app factory, and the one code path that adds push to any Flask app.

``create_app()`` is ``Flask(...)`` + ``init_app(app, classic=True)``. ``init_app(app)`` is
what an existing Flask service calls: it builds the ``SocketIO`` object (gevent, the bus
manager from ``pushsvc.bus``, the origin policy, the message size limits), the connect
checks, identity and recovery, the pushsvc routes (JS client, /healthz, /readyz, /metrics),
and keeps a ``PushService`` in the app (``pushsvc.service.service_of(app)``) for readiness
and the graceful shutdown.

The classic demo protocol (its events, its ``Connected`` greeting and the demo page at
``/``) is the application's choice: ``classic=True`` turns it on, and ``create_app()``
(hence ``pushsvc serve`` and ``pushsvc demo``) does. A user's own app gets only its own
events by default, so no client of it can broadcast or write to rooms through ours.

Run it under gunicorn with pushsvc's worker (``pushsvc serve``); importing this
module imports Flask-SocketIO, so the gevent monkey-patching must have run first.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from pushsvc.bus import make_client_manager
from pushsvc.classic import register_classic
from pushsvc.engineio.sio import install as install_engine
from pushsvc.identity import EXTENSION_KEY as IDENTITY_KEY
from pushsvc.identity import Identity, describe, install_log_redaction, register_demo_tokens
from pushsvc.presence import install as install_presence
from pushsvc.recovery import install as install_recovery
from pushsvc.service import EXTENSION_KEY, PushService, service_of
from pushsvc.settings import Settings, removed_env_warnings
from pushsvc.sio import connect_guard
from pushsvc.sio import install as install_sio
from pushsvc.sio.overrides import PushSocketIO
from pushsvc.web.admin import init_admin_ui
from pushsvc.web.health import register_health
from pushsvc.web.origins import OriginPolicy
from pushsvc.web.routes import check_js_client, register_routes

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings | None = None, *, classic: bool = False
             ) -> SocketIO:
    """Add Socket.IO push (connect checks, health, metrics) to ``app``; return the SocketIO.

    Register your own handlers on the returned object (``@socketio.on("my_app_event")``).
    ``classic=True`` adds the classic Flask-SocketIO demo protocol (``my_event``, ``join``,
    ``my_room_event``, ``close_room``, ...), its ``Connected`` greeting and the demo page
    at ``/`` (unless ``PUSHSVC_DEMO_PAGE=false``).
    """
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("pushsvc.init_app() was already called for this app")
    settings = settings if settings is not None else Settings()
    manager = make_client_manager(settings)
    socketio = PushSocketIO(
        app,
        async_mode="gevent",
        client_manager=manager,
        cors_allowed_origins=OriginPolicy(settings.allowed_origins()),
        max_http_buffer_size=settings.hard_message_limit_bytes,
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
    )
    # pushsvc's own Engine.IO server (pushsvc.engineio) under python-socketio.
    install_engine(socketio, settings)
    service = PushService(settings=settings, socketio=socketio)
    app.extensions[EXTENSION_KEY] = service
    identity = Identity(settings)
    install_log_redaction()  # ?token= never reaches a request log line
    app.extensions[IDENTITY_KEY] = identity
    guards = install_sio(socketio, settings=settings, service=service, identity=identity)
    if classic:
        register_classic(guards)
    register_demo_tokens(app, settings)  # off unless PUSHSVC_DEMO_TOKENS
    if identity.authenticator is not None:
        log.info("%s", describe(settings, identity.authenticator))
    install_recovery(settings=settings, server=socketio.server, manager=manager,
                     client_budget=guards.client_budget, identity=identity)
    # Outermost wrapper of the CONNECT path: refused CONNECTs are budgeted before any check.
    connect_guard.install(socketio.server, settings, exempt=lambda: service.shutting_down)
    install_presence(app, socketio, settings=settings, identity=identity, service=service)
    register_routes(app, settings, demo_page=classic and settings.demo_page)
    register_health(app, settings)
    init_admin_ui(app, socketio, settings)  # off unless PUSHSVC_ADMIN_UI
    check_js_client(settings)
    for line in removed_env_warnings():  # retired and removed PUSHSVC_* still set
        log.warning("%s", line)
    log.info(
        "pushsvc initialised: classic protocol %s, reply event %r, %d extra allowed "
        "origin(s), message limit %d bytes (connection closed past %d)",
        "on" if classic else "off",
        settings.reply_event,
        len(settings.allowed_origins()),
        settings.max_message_bytes,
        settings.hard_message_limit_bytes,
    )
    return socketio


def create_app(settings: Settings | None = None, *, classic: bool = True) -> Flask:
    """A Flask app that is only pushsvc: the classic protocol and the demo page at /."""
    app = Flask(__name__)
    init_app(app, settings, classic=classic)
    return app


def get_socketio(app: Flask) -> SocketIO:
    """The SocketIO object ``init_app`` attached to ``app``."""
    return service_of(app).socketio
