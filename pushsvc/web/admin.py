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
  ``pushsvc_refused_connections_total{reason="admin_auth"}`` and logged once per connection,
  without the values); wrong logins are budgeted per address by pushsvc.sio.connect_guard
  (``PUSHSVC_ADMIN_UI_LOGIN_FAILURES_PER_ADDRESS``): past it the address is locked out of
  /admin, the right password included;
- everything sent to admins stays on this pod: python-socketio emits its reports to the admin
  namespace through the client manager, which for the Kubernetes bus would turn every report
  into an Event in etcd — so admin-namespace emits are delivered locally only;
- nothing sent to admins shows a secret, in either mode (:func:`mask_secrets`, applied to
  every admin-namespace emit: socket lists and handshakes, received and sent events, the
  ``pushsvc_refresh {token}`` event included). The rule: a value under a key whose name
  holds ``token``, ``pass``, ``secret``, ``auth`` (so ``authorization``), ``bearer``,
  ``cookie``, ``jwt``, ``key``, ``session``, ``credential`` or ``signature`` (any case, any
  depth, header and query names included) is replaced by ``(hidden by pushsvc)``; so is any
  string shaped like a JWT (``eyJ...``.``...``.), holding ``Bearer ...`` or a secret-named
  query parameter (a ``Referer`` with ``?token=``), or containing one of this server's own
  secrets (auth token, admin password, JWT and recovery secrets, health token).

