"""A raw Engine.IO client for the fuzz suite: it sends whatever it is given, unchecked."""

from __future__ import annotations

import json

import requests
import websocket


class TextBytes(bytes):
    """Bytes sent as a TEXT frame: lets a test send text frames that are not valid UTF-8."""


class RawWebSocket:
    """One Engine.IO WebSocket session, connected to the default Socket.IO namespace."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=timeout)
        opening = self.ws.recv()
        assert isinstance(opening, str) and opening.startswith("0"), opening
        self.ws.send("40")

    def send(self, frame: str | bytes) -> bool:
        """Send one frame; False once the server has closed the connection."""
        try:
            if isinstance(frame, TextBytes):
                self.ws.send(bytes(frame), opcode=websocket.ABNF.OPCODE_TEXT)
            elif isinstance(frame, bytes):
                self.ws.send_binary(frame)
            else:
                self.ws.send(frame)
            return True
        except (websocket.WebSocketException, OSError):
            return False

    def close(self) -> None:
        self.ws.close()


class RawPolling:
    """One Engine.IO long-polling session (handshake done, namespace connected)."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.base = url + "/socket.io/"
        self.http = requests.Session()
        self.timeout = timeout
        resp = self.http.get(self.base, params={"EIO": "4", "transport": "polling"},
                             timeout=timeout)
        resp.raise_for_status()
        self.sid = json.loads(resp.text[1:])["sid"]
        self.post("40")

    def post(self, body: str | bytes) -> int:
        """POST one body; the HTTP status, or 0 when the server kept the request open.

        python-engineio answers an invalid packet by closing the session, and that close waits
        for the client to fetch what is queued: the POST then hangs until the ping timeout.
        """
        try:
            resp = self._post(body)
        except requests.Timeout:
            return 0
        return resp.status_code

    def _post(self, body: str | bytes) -> requests.Response:
        return self.http.post(self.base, params={"EIO": "4", "transport": "polling",
                                                 "sid": self.sid},
                              data=body.encode("utf-8", "surrogatepass")
                              if isinstance(body, str) else body,
                              headers={"Content-Type": "text/plain;charset=UTF-8"},
                              timeout=self.timeout)

    def close(self) -> None:
        try:
            self.http.post(self.base, params={"EIO": "4", "transport": "polling",
                                              "sid": self.sid}, data=b"1", timeout=self.timeout)
        except (OSError, requests.RequestException):
            pass
        self.http.close()
