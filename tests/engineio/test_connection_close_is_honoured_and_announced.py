"""A request that says ``Connection: close`` gets ``Connection: close`` back before the server
closes: gevent's pywsgi closed silently, and Node's agent (which keeps such a socket) then
failed its next request with "socket hang up"."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.support import PushsvcProcess


def _raw_get(url: str, path: str) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_the_close_is_announced_on_the_engine_and_the_app(serve_with: object) -> None:
    server: PushsvcProcess = serve_with()  # type: ignore[operator]
    for path in ("/socket.io/?EIO=4&transport=polling", "/healthz"):
        head = _raw_get(server.url, path).split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 200")
        assert b"\r\nconnection: close" in head, head
