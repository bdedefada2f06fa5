"""The Socket.IO Admin UI: python-socketio's ``instrument()``, behind a login, served by pushsvc.

Off by default (``PUSHSVC_ADMIN_UI``). When off, nothing here runs: the ``/admin`` Socket.IO
namespace has no handler and python-socketio refuses connections to it ("Unable to connect"),
and there is no /admin/ page. When on:

- the UI's static build comes from the npm package ``@socket.io/admin-ui`` (``ui/dist``) and its
  icon font from ``@mdi/font``, both served here under /admin/ — never from a CDN: the page's
  links to Google Fonts and jsDelivr are rewritten (Roboto falls back to the system font);
- the page opens with the server URL preset to its own origin, so the UI connects to this
  pod's ``/admin`` namespace through the same origin policy as every client;
- an admin must log in with ``PUSHSVC_ADMIN_UI_USERNAME`` / ``PUSHSVC_ADMIN_UI_PASSWORD``
  (compared in constant time; a refusal is counted as
  ``pushsvc_refused_connections_total{reason="admin_auth"}`` and logged without the values);
- everything sent to admins stays on this pod: python-socketio emits its reports to the admin
  namespace through the client manager, which for the Kubernetes bus would turn every report
  into an Event in etcd — so admin-namespace emits are delivered locally only;
- the sockets' handshake as the UI shows it has credentials masked (Authorization, Cookie,
  token-like query parameters).

The UI shows one pod: each pod is instrumented on its own (behind HAProxy, the cookie picks
the pod). In the default 'development' mode admins also see every event and its arguments.
"""

from __future__ import annotations

import hmac
import logging
import re
from pathlib import Path
from typing import Any

import socketio
from flask import Blueprint, Flask, Response, redirect, send_from_directory
from flask_socketio import SocketIO
from socketio.admin import InstrumentedServer

from pushsvc import metrics
from pushsvc.assets import asset_dir
from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

ADMIN_NAMESPACE = "/admin"
URL_PREFIX = "/admin"
_MASK = "(hidden by pushsvc)"
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
_SECRET_QUERY = re.compile(r"token|auth|key|secret|password|session", re.IGNORECASE)
_CDN_FONTS = re.compile(r'<link rel="stylesheet" href="https://fonts\.googleapis\.com/[^"]*">')
_CDN_ICONS = re.compile(r'href="https://cdn\.jsdelivr\.net/npm/@mdi/font@[^"/]*/css/'
                        r'materialdesignicons\.min\.css"')
# The UI keeps the server URL in localStorage; preset it to this page's own origin.
_PRESET = ('<script>try{if(!localStorage.getItem("server_url"))'
           'localStorage.setItem("server_url",location.origin)}catch(e){}</script>')


def ui_dir(settings: Settings) -> Path:
    return asset_dir(settings.admin_ui_dir, packaged="admin-ui",
                     node_modules="@socket.io/admin-ui/ui/dist", marker="index.html")


def icons_dir(settings: Settings) -> Path:
    return asset_dir(settings.admin_ui_icons_dir, packaged="admin-icons",
                     node_modules="@mdi/font", marker="css/materialdesignicons.min.css")


class _MaskingInstrumentedServer(InstrumentedServer):
    """python-socketio's instrumentation, showing the UI no credentials of other clients."""

    def serialize_socket(self, sid: str, namespace: str, eio_sid: str | None = None
                         ) -> dict[str, Any]:
        data: dict[str, Any] = super().serialize_socket(sid, namespace, eio_sid)
        handshake = data.get("handshake", {})
        headers = handshake.get("headers", {})
        for name in list(headers):
            if name.replace("_", "-") in _SECRET_HEADERS:
                headers[name] = _MASK
        query = handshake.get("query", {})
        for name in list(query):
            if _SECRET_QUERY.search(name):
                query[name] = _MASK
        return data


