"""A self-signed certificate so the emulator's port also speaks HTTPS.

kubectl (clientcmd) never sends a bearer token over plain HTTP, so for token authentication and
RBAC to be testable with kubectl the kubeconfigs point at ``https://``. The same port still
answers plain HTTP (the first byte of a connection tells which), for the control endpoint and
for clients that want no TLS. The certificate is made with the ``openssl`` CLI and kept next to
the state file, so clients holding its CA survive an emulator restart.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_certificate(directory: Path, host: str) -> tuple[Path, Path] | None:
    """(cert, key) paths, created if missing; None when openssl is not installed."""
    cert, key = directory / "kubeapi-tls.crt", directory / "kubeapi-tls.key"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        log.warning("openssl not found: serving plain HTTP only (kubectl will send no token)")
        return None
    directory.mkdir(parents=True, exist_ok=True)
    sans = ",".join(dict.fromkeys(["IP:127.0.0.1", f"IP:{host}", "DNS:localhost"]))
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650",
         "-subj", "/CN=kubeapi-emulator", "-addext", f"subjectAltName={sans}"],
        check=True, capture_output=True,
    )
    key.chmod(0o600)
    log.info("created a self-signed certificate in %s", directory)
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
