"""Presence across pods: who is in a room, on every pod, without an API write per join.

Server code asks :func:`presence_of(app) <presence_of>` (``presence(room)``,
``presence_count(room)``, ``is_online(sub)``); clients ask with the ``pushsvc_presence``
event when their token allows it (``events.py``). Each pod summarises its rooms once per
interval (``summary.py``) into a coordination.k8s.io Lease of its own and watches the
others' (``leases.py``); answers merge this pod's live rooms with the live summaries
(``view.py``). docs/presence.md has the design, the bounds and the RBAC.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from pushsvc.presence.service import EVENT, LEASE_INTERVALS, Presence, pod_name
from pushsvc.presence.summary import Member, Summary, SummaryError
from pushsvc.presence.view import Answer

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from pushsvc.identity import Identity
    from pushsvc.service import PushService
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: Key of the Presence in ``app.extensions``; use presence_of().
EXTENSION_KEY = "pushsvc.presence"

__all__ = ["EVENT", "Answer", "Member", "Presence", "Summary", "SummaryError", "install",
           "presence_of"]


def presence_of(app: Flask) -> Presence:
    """The :class:`Presence` ``pushsvc.init_app`` attached to ``app`` (KeyError if none)."""
    presence: Presence = app.extensions[EXTENSION_KEY]
    return presence


def install(app: Flask, socketio: SocketIO, *, settings: Settings, identity: Identity,
            service: PushService) -> Presence:
    """Build the app's Presence, register the client event, and start it (app.py calls it)."""
    from pushsvc.presence.events import register_presence_event

    presence = Presence(settings=settings, socketio=socketio, identity=identity,
                        pod=pod_name(settings))
    app.extensions[EXTENSION_KEY] = presence
    register_presence_event(socketio, presence=presence, identity=identity, settings=settings)
    if not settings.presence:
        logger.info("presence: off (PUSHSVC_PRESENCE=false)")
        return presence
    manager = socketio.server.manager if socketio.server is not None else None
    if getattr(manager, "name", "") == "kubernetes":
        _connect_leases(presence, manager, settings)
    else:
        logger.info("presence: this process only (memory bus)")
    service.on_drain.append(presence.stop)
    presence.start()
    return presence


def _connect_leases(presence: Presence, manager: Any, settings: Settings) -> None:
    from emitter import config
    from pushsvc.presence.leases import LeaseWatch, LeaseWriter, lease_name

    # An ApiClient of its own: the Lease watch holds one connection open for its lifetime.
    api_client = config.load_api_client(settings.kubeconfig).api_client
    duration = math.ceil(LEASE_INTERVALS * settings.presence_interval_seconds)
    owner = ({"name": settings.pod_name, "uid": settings.pod_uid}
             if settings.pod_name and settings.pod_uid else None)
    name = lease_name(presence.pod)
    presence.writer = LeaseWriter(api_client, namespace=manager.namespace, name=name,
                                  identity=f"{presence.pod}_{manager.host_id}",
                                  channel=manager.channel, duration_seconds=duration,
                                  owner=owner)
    view = presence.view
    presence.watch = LeaseWatch(
        api_client, namespace=manager.namespace, channel=manager.channel,
        on_put=lambda lease, summary, seconds: view.put(lease, summary, duration=seconds),
        on_drop=view.drop, on_reset=view.clear,
        timeout_seconds=settings.watch_timeout_seconds,
        read_timeout_seconds=settings.watch_read_timeout_seconds)
    logger.info("presence: Lease %s/%s every %.1f s (duration %d s), watching label %s=%s",
                manager.namespace, name, settings.presence_interval_seconds, duration,
                "pushsvc.io/presence", manager.channel)
