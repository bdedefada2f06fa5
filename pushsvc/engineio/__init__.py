"""pushsvc's own Engine.IO v4 server for gevent (issue 21), opt-in: ``PUSHSVC_ENGINE=pushsvc``.

Why: the default engine is python-engineio with gevent-websocket, bounded and sped up by
patches over their private methods (``pushsvc/engine_limits.py``, ``pushsvc/wsdirect.py``)
held by hash pins. This package is the engine those patches approximate, written for
gevent and for pushsvc's bounds; python-socketio stays the Socket.IO layer and reaches it
through ``sio.SocketIOServer``. The design is in this package's README.md.
"""

from pushsvc.engineio.bounds import Limits
from pushsvc.engineio.server import Server

__all__ = ["Limits", "Server"]
