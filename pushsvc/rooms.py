"""Room names a client may use, and the ones the server keeps for itself.

Shared by every part that takes a room name from outside: the Socket.IO packet rules
(pushsvc.sio.packets), the classic protocol, presence, and the Job notifier's labels
(pushsvc.jobs, below the Socket.IO layer, so these rules live beneath both). Constants only.
"""

from __future__ import annotations

import re

MAX_ROOM_CHARS = 128
#: python-engineio's session ids (``generate_id``): base64url of 15 bytes, 20 characters.
#: Every client is alone in the room named after its sid, on its own pod; a client that
#: names such a room could reach another client's private room through another pod, where
#: this pod cannot tell whether the sid exists. So sid-shaped room names are refused.
SID_SHAPED = re.compile(r"[A-Za-z0-9_-]{20}")
#: Room name prefixes the server hands out itself (``user:<sub>`` for authenticated users,
#: ``pushsvc:`` for the server's own use); clients may not join or address them.
RESERVED_ROOM_PREFIXES = ("user:", "pushsvc:")
