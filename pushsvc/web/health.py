"""Health and metrics routes: /healthz, /readyz, /metrics and the non-public /internal/health.

Readiness answers one question — can this pod serve its clients — so an API-server outage
never takes every pod out of the load balancer at once: the bus's state is not part of it.
Bus health (watch up, seconds down, outbox) goes to /metrics and to /internal/health, which
names the namespace, the channel and the API's own error text, so it is answered only to
loopback peers that did not come through a proxy, or to a bearer token
(``PUSHSVC_INTERNAL_HEALTH_TOKEN``); haproxy/haproxy.cfg denies /internal/ and /metrics from
outside as well. Public bodies hold fixed words only: no address, account or namespace.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from pushsvc import metrics
from pushsvc.service import PushService, service_of
from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: Headers a proxy adds: a request carrying one did not come straight from this host.
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _service() -> PushService:
    return service_of(current_app)


def internal_allowed(settings: Settings) -> bool:
    """Loopback without proxy headers, or the configured bearer token."""
    token = settings.internal_health_token
    header = request.headers.get("Authorization", "")
    if token is not None and header[:7].lower() == "bearer ":
        given = header[7:].strip().encode("utf-8", errors="replace")
        if hmac.compare_digest(given, token.get_secret_value().encode()):
            return True
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def make_health_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("pushsvc_health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        # Liveness: the process answers. Never depends on the API server or the bus.
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        ok, why = _service().ready()
        return jsonify(ready=ok, reason=why), 200 if ok else 503

    @bp.get("/metrics")
    def metrics_route() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    @bp.get("/internal/health")
    def internal_health() -> tuple[Response, int]:
        if not internal_allowed(settings):
            return jsonify(error="forbidden: ask from the pod itself (loopback) or send "
                                 "Authorization: Bearer <PUSHSVC_INTERNAL_HEALTH_TOKEN>"), 403
        service = _service()
        ok, why = service.ready()
        bus = service.bus_health()
        return jsonify(ready=ok, reason=why,
                       bus=dataclasses.asdict(bus) if bus is not None else None), 200

    return bp


def register_health(app: Flask, settings: Settings) -> None:
    """/healthz, /readyz, /metrics and /internal/health."""
    app.register_blueprint(make_health_blueprint(settings))
