"""Which browser origins may open a Socket.IO connection.

Handed to python-engineio as a callable ``cors_allowed_origins``: the server's
own origin (scheme://Host, honouring X-Forwarded-Proto from a TLS-terminating
proxy) is always allowed, plus the listed ones. ``*`` is never accepted (the
settings refuse it). A refused origin is logged once per process, naming the
setting to change, because browsers retry and would otherwise flood the log.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_MAX_REMEMBERED = 256
SETTING_NAME = "PUSHSVC_CORS_ALLOWED_ORIGINS"


class OriginPolicy:
    """Callable ``(origin, environ) -> bool`` for engineio's ``cors_allowed_origins``."""

    def __init__(self, allowed: list[str]) -> None:
        self._allowed = frozenset(o.rstrip("/") for o in allowed)
        self._logged: set[str] = set()

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if origin is None:
            return True
        if origin in self._allowed or origin in _own_origins(environ or {}):
            return True
        if origin not in self._logged and len(self._logged) < _MAX_REMEMBERED:
            self._logged.add(origin)
            log.warning(
                "refused Socket.IO connection from origin %s: not the server's own origin and "
                "not in %s (add it there, comma-separated, to allow it)",
                origin,
                SETTING_NAME,
            )
        return False


def _own_origins(environ: dict[str, Any]) -> set[str]:
    host = environ.get("HTTP_HOST")
    if not host:
        return set()
    schemes = {str(environ.get("wsgi.url_scheme", "http"))}
    forwarded = environ.get("HTTP_X_FORWARDED_PROTO")
    if forwarded:
        schemes.add(str(forwarded).split(",")[0].strip())
    return {f"{scheme}://{host}" for scheme in schemes}