def _check_login(settings: Settings) -> Any:
    username = settings.admin_ui_username.encode()
    assert settings.admin_ui_password is not None  # the settings refuse the UI without one
    password = settings.admin_ui_password.get_secret_value().encode()

    def check(auth: Any) -> bool:
        given = auth if isinstance(auth, dict) else {}
        user, secret = given.get("username"), given.get("password")
        ok = isinstance(user, str) and isinstance(secret, str)
        # Both comparisons always run: the time taken says nothing about which one failed.
        ok = hmac.compare_digest(user.encode() if isinstance(user, str) else b"", username) & ok
        ok = hmac.compare_digest(secret.encode() if isinstance(secret, str) else b"",
                                 password) & ok
        if not ok:
            metrics.refused_connections.labels(reason="admin_auth").inc()
            logger.warning("refused an Admin UI connection: wrong or missing username/password")
        return bool(ok)

    return check


def _keep_admin_emits_local(manager: Any) -> None:
    # Wraps whatever emit the manager has now (instrumented or not). Reports to admins are
    # about this pod and must never be published on the bus.
    inner = manager.emit

    def emit(event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> Any:
        if namespace == ADMIN_NAMESPACE:
            return socketio.Manager.emit(manager, event, data, ADMIN_NAMESPACE,
                                         room=to or room, skip_sid=skip_sid, callback=callback)
        return inner(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                     to=to, **kwargs)

    manager.emit = emit


def _index_html(folder: Path) -> str:
    html = (folder / "index.html").read_text(encoding="utf-8")
    html = _CDN_FONTS.sub("", html)
    html = _CDN_ICONS.sub('href="_icons/css/materialdesignicons.min.css"', html)
    return html.replace("<script", _PRESET + "<script", 1)


def _blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("pushsvc_admin", __name__, url_prefix=URL_PREFIX)
    folder = ui_dir(settings)
    icons = icons_dir(settings)
    missing = (f"The Admin UI is not installed at {folder}: run ./scripts/setup.sh (npm ci) or "
               "set PUSHSVC_ADMIN_UI_DIR\n")

    @bp.get("")
    def admin_root() -> Any:
        return redirect(URL_PREFIX + "/", code=308)

    @bp.get("/")
    def admin_index() -> Response | tuple[str, int, dict[str, str]]:
        if not (folder / "index.html").is_file():
            return missing, 404, {"Content-Type": "text/plain"}
        return Response(_index_html(folder), content_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    @bp.get("/_icons/<any(css, fonts):kind>/<name>")
    def admin_icons(kind: str, name: str) -> Response:
        return send_from_directory(icons / kind, name, max_age=3600)

    @bp.get("/<path:name>")
    def admin_asset(name: str) -> Response:
        return send_from_directory(folder, name, max_age=3600)

    return bp


def init_admin_ui(app: Flask, socketio_: SocketIO, settings: Settings) -> InstrumentedServer | None:
    """Instrument the Socket.IO server and serve the UI, if ``PUSHSVC_ADMIN_UI`` is on."""
    if not settings.admin_ui:
        return None
    server = socketio_.server
    instrumented = _MaskingInstrumentedServer(
        server,
        auth=_check_login(settings),
        mode=settings.admin_ui_mode,
        read_only=settings.admin_ui_read_only,
        server_id=settings.pod_name or None,
        namespace=ADMIN_NAMESPACE,
    )
    _keep_admin_emits_local(server.manager)
    app.register_blueprint(_blueprint(settings))
    if not (ui_dir(settings) / "index.html").is_file():
        logger.error("Admin UI build not found at %s: /admin/ will answer 404. Run "
                     "./scripts/setup.sh (npm ci) or set PUSHSVC_ADMIN_UI_DIR", ui_dir(settings))
    logger.info("Admin UI on at %s/ (namespace %s, user %r, %s, %s mode)", URL_PREFIX,
                ADMIN_NAMESPACE, settings.admin_ui_username,
                "read-only" if settings.admin_ui_read_only else "read-write",
                settings.admin_ui_mode)
    return instrumented
