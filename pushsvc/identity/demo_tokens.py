"""Development only (``PUSHSVC_DEMO_TOKENS``): a route that mints a token for any name."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pushsvc.identity.tokens import mint

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

DEMO_TOKEN_PATH = "/pushsvc-demo/token"
DEMO_TOKEN_TTL_SECONDS = 3600
DEMO_TOKEN_MIN_TTL_SECONDS = 4  # ``?ttl=`` lets the page show a refresh within seconds


def register_demo_tokens(app: Any, settings: Settings) -> None:
    """Development only (PUSHSVC_DEMO_TOKENS): ``GET /pushsvc-demo/token?sub=NAME[&ttl=S]``
    answers ``{"token"}`` for any name, allowed every room, broadcast and the presence of
    every room (the demo page shows its rooms'), for an hour (or ``ttl`` seconds, 4 to
    3600)."""
    if not settings.demo_tokens or settings.jwt_secret is None:
        return
    from flask import jsonify, request

    secret = settings.jwt_secret.get_secret_value()

    def demo_token() -> Any:
        sub = str(request.args.get("sub", "")).strip()[:64] or "demo-user"
        try:
            ttl = float(request.args.get("ttl", DEMO_TOKEN_TTL_SECONDS))
        except ValueError:
            ttl = DEMO_TOKEN_TTL_SECONDS
        ttl = min(max(ttl, DEMO_TOKEN_MIN_TTL_SECONDS), DEMO_TOKEN_TTL_SECONDS)
        token = mint(secret, sub=sub, ttl_seconds=ttl, rooms=["*"],
                     publish=["*"], close=["*"], broadcast=True, presence=["*"],
                     audience=settings.jwt_audience, issuer=settings.jwt_issuer)
        response = jsonify({"token": token, "sub": sub})
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule(DEMO_TOKEN_PATH, "pushsvc_demo_token", demo_token, methods=["GET"])
    logger.warning("demo tokens are ON (PUSHSVC_DEMO_TOKENS): anyone who reaches %s can mint "
                   "a token for any user; never turn this on in production", DEMO_TOKEN_PATH)
