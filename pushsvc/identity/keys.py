"""The verification keys: an HS256 secret (and the one being rotated out), a PEM public key
or a JWKS, read at start-up and again when the file changes (checked at most every
``KEY_FILE_CHECK_SECONDS``, during a verification). Nothing is fetched over the network.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pushsvc.identity.principal import AuthRefused

logger = logging.getLogger(__name__)

#: Key files are checked for changes at most this often (seconds), during a verification.
KEY_FILE_CHECK_SECONDS = 2.0


class Keys:
    """The verification keys: a secret, a PEM public key or a JWKS, reloaded on file change."""

    def __init__(self, *, secret: str | None, pem_file: str | None, jwks_file: str | None,
                 algorithms: list[str], previous_secret: str | None = None) -> None:
        sources = [s for s in (secret, pem_file, jwks_file) if s]
        if len(sources) != 1:
            raise ValueError("JWT mode needs exactly one of PUSHSVC_JWT_SECRET, "
                             "PUSHSVC_JWT_PUBLIC_KEY_FILE, PUSHSVC_JWT_JWKS_FILE")
        if previous_secret and not secret:
            raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS needs PUSHSVC_JWT_SECRET")
        self._secret = secret
        #: The secret being rotated out: verifies, never signs (None outside a rotation).
        self.previous: str | None = previous_secret or None
        file_name = pem_file or jwks_file
        self._path = Path(file_name) if file_name else None
        self._jwks = jwks_file is not None
        self._configured_algorithms = list(algorithms)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._key: Any = None
        self._by_kid: dict[str, Any] = {}
        self.algorithms: list[str] = []
        self._load()  # at start-up a bad file stops the server, with the reason

    def _load(self) -> None:
        if self._secret is not None:
            self._key = self._secret
            self.algorithms = self._configured_algorithms or ["HS256"]
            return
        assert self._path is not None
        stat = self._path.stat()
        text = self._path.read_text()
        if self._jwks:
            keyset = jwt.PyJWKSet.from_json(text)
            by_kid = {k.key_id or "": k for k in keyset.keys}
            if not by_kid:
                raise ValueError(f"{self._path}: the JWKS holds no usable key")
            self._by_kid = by_kid
            found = sorted({k.algorithm_name for k in keyset.keys if k.algorithm_name})
            self.algorithms = self._configured_algorithms or found or ["RS256", "ES256"]
        else:
            key = serialization.load_pem_public_key(text.encode())
            if isinstance(key, rsa.RSAPublicKey):
                default = ["RS256"]
            elif isinstance(key, ec.EllipticCurvePublicKey):
                default = {"secp256r1": ["ES256"], "secp384r1": ["ES384"]}.get(
                    key.curve.name, ["ES256"])
            else:
                raise ValueError(f"{self._path}: only RSA and EC public keys are supported")
            self._key = key
            self.algorithms = self._configured_algorithms or default
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def _maybe_reload(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._checked < KEY_FILE_CHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                stat = self._path.stat()
            except OSError:
                return  # a Secret being re-mounted: keep the keys we have
            if (stat.st_mtime_ns, stat.st_size) == self._stamp:
                return
            try:
                self._load()
                logger.info("reloaded JWT verification keys from %s", self._path)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                self._stamp = (stat.st_mtime_ns, stat.st_size)
                logger.warning("could not reload JWT keys from %s (%s); keeping the previous "
                               "ones", self._path, type(exc).__name__)

    def key_for(self, token: str) -> Any:
        self._maybe_reload()
        if not self._jwks:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid") or ""
        except jwt.PyJWTError as exc:
            raise AuthRefused("token_invalid", "the token is not a JWT") from exc
        found = self._by_kid.get(kid)
        if found is None and len(self._by_kid) == 1 and not kid:
            found = next(iter(self._by_kid.values()))
        if found is None:
            raise AuthRefused("token_invalid", "the token's key id is not among the server's "
                              "keys")
        return found.key
