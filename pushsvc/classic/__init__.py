"""The classic Flask-SocketIO demo protocol, for the apps that ask for it.

``create_app()``, ``pushsvc serve`` and ``pushsvc demo`` turn it on (``classic=True``); an
existing app's ``init_app(app)`` gets none of it unless it asks (``init_app(app,
classic=True)``): its clients then cannot broadcast or reach rooms through pushsvc's events.

Classic events (client → server) and what they do:

- ``my_event {data}``: echo to the sender.
- ``my_broadcast_event {data}``: to every client (switch: allow_client_broadcast).
- ``join {room}`` / ``leave {room}``: enter or leave a room; reply "In rooms: ...".
- ``my_room_event {room, data}``: to everyone in the room; the sender need not be in it.
- ``close_room {room}``: tell the room it is closing, then empty it (on every pod); any
  client may close any room.
- ``disconnect_request``: reply "Disconnected!", then the server disconnects the sender.
- ``my_ping``: ``my_pong`` back to the sender (the classic page's latency probe).

Replies and pushes are the reply event (``nuke_response``) with ``{"data": ...}``; a
classic client gets ``Connected`` as its first reply. Every handler returns an ack:
``{"ok": true}`` or ``{"ok": false, "event", "code", "reason"}``; on error the sender also
gets an ``error`` event (pushsvc.sio.guards). Rooms per client are capped (code
``too_many_rooms``); room names shaped like a session id or with a reserved prefix are
refused (pushsvc.rooms).
"""

from __future__ import annotations

from pushsvc.classic.events import INFO_EVENT, register_classic

__all__ = ["INFO_EVENT", "register_classic"]
