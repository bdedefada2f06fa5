"""pushsvc's own Engine.IO v4 server for gevent (issue 21), the one pushsvc runs on.

Why: python-engineio with gevent-websocket had to be bounded and sped up by patches over
their private methods, held by hash pins. This package is the engine those patches
approximated, written for gevent and for pushsvc's bounds; python-socketio stays the
Socket.IO layer and reaches it through ``sio.SocketIOServer``. The design is in this
package's README.md.
"""

from pushsvc.engineio.bounds import Limits
from pushsvc.engineio.server import Server

__all__ = ["Limits", "Server"]
