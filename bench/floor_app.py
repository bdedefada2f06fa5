"""The floor of the stack: bare gevent ``pywsgi`` + gevent-websocket, no Engine.IO or Socket.IO.

What pushsvc's figures are divided by: the least a gevent WebSocket server can cost. An idle
connection parks one greenlet in ``receive()``; a room message is one loop of ``ws.send`` of
the same Socket.IO frame to every member. It speaks only as much Engine.IO / Socket.IO as
``bench/loadclient.js`` needs to connect, join with an ack and count deliveries: the OPEN
packet, ``40`` (connect), ``420["join",...]`` (ack ``430[]``) and ``42["my_room_event",...]``.
No pings, no sessions, no limits.

``python -m bench.floor_app --port N`` (one process, no gunicorn master).
"""

from __future__ import annotations

import argparse
import json
import resource
from typing import Any

from gevent import monkey

monkey.patch_all()

from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

_OPEN = "0" + json.dumps({"sid": "floor", "upgrades": [], "pingInterval": 25000,
                          "pingTimeout": 20000, "maxPayload": 1000000})
_rooms: dict[str, set[Any]] = {}


def _on_event(ws: Any, joined: list[str], text: str) -> None:
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


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    ws = environ.get("wsgi.websocket")
    if ws is None:  # readiness probe, any plain HTTP request
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    joined: list[str] = []
    try:
        ws.send(_OPEN)
        while True:
            text = ws.receive()
            if text is None:
                break
            if text == "40":
                ws.send('40{"sid":"floor"}')
            elif isinstance(text, str) and text.startswith("42"):
                _on_event(ws, joined, text)
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
    server = pywsgi.WSGIServer((args.host, args.port), app, handler_class=WebSocketHandler,
                               log=None, backlog=2048)
    server.serve_forever()


if __name__ == "__main__":
    main()
