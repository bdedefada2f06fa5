"""A client's connection: the connect check, the disconnect, and the expiry of its token.

The connect check refuses while the pod shuts down, checks the shared token (``token`` mode)
or the JWT (``jwt`` mode: the client joins its user's room ``user:<sub>``), then runs the
app's greetings (the classic protocol's ``Connected``). Any exception while checking refuses
the connect: python-socketio would otherwise leave the client pre-connected (receiving
broadcasts) and never clean it up. Refusals are logged once per Engine.IO connection and
reason (pushsvc.sio.connect_guard).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, join_room

from pushsvc import metrics
from pushsvc.identity import EXPIRED_REASON, AuthRefused
from pushsvc.sio.connect_guard import first_refusal
from pushsvc.sio.guards import ERROR_EVENT, Guards
from pushsvc.sio.overrides import CONNECT_CHECK_FAILED, NOT_AGAIN

logger = logging.getLogger(__name__)


def token_matches(given: object, expected: str) -> bool:
    """Constant-time comparison that never raises, whatever the client sent.

    A JSON string may hold a lone surrogate (``"\\ud800"``), which ``str.encode()`` refuses;
    ``surrogatepass`` encodes it (to bytes that match no real token).
    """
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def register_connect(guards: Guards) -> None:
    """The ``connect`` and ``disconnect`` handlers, and the token expiry sweep."""
    socketio, settings, service, identity = (guards.socketio, guards.settings, guards.service,
                                             guards.identity)

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        client = guards.sid()
        try:
            if service.shutting_down:
                metrics.refused_connections.labels(reason="shutting_down").inc()
                if first_refusal(request.environ, "shutting_down"):
                    logger.info("refused connection %s: shutting down", client)
                raise ConnectionRefusedError("server shutting down")
            principal = None
            if identity.mode == "token" and settings.auth_token is not None:
                token = auth.get("token") if isinstance(auth, dict) else None
                if not token_matches(token, settings.auth_token.get_secret_value()):
                    metrics.refused_connections.labels(reason="auth").inc()
                    if first_refusal(request.environ, "auth"):
                        logger.warning("refused connection %s: missing or wrong auth token%s",
                                       client, NOT_AGAIN)
                    raise ConnectionRefusedError("unauthorized")
            try:
                principal = identity.authenticate(auth, request.environ)
            except AuthRefused as refused:
                metrics.refused_connections.labels(reason=refused.code).inc()
                if first_refusal(request.environ, refused.code):
                    logger.info("refused connection %s: %s%s", client, refused.code, NOT_AGAIN)
                raise ConnectionRefusedError(
                    refused.code, {"code": refused.code, "reason": refused.reason}
                ) from None
            if principal is not None:
                join_room(principal.room)  # all of this user's tabs, on every pod
            for greet in guards.greetings:
                greet(client)
        except ConnectionRefusedError:
            raise
        except Exception as exc:
            metrics.refused_connections.labels(reason="error").inc()
            if first_refusal(request.environ, "error"):
                logger.warning("refused connection %s: %s while checking it%s", client,
                               type(exc).__name__, NOT_AGAIN)
            raise ConnectionRefusedError(CONNECT_CHECK_FAILED) from exc
        identity.register(client, principal)
        guards.connected(client)

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        client = guards.sid()
        guards.disconnected(client)
        identity.sessions.remove(client)

    def expire(client: str) -> None:
        metrics.client_disconnects.labels(reason="token_expired").inc()
        logger.info("disconnected %s: token_expired", client)
        socketio.emit(ERROR_EVENT, {"event": "connect", "code": "token_expired",
                                    "reason": EXPIRED_REASON}, to=client)
        if socketio.server is not None:
            socketio.server.disconnect(client, namespace="/")

    identity.start_sweeper(socketio, expire)
