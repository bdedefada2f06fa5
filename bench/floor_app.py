"""The floor of the stack: bare gevent ``pywsgi`` + wsproto, no Engine.IO or Socket.IO.

What pushsvc's figures are divided by: the least a gevent WebSocket server with pushsvc's
framing can cost. The HTTP request is parsed by pywsgi (with the 1 KiB read buffer pushsvc's
worker uses), the ``101`` is written by hand and client frames are parsed by wsproto, as in
``pushsvc.engineio.websocket``. An idle connection parks one greenlet in ``recv()``; a room
message is one loop over the members, each frame built by wsproto and written with
``sendall``. It speaks only as much Engine.IO / Socket.IO as ``bench/loadclient.js`` needs to
connect, join with an ack and count deliveries: the OPEN packet, ``40`` (connect),
``420["join",...]`` (ack ``430[]``) and ``42["my_room_event",...]``. No pings, no sessions,
no limits.

``python -m bench.floor_app --port N`` (one process, no gunicorn master).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import resource
from typing import Any

from gevent import monkey

monkey.patch_all()

from gevent import pywsgi  # noqa: E402
from wsproto.connection import Connection, ConnectionState, ConnectionType  # noqa: E402
from wsproto.events import CloseConnection, Ping, TextMessage  # noqa: E402

_OPEN = "0" + json.dumps({"sid": "floor", "upgrades": [], "pingInterval": 25000,
                          "pingTimeout": 20000, "maxPayload": 1000000})
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_SOCKET = "floor.socket"
_rooms: dict[str, set[_WebSocket]] = {}


class _WebSocket:
    __slots__ = ("sock", "conn")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.conn = Connection(ConnectionType.SERVER)

    def send(self, text: str) -> None:
        self.sock.sendall(self.conn.send(TextMessage(data=text)))


class _Handler(pywsgi.WSGIHandler):
    """pywsgi's handler with the raw socket in the environ; nothing written after a 101."""

    def __init__(self, sock: Any, address: Any, server: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, address, server, *args, **kwargs)
        self.rfile = sock.makefile("rb", 1024)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ[_SOCKET] = self.socket
        return environ

    def process_result(self) -> None:
        if self.environ.get("floor.upgraded"):
            self.close_connection = True
            return
        super().process_result()


def _on_event(ws: _WebSocket, joined: list[str], text: str) -> None:
    if text.startswith("420"):  # an event with ack id 0: the load client's join
        name, message = json.loads(text[3:])
        if name == "join":
            _rooms.setdefault(message["room"], set()).add(ws)
            joined.append(message["room"])
        ws.send("430[]")
    elif text.startswith("42"):
        name, message = json.loads(text[2:])
        if name == "my_room_event":
            frame = "42" + json.dumps(["nuke_response", {"data": message["data"]}],
                                      separators=(",", ":"))
            for member in list(_rooms.get(message["room"], ())):
                try:
                    member.send(frame)
                except OSError:
                    _rooms[message["room"]].discard(member)


def _serve(ws: _WebSocket, joined: list[str]) -> None:
    parts: list[str] = []
    ws.send(_OPEN)
    while True:
        data = ws.sock.recv(16384)
        ws.conn.receive_data(data or None)
        for event in ws.conn.events():
            if isinstance(event, TextMessage):
                parts.append(event.data)
                if not event.message_finished:
                    continue
                text, parts = "".join(parts), []
                if text == "40":
                    ws.send('40{"sid":"floor"}')
                elif text.startswith("42"):
                    _on_event(ws, joined, text)
            elif isinstance(event, Ping):
                ws.sock.sendall(ws.conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if ws.conn.state is ConnectionState.REMOTE_CLOSING:
                    ws.sock.sendall(ws.conn.send(event.response()))
                return
        if not data:
            return


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if str(environ.get("HTTP_UPGRADE", "")).lower() != "websocket":
        start_response("200 OK", [("Content-Type", "text/plain")])  # readiness probe
        return [b"ok"]
    environ["floor.upgraded"] = True
    sock = environ[_SOCKET]
    key = str(environ["HTTP_SEC_WEBSOCKET_KEY"]).encode("ascii")
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    ws = _WebSocket(sock)
    joined: list[str] = []
    try:
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        _serve(ws, joined)
    except OSError:
        pass
    finally:
        for room in joined:
            _rooms.get(room, set()).discard(ws)
    return []


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = pywsgi.WSGIServer((args.host, args.port), app, handler_class=_Handler,
                               log=None, backlog=2048)
    server.serve_forever()


if __name__ == "__main__":
    main()