Packets and bytes in and out (the UI's charts) are counted by pushsvc's engine per Engine.IO
message into python-socketio's ``event_buffer`` (python-socketio patches python-engineio's
socket class for them, which pushsvc's engine does not use).

The UI shows one pod: each pod is instrumented on its own (behind HAProxy, the cookie picks
the pod). In the default 'development' mode admins also see every event and its arguments
(masked as above).
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
from socketio.exceptions import ConnectionRefusedError

from pushsvc import metrics
from pushsvc.settings import Settings
from pushsvc.sio.connect_guard import address_of, first_refusal
from pushsvc.web.assets import asset_dir

logger = logging.getLogger(__name__)

ADMIN_NAMESPACE = "/admin"
URL_PREFIX = "/admin"
_MASK = "(hidden by pushsvc)"
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


#: Key names whose values are never shown (matched anywhere in the name, any case).
_SECRET_NAME = re.compile(r"token|pass|secret|auth|bearer|cookie|jwt|key|session|credential"
                          r"|signature", re.IGNORECASE)
#: A JWT (JWS or JWE): base64url of '{"' then at least one more dot-separated segment.
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.")
_BEARER = re.compile(r"\bbearer\s+\S", re.IGNORECASE)
#: A secret-named parameter inside a URL or query string (``...?access_token=...``).
_SECRET_PARAM = re.compile(r"(?:^|[?&;])[^=&?;#\s]*(?:token|pass|secret|auth|jwt|key|session)"
                           r"[^=&?;#\s]*=[^&#\s]", re.IGNORECASE)
_MAX_MASK_DEPTH = 64
#: Own secrets shorter than this are only masked as a whole value, not inside longer text.
_MIN_CONTAINED_SECRET = 8


def own_secrets(settings: Settings) -> tuple[str, ...]:
    """This server's secret values, which no admin report may contain."""
    found = []
    for secret in (settings.auth_token, settings.admin_ui_password, settings.jwt_secret,
                   settings.recovery_secret, settings.internal_health_token):
        if secret is not None and secret.get_secret_value():
            found.append(secret.get_secret_value())
    return tuple(found)


def _secret_text(text: str, known: tuple[str, ...]) -> bool:
    if _JWT_SHAPE.search(text) or _BEARER.search(text) or _SECRET_PARAM.search(text):
        return True
    return any(text == s or (len(s) >= _MIN_CONTAINED_SECRET and s in text) for s in known)


def mask_secrets(value: Any, known: tuple[str, ...] = (), _depth: int = 0) -> Any:
    """``value`` with every secret replaced by ``(hidden by pushsvc)`` (the rule is in the
    module docstring); tuples stay tuples (python-socketio spreads them as arguments)."""
    if _depth > _MAX_MASK_DEPTH:
        return _MASK
    if isinstance(value, str):
        return _MASK if _secret_text(value, known) else value
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and (_SECRET_NAME.search(key) or _secret_text(key, known)):
                out[_MASK if _secret_text(key, known) else key] = _MASK
            else:
                out[key] = mask_secrets(item, known, _depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [mask_secrets(item, known, _depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, bytes | bytearray):
        return _MASK if _secret_text(bytes(value).decode("latin-1"), known) else value
    return value


class _PushsvcInstrumentedServer(InstrumentedServer):
    """python-socketio's instrumentation, with pushsvc's login and its refusals logged once
    per connection.

    ``admin_connect`` is replaced, not extended: python-socketio 5.18's sends the socket list
    from a loop that reuses ``sid`` as its variable, so the list went to the last socket
    listed instead of the admin who logged in (a second admin got none).
    """

    def admin_connect(self, sid: str, environ: dict[str, Any], client_auth: Any) -> None:
        if not self.auth(client_auth):
            metrics.refused_connections.labels(reason="admin_auth").inc()
            if first_refusal(environ, "admin_auth"):
                logger.warning("refused an Admin UI connection from %s: wrong or missing "
                               "username/password; further refusals on this connection are "
                               "counted, not logged",
                               address_of(environ))
            raise ConnectionRefusedError("authentication failed")
        self.sio.start_background_task(self._send_config, sid)

    def _send_config(self, admin: str) -> None:
        self.sio.sleep(0.1)
        features = ["AGGREGATED_EVENTS"]
        if not self.read_only:
            features += ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE",
                         "MDISCONNECT"]
        if self.mode == "development":
            features.append("ALL_EVENTS")
        self.sio.emit("config", {"supportedFeatures": features}, to=admin,
                      namespace=self.admin_namespace)
        if self.mode == "development":
            manager = self.sio.manager
            sockets = [self.serialize_socket(sid, namespace, eio_sid)
                       for namespace in manager.get_namespaces()
                       for sid, eio_sid in manager.get_participants(namespace, None)]
            self.sio.emit("all_sockets", sockets, to=admin, namespace=self.admin_namespace)

def _utf8(value: Any) -> bytes:
    # surrogatepass: a JSON string may hold a lone surrogate, which plain encode() refuses.
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else b""


def _check_login(settings: Settings) -> Any:
    username = settings.admin_ui_username.encode()
    assert settings.admin_ui_password is not None  # the settings refuse the UI without one
    password = settings.admin_ui_password.get_secret_value().encode()

    def check(auth: Any) -> bool:
        given = auth if isinstance(auth, dict) else {}
        user, secret = given.get("username"), given.get("password")
        ok = isinstance(user, str) and isinstance(secret, str)
        # Both comparisons always run: the time taken says nothing about which one failed.
        ok = hmac.compare_digest(_utf8(user), username) & ok
        ok = hmac.compare_digest(_utf8(secret), password) & ok
        return bool(ok)

    return check


def _keep_admin_emits_local(manager: Any, known: tuple[str, ...]) -> None:
    # Wraps whatever emit the manager has now (instrumented or not). Reports to admins are
    # about this pod and must never be published on the bus; every one passes the mask.
    inner = manager.emit

    def emit(event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> Any:
        if namespace == ADMIN_NAMESPACE:
            # With no admin logged in there is no one to mask for (development mode reports
            # every emit of every client).
            if manager.rooms.get(ADMIN_NAMESPACE, {}).get(None):
                event = mask_secrets(event, known)
                data = mask_secrets(data, known)
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
    instrumented = _PushsvcInstrumentedServer(
        server,
        auth=_check_login(settings),
        mode=settings.admin_ui_mode,
        read_only=settings.admin_ui_read_only,
        server_id=settings.pod_name or None,
        namespace=ADMIN_NAMESPACE,
    )
    _keep_admin_emits_local(server.manager, own_secrets(settings))
    # Per-packet counts and bytes: python-socketio gathers them by patching python-engineio's
    # socket class, which pushsvc's engine does not use; the engine reports to the same buffer.
    server.eio.traffic = instrumented.event_buffer.push
    app.register_blueprint(_blueprint(settings))
    if not (ui_dir(settings) / "index.html").is_file():
        logger.error("Admin UI build not found at %s: /admin/ will answer 404. Run "
                     "./scripts/setup.sh (npm ci) or set PUSHSVC_ADMIN_UI_DIR", ui_dir(settings))
    logger.info("Admin UI on at %s/ (namespace %s, user %r, %s, %s mode)", URL_PREFIX,
                ADMIN_NAMESPACE, settings.admin_ui_username,
                "read-only" if settings.admin_ui_read_only else "read-write",
                settings.admin_ui_mode)
    return instrumented
