"""Raw Engine.IO v4 / Socket.IO v5 clients: exact frames over WebSocket and long-polling.

python-socketio's client only sends well-formed packets; attacks and fuzzing need to send
anything. ``RawWebSocket`` sends and reads single WebSocket messages (one Engine.IO packet
each; binary attachments are raw binary messages); ``RawPolling`` does handshakes, POSTs
payloads and long-poll GETs with ``requests``. Both can bind a loopback source address
(``source_address="127.0.0.3"``) so per-address limits can be tested from one machine.

Frame cheat sheet (Engine.IO type first, then Socket.IO type): ``40`` connect to ``/``,
``42["my_event",{"data":"x"}]`` an event, ``451-["my_event",{"_placeholder":true,"num":0}]``
a binary event announcing one attachment, ``2``/``3`` ping/pong, ``1`` close.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import websocket
from requests.adapters import HTTPAdapter

RECORD_SEPARATOR = "\x1e"
DEFAULT_TIMEOUT_S = 10.0


class HandshakeRefused(Exception):
    """The server answered the Engine.IO handshake with an HTTP error or a close."""

    def __init__(self, status: int | None, body: str) -> None:
        super().__init__(f"handshake refused: {status} {body!r}")
        self.status = status
        self.body = body


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


class RawWebSocket:
    """One Engine.IO session over a WebSocket, frames sent and read as they are.

    :param url: the server, e.g. ``http://127.0.0.1:5000``.
    :param source_address: loopback address to connect from.
    :param rcvbuf: SO_RCVBUF of the client socket (small = a slow reader's socket fills fast).
    :param headers: extra handshake headers (``{"X-Forwarded-For": "10.1.2.3"}``).
    """

    def __init__(self, url: str, *, source_address: str | None = None, rcvbuf: int | None = None,
                 headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 path: str = "/socket.io/") -> None:
        host, port = _host_port(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source_address is not None:
            sock.bind((source_address, 0))
        sock.settimeout(timeout)
        sock.connect((host, port))
        self.sock = sock
        self.ws = websocket.WebSocket()
        self.ws.settimeout(timeout)
        self.ws.connect(f"ws://{host}:{port}{path}?EIO=4&transport=websocket", socket=sock,
                        header=[f"{k}: {v}" for k, v in (headers or {}).items()])
        self.open: dict[str, Any] = {}
        self.sid = ""

    def handshake(self) -> dict[str, Any]:
        """Read the Engine.IO OPEN packet; return it. Raises HandshakeRefused on a close."""
        frame = self.recv()
        if not isinstance(frame, str) or not frame.startswith("0"):
            raise HandshakeRefused(None, repr(frame))
        self.open = json.loads(frame[1:])
        self.sid = str(self.open["sid"])
        return self.open

    def sio_connect(self, namespace: str = "/", auth: Any = None) -> dict[str, Any]:
        """Handshake, then Socket.IO CONNECT; return the server's CONNECT data ({"sid"})."""
        if not self.sid:
            self.handshake()
        prefix = "40" if namespace == "/" else f"40{namespace},"
        self.send_text(prefix + (json.dumps(auth) if auth is not None else ""))
        # The server may send events from its connect handler before the CONNECT answer.
        frame = self.recv_until(lambda f: isinstance(f, str) and f[:2] in ("40", "44"))
        if not frame.startswith("40"):
            raise HandshakeRefused(None, frame)
        body = frame[2:] if namespace == "/" else frame[len(prefix):]
        return dict(json.loads(body)) if body else {}

    def emit(self, event: str, *args: Any) -> None:
        """Send a well-formed Socket.IO event to ``/``."""
        self.send_text("42" + json.dumps([event, *args], separators=(",", ":")))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def recv(self, timeout: float | None = None) -> str | bytes | None:
        """The next WebSocket message; ``None`` when the server closed the connection."""
        if timeout is not None:
            self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            raise
        except (websocket.WebSocketException, ConnectionError, OSError):
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return None
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return bytes(data).decode("utf-8")
        return bytes(data)

    def recv_until(self, predicate: Any, *, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Read (answering pings) until ``predicate(frame)``; AssertionError on close/timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.recv(timeout=max(0.05, deadline - time.monotonic()))
            if frame is None:
                raise AssertionError("connection closed while waiting for a frame")
            if frame == "2":
                self.send_text("3")
                continue
            if predicate(frame):
                return frame
        raise AssertionError("timed out waiting for a frame")

    def closed_by_server(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> bool:
        """Read and drop frames until the server closes; False if it did not within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.ws.settimeout(max(0.05, deadline - time.monotonic()))
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                return False
            except (websocket.WebSocketException, ConnectionError, OSError):
                return True
            if opcode == websocket.ABNF.OPCODE_CLOSE or bytes(data) == b"1":
                return True
        return False

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SourceAdapter(HTTPAdapter):
    def __init__(self, source_address: str) -> None:
        self._source = source_address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


class RawPolling:
    """Engine.IO long-polling with exact payloads, over one keep-alive ``requests.Session``.

    :param url: the server, e.g. ``http://127.0.0.1:5000``.
    :param source_address: loopback address to connect from.
    :param headers: headers sent with every request.
    """

    def __init__(self, url: str, *, source_address: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 path: str = "/socket.io/") -> None:
        self.base = url.rstrip("/") + path
        self.http = requests.Session()
        if source_address is not None:
            adapter = _SourceAdapter(source_address)
            self.http.mount("http://", adapter)
        self.http.headers.update(headers or {})
        self.timeout = timeout
        self.sid = ""
        self.open: dict[str, Any] = {}

    def handshake_response(self) -> requests.Response:
        """One raw handshake GET (``?EIO=4&transport=polling``), whatever the answer."""
        return self.http.get(self.base, params={"EIO": "4", "transport": "polling"},
                             timeout=self.timeout)

    def handshake(self) -> dict[str, Any]:
        """Handshake; keep and return the OPEN packet. Raises HandshakeRefused on an error."""
        resp = self.handshake_response()
        if resp.status_code != 200 or not resp.text.startswith("0"):
            raise HandshakeRefused(resp.status_code, resp.text[:200])
        self.open = json.loads(resp.text[1:].split(RECORD_SEPARATOR)[0])
        self.sid = str(self.open["sid"])
        return self.open

    def sio_connect(self, namespace: str = "/", auth: Any = None) -> dict[str, Any]:
        """Handshake, then Socket.IO CONNECT; return the server's CONNECT data."""
        if not self.sid:
            self.handshake()
        prefix = "40" if namespace == "/" else f"40{namespace},"
        self.post(prefix + (json.dumps(auth) if auth is not None else ""))
        for packet in self.get_until(lambda p: p[:2] in ("40", "44")):
            if packet.startswith("40"):
                body = packet[len(prefix):] if namespace != "/" else packet[2:]
                return dict(json.loads(body)) if body else {}
        raise HandshakeRefused(None, "no CONNECT answer")

    def _params(self) -> dict[str, str]:
        return {"EIO": "4", "transport": "polling", "sid": self.sid}

    def post(self, payload: str | bytes | list[str]) -> requests.Response:
        """POST a payload: a string/bytes as is, or a list of packets joined by \\x1e."""
        body = RECORD_SEPARATOR.join(payload) if isinstance(payload, list) else payload
        return self.http.post(self.base, params=self._params(), data=body,
                              headers={"Content-Type": "text/plain;charset=UTF-8"},
                              timeout=self.timeout)

    def emit(self, event: str, *args: Any) -> requests.Response:
        return self.post("42" + json.dumps([event, *args], separators=(",", ":")))

    def get(self) -> list[str]:
        """One long-poll GET: its packets (binary ones are 'b'+base64). [] on an HTTP error."""
        resp = self.http.get(self.base, params=self._params(), timeout=self.timeout)
        if resp.status_code != 200:
            return []
        return resp.text.split(RECORD_SEPARATOR) if resp.text else []

    def get_until(self, predicate: Any, *, timeout: float = DEFAULT_TIMEOUT_S) -> list[str]:
        """Poll (answering pings) until a packet matches; return that GET's packets."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packets = self.get()
            if not packets:
                raise AssertionError("the session ended while waiting for a packet")
            if "2" in packets:
                self.post("3")
            if any(predicate(p) for p in packets):
                return packets
        raise AssertionError("timed out waiting for a packet")

    def close(self) -> None:
        if self.sid:
            try:
                self.post("1")
            except requests.RequestException:
                pass
        self.http.close()

    def __enter__(self) -> RawPolling:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
