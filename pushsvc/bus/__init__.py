"""The bus seam: picks the Socket.IO client manager from the settings.

``memory`` is python-socketio's single-process manager with pushsvc's room index;
``kubernetes`` is :class:`~pushsvc.bus.manager.KubernetesManager` over core/v1 Events;
``auto`` picks ``kubernetes`` in a pod (in-cluster config) or when PUSHSVC_KUBECONFIG is set.
One start-up line says which and why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pushsvc.bus.contract import BusHealth, BusManager

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["BusHealth", "BusManager", "make_client_manager"]


def make_client_manager(settings: Settings) -> BusManager:
    """Return the client manager for Flask-SocketIO's ``client_manager=``.

    Both kinds implement :class:`~pushsvc.bus.contract.BusManager` (start, health, flush).
    """
    from emitter import config
    from pushsvc.bus.memory import MemoryManager

    if settings.job_notify and settings.bus == "memory":
        logger.warning("PUSHSVC_JOB_NOTIFY is on but the bus is memory: Jobs are watched only "
                       "with the kubernetes bus")
    if settings.bus == "memory":
        logger.info("bus: memory (PUSHSVC_BUS=memory); clients of other processes are not "
                    "reached")
        return MemoryManager()
    # 'auto' follows the deployment, not the developer's shell: in a pod, or with
    # PUSHSVC_KUBECONFIG named explicitly. A personal ~/.kube/config or $KUBECONFIG does not
    # count, or `pushsvc serve` on a laptop would write Events into whatever cluster the
    # current context points at.
    if settings.bus == "auto" and not (settings.kubeconfig or config.in_cluster_available()):
        logger.info("bus: memory (PUSHSVC_BUS=auto, not in a pod and PUSHSVC_KUBECONFIG unset)")
        return MemoryManager()
    from pushsvc.bus.manager import KubernetesManager

    target = config.load_api_client(settings.kubeconfig)
    # The settings read the environment once; the emitter's own env fallbacks are for
    # notifiers, so the server hands it an empty environment.
    namespace = config.resolve_namespace(settings.bus_namespace or settings.pod_namespace,
                                         target, environ={})
    channel = config.resolve_channel(settings.bus_channel, environ={})
    involved = config.notifier_object(pod_name=settings.pod_name, pod_uid=settings.pod_uid,
                                      environ={})
    manager = KubernetesManager(
        api_client=target.api_client,
        namespace=namespace,
        channel=channel,
        involved_object=involved,
        watch_timeout_seconds=settings.watch_timeout_seconds,
        watch_read_timeout_seconds=settings.watch_read_timeout_seconds,
        watch_down_grace_seconds=settings.watch_down_grace_seconds,
        watch_backoff_max_seconds=settings.watch_backoff_max_seconds,
        watch_backoff_reset_seconds=settings.watch_backoff_reset_seconds,
        publish_deadline_seconds=settings.bus_publish_deadline_seconds,
        outbox_max_messages=settings.bus_outbox_max_messages,
        outbox_max_bytes=settings.bus_outbox_max_bytes,
    )
    logger.info("bus: kubernetes (PUSHSVC_BUS=%s, %s), namespace %s, channel %s",
                settings.bus, target.source, namespace, channel)
    if settings.janitor:
        from pushsvc.bus.janitor import make_janitor

        manager.janitor = make_janitor(settings, target.api_client, namespace=namespace,
                                       channel=channel, host_id=manager.host_id)
    if settings.job_notify:
        from pushsvc.jobs import make_job_notifier

        manager.job_notifier = make_job_notifier(
            settings, target.api_client, namespace=namespace, channel=channel,
            involved_object=involved, janitor=manager.janitor)
    return manager
