"""Two shortcuts in gevent.pywsgi's request and response handling, so that the emulator is not
what a bus benchmark measures.

pywsgi parses request headers with ``http.client.parse_headers`` — the ``email`` package's
feed parser, about half of the emulator's CPU for a small create. :class:`Headers` reads the
same lines (same limits: 64 KiB per line, 100 headers; folded lines joined) into a dict. And
pywsgi sends a response's headers and its first body chunk in two writes — two TLS records
and two wake-ups of the reader; :func:`headers_and_body` builds one buffer for both.
:class:`Handler` and :class:`Server` put both to use, set ``TCP_NODELAY`` and serve TLS and
plain HTTP on one port.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from typing import Any, BinaryIO

from gevent.pywsgi import WSGIHandler, WSGIServer

log = logging.getLogger(__name__)

_MAXLINE = 65536
_MAXHEADERS = 100


class Headers:
    """What pywsgi asks of its ``MessageClass``: ``get``/``getheader`` (case-insensitive, the
    first of repeated headers), ``del``, ``headers`` (the raw lines), ``typeheader``,
    ``status`` ('' when the headers were read whole)."""

    __slots__ = ("_lines", "_values", "status")

    def __init__(self, fp: BinaryIO, *_args: Any) -> None:
        self._lines: list[str] = []
        self._values: dict[str, str] = {}
        self.status = ""
        last = ""
        while True:
            raw = fp.readline(_MAXLINE + 1)
            if len(raw) > _MAXLINE:
                self.status = "Line too long"
                return
            if raw in (b"\r\n", b"\n", b""):
                return
            if len(self._lines) >= _MAXHEADERS:
                self.status = "Too many headers"
                return
            line = raw.decode("iso-8859-1")
            self._lines.append(line)
            if line[:1] in (" ", "\t"):
                if last:  # an obsolete folded line continues the previous header
                    self._values[last] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            last = name.strip().lower()
            self._values.setdefault(last, value.strip())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name.lower(), default)

    getheader = get

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        self._values.pop(key, None)
        self._lines = [ln for ln in self._lines if ln.partition(":")[0].strip().lower() != key]

    @property
    def headers(self) -> list[str]:
        return self._lines

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")


def headers_and_body(status: bytes, headers: list[tuple[bytes, bytes]], data: bytes, *,
                     chunked: bool) -> bytearray:
    """A response's status line, headers and first body chunk, framed as pywsgi frames them."""
    out = bytearray(b"HTTP/1.1 ")
    out += status
    out += b"\r\n"
    for name, value in headers:
        out += name
        out += b": "
        out += value
        out += b"\r\n"
    out += b"\r\n"
    if data:
        if chunked:
            out += b"%x\r\n" % len(data)
            out += data
            out += b"\r\n"
        else:
            out += data
    return out


class Handler(WSGIHandler):
    MessageClass = Headers

    def _write_with_headers(self, data: bytes) -> None:
        # pywsgi's own sends the headers and the first chunk in two writes
        self.headers_sent = True
        self.finalize_headers()
        self._sendall(headers_and_body(self.status, self.response_headers, data,
                                            chunked=bool(self.response_use_chunked)))

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        env["kubeapi.socket"] = self.socket
        env["kubeapi.arrived"] = time.time()  # request line and headers parsed
        return env


class Server(WSGIServer):
    tls_context: ssl.SSLContext | None = None

    def handle(self, sock: socket.socket, address: Any) -> None:
        # Watch lines are small writes: without NODELAY, Nagle + delayed ACK add ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is not None:
            # One port, both protocols: a TLS ClientHello starts with byte 0x16.
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if first == b"\x16":
                try:
                    sock = self.tls_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as err:
                    log.debug("TLS handshake failed: %s", err)
                    sock.close()
                    return
        super().handle(sock, address)
