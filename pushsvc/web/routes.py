"""HTTP routes of pushsvc: the demo page and the JS client (health and metrics: pushsvc.web.health).

The Socket.IO browser client is served from the npm package pinned in
package-lock.json, never from a CDN and never committed: the wheel's copy
(``pushsvc/_assets/js``, made at build time), else a source tree's
``node_modules/socket.io-client/dist``; ``Settings.js_client_dir`` points elsewhere
(pushsvc.web.assets).
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    render_template,
    send_from_directory,
)

from pushsvc.settings import Settings
from pushsvc.web.assets import MISSING_HINT, asset_dir

logger = logging.getLogger(__name__)

JS_CLIENT_FILES = frozenset(
    {"socket.io.min.js", "socket.io.min.js.map", "socket.io.js", "socket.io.js.map"}
)


def js_client_dir(settings: Settings) -> Path:
    """Folder of the socket.io client build: the setting, the wheel's copy or node_modules."""
    return asset_dir(settings.js_client_dir, packaged="js",
                     node_modules="socket.io-client/dist", marker="socket.io.min.js")


def check_js_client(settings: Settings) -> bool:
    """Log one clear line at start-up when the JS client is missing; True when present."""
    folder = js_client_dir(settings)
    if (folder / "socket.io.min.js").is_file():
        return True
    logger.error(
        "Socket.IO JS client not found at %s/socket.io.min.js: the demo page will not connect "
        "(%s, or set PUSHSVC_JS_CLIENT_DIR)", folder, MISSING_HINT,
    )
    return False


def make_blueprint(settings: Settings, *, demo_page: bool) -> Blueprint:
    bp = Blueprint(
        "pushsvc",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/pushsvc-static",
    )
    client_dir = js_client_dir(settings)

    if demo_page:

        @bp.get("/")
        def index() -> str:
            return render_template(
                "pushsvc_demo.html", reply_event=settings.reply_event,
                demo_tokens=settings.demo_tokens,  # GET /pushsvc-demo/token (pushsvc.identity)
                job_event=settings.job_notify_event,  # pushsvc.jobs, the page's Jobs list
            )

    @bp.get("/js/<name>")
    def js_client(name: str) -> Response | tuple[str, int, dict[str, str]]:
        if name not in JS_CLIENT_FILES:
            return "not found\n", 404, {"Content-Type": "text/plain"}
        if not (client_dir / name).is_file():
            return (
                f"{name} is not installed at {client_dir} ({MISSING_HINT}, or set "
                "PUSHSVC_JS_CLIENT_DIR)\n",
                404,
                {"Content-Type": "text/plain"},
            )
        return send_from_directory(client_dir, name, max_age=3600)

    return bp


def register_routes(app: Flask, settings: Settings, *, demo_page: bool) -> None:
    """The JS client, and the demo page when ``demo_page`` (health and metrics:
    pushsvc.web.health)."""
    app.register_blueprint(make_blueprint(settings, demo_page=demo_page))
