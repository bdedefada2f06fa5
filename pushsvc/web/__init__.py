"""pushsvc's HTTP side, next to Socket.IO: the demo page and the JS client, health and
metrics, the Admin UI, and where the browser files come from.

- :mod:`pushsvc.web.routes`: the demo page (``/``, ``templates/``, ``static/``) and the
  Socket.IO JS client;
- :mod:`pushsvc.web.health`: ``/healthz``, ``/readyz``, ``/metrics``, ``/internal/health``;
- :mod:`pushsvc.web.admin`: the Socket.IO Admin UI (off unless ``PUSHSVC_ADMIN_UI``);
- :mod:`pushsvc.web.assets`: a setting, the wheel's copy or ``node_modules``.
"""

from __future__ import annotations

from pushsvc.web.admin import init_admin_ui, mask_secrets
from pushsvc.web.assets import asset_dir
from pushsvc.web.health import register_health
from pushsvc.web.routes import JS_CLIENT_FILES, check_js_client, js_client_dir, register_routes

__all__ = [
    "JS_CLIENT_FILES",
    "asset_dir",
    "check_js_client",
    "init_admin_ui",
    "js_client_dir",
    "mask_secrets",
    "register_health",
    "register_routes",
]
