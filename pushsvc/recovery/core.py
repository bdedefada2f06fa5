"""``Recovery``, and ``install()``: recovery on for a server if the settings ask."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pushsvc.bus.contract import RecoveryBus
from pushsvc.identity import Identity
from pushsvc.recovery.hooks import Hooks
from pushsvc.settings import Settings
from pushsvc.sio.budget import ClientBudget

logger = logging.getLogger(__name__)


class Recovery(Hooks):
    """Connection state recovery for one python-socketio server and its Kubernetes manager.

    Its layers (one module each, each on the one before): state, publisher, tap, replay,
    decide, hooks.
    """


def install(*, settings: Settings, server: Any, manager: Any,
            client_budget: Callable[[str], ClientBudget | None] | None = None,
            identity: Identity | None = None) -> Recovery | None:
    """Turn recovery on for this server if the settings ask and the bus can carry it."""
    if not settings.recovery_enabled:
        return None
    if not isinstance(manager, RecoveryBus):
        logger.warning("recovery: PUSHSVC_RECOVERY_ENABLED needs the Kubernetes bus; off")
        return None
    recovery = Recovery(settings=settings, server=server, manager=manager, identity=identity)
    if client_budget is not None:  # snapshot writes a client causes cost its publish budget
        recovery.budget.client_budget = client_budget
    recovery.install()
    logger.info("recovery on: window %.0f s, snapshots every %.0f s", recovery.window,
                recovery.interval)
    return recovery
