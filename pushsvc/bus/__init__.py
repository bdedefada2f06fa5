"""The bus seam: picks the Socket.IO client manager from the settings.

``memory`` is python-socketio's default single-process manager; ``kubernetes``
is the core/v1 Events manager (pushsvc.bus.kubernetes, to come).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pushsvc.settings import Settings


def make_client_manager(settings: Settings) -> Any | None:
    """Return a client manager for Flask-SocketIO's ``client_manager=``, or None for memory.

    A manager may expose ``ready() -> tuple[bool, str]``; /readyz uses it.
    """
    if settings.bus in ("memory", "auto"):
        return None
    raise NotImplementedError("the kubernetes bus is not built yet")
