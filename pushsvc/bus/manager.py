"""The Kubernetes Events client manager: python-socketio's PubSubManager over core/v1 Events.

Hand it to Flask-SocketIO as ``client_manager=``. ``_publish`` queues the message for a
publisher task that creates Events with the emitter's codec (a burst shares one Event);
``_listen`` yields messages from the :class:`EventWatcher`, which runs in the
PubSubManager's background task (a greenlet under gunicorn's gevent worker, which patched the
socket module before this module imported ``kubernetes``).

Only traffic that must cross pods becomes an Event: an emit addressed only to clients
connected here is delivered locally (PubSubManager would publish it too — an etcd write that
lives for the Event TTL). Messages this process publishes are applied here at once and skipped
when they come back through the watch (``host_id``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import socketio
from kubernetes.client import ApiClient

from emitter import PayloadTooLargeError, PushError
from emitter.client import Emitter
from emitter.codec import label_selector
from emitter.kube import RBAC_API, Backoff
from emitter.model import Message
from pushsvc.bus import metrics
from pushsvc.bus.watcher import EventWatcher, KubeTransport, WatchTransport
from pushsvc.rooms import RoomIndexMixin

logger = logging.getLogger(__name__)

#: Messages queued while an Event create is in flight share the next Event (one etcd write).
MAX_MESSAGES_PER_EVENT = 50

_MESSAGE_ADAPTER: Any = None


def _validate_message(data: dict[str, Any]) -> Message:
    global _MESSAGE_ADAPTER
    if _MESSAGE_ADAPTER is None:
        from pydantic import TypeAdapter

        _MESSAGE_ADAPTER = TypeAdapter(Message)
    message: Message = _MESSAGE_ADAPTER.validate_python(data)
    return message


class KubernetesManager(RoomIndexMixin, socketio.PubSubManager):
    """Socket.IO client manager whose pub/sub is core/v1 Events in one namespace.

    :param api_client: a configured ``kubernetes.client.ApiClient``.
    :param namespace: the bus namespace.
    :param channel: the channel label value; all pods and notifiers of one bus share it.
    :param involved_object: this pod, for the Events' ``involvedObject``.
    :param watch_timeout_seconds: server ``timeoutSeconds`` of each watch.
    :param watch_read_timeout_seconds: client read timeout; must exceed the server timeout.
    :param watch_down_grace_seconds: ``ready()`` turns false after the watch is down this long.
    :param transport: replaces the real API transport (tests).
    """

    name = "kubernetes"

    def __init__(
        self,
        *,
        api_client: ApiClient,
        namespace: str,
        channel: str,
        involved_object: dict[str, str],
        watch_timeout_seconds: int = 300,
        watch_read_timeout_seconds: float = 330.0,
        watch_down_grace_seconds: float = 10.0,
        watch_backoff_max_seconds: float = 30.0,
        watch_backoff_reset_seconds: float = 60.0,
        publish_deadline_seconds: float = 10.0,
        transport: WatchTransport | None = None,
    ) -> None:
        super().__init__(channel=channel)
        self.namespace = namespace
        self.grace_seconds = watch_down_grace_seconds
        self.publisher = Emitter(
            api_client=api_client,
            namespace=namespace,
            channel=channel,
            host_id=self.host_id,
            involved_object=involved_object,
            retry_deadline_seconds=publish_deadline_seconds,
            grant=RBAC_API,
            batch_window_seconds=0.0,  # the outbox batches; never the notifiers' environment
        )
        self.watcher = EventWatcher(
            transport or KubeTransport(
                api_client,
                namespace=namespace,
                label_selector=label_selector(channel),
                timeout_seconds=watch_timeout_seconds,
                read_timeout_seconds=watch_read_timeout_seconds,
            ),
            namespace=namespace,
            channel=channel,
            timeout_seconds=watch_timeout_seconds,
            backoff=Backoff(initial=0.8, maximum=watch_backoff_max_seconds),
            backoff_reset_seconds=watch_backoff_reset_seconds,
        )
        self._start_lock = threading.Lock()
        self._outbox: deque[Message] = deque()
        self._outbox_lock = threading.Lock()
        self._publishing = False
        self._initialized = False
        self._was_ready: bool | None = None

    # --- lifecycle and readiness ------------------------------------------------------
    def set_server(self, server: Any) -> None:
        super().set_server(server)
        # python-socketio starts a manager at the first client connect; a pod must watch
        # (and report ready) before any client arrives. Deferred: the server is mid-__init__.
        server.start_background_task(self.start)

    def start(self) -> None:
        """Start the watcher now (idempotent; python-socketio would wait for a client)."""
        if self.server is not None:
            self.server.manager_initialized = True
        self.initialize()

    def initialize(self) -> None:
        with self._start_lock:
            if self._initialized:
                return
            self._initialized = True
        super().initialize()

    def ready(self) -> tuple[bool, str]:
        """(ready, why): not ready once the watch has been down longer than the grace period."""
        self.start()
        status = self.watcher.status
        down_for = 0.0 if status.up else time.monotonic() - status.down_since
        ok = status.up or down_for <= self.grace_seconds
        why = "bus watch up" if status.up else (
            f"bus watch down for {down_for:.0f} s: {status.cause or 'reconnecting'}")
        if ok != self._was_ready:
            self._was_ready = ok
            if ok:
                logger.info("bus ready: %s", why)
            else:
                logger.error("bus not ready: %s", why)
        return ok, why

    # --- publish only what must cross pods -----------------------------------------
    def _local_sids_only(self, namespace: str, room: Any) -> bool:
        if room is None:
            return False
        rooms = [room] if isinstance(room, str) else list(room) if isinstance(
            room, list | tuple) else None
        return bool(rooms) and all(
            isinstance(r, str) and self.is_sid_room(namespace, r) for r in rooms or ()
        )

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> Any:
        room = to or room
        ns = namespace or "/"
        if not kwargs.get("ignore_queue") and self._local_sids_only(ns, room):
            metrics.local_only.inc()
            return socketio.Manager.emit(self, event, data, ns, room=room, skip_sid=skip_sid,
                                         callback=callback)
        return super().emit(event, data, namespace=ns, room=room, skip_sid=skip_sid,
                            callback=callback, **kwargs)

    def disconnect(self, sid: str, namespace: str | None = None, **kwargs: Any) -> Any:
        ns = namespace or "/"
        if not kwargs.get("ignore_queue") and (
            self.is_connected(sid, ns) or self.is_pre_connected(sid, ns)
        ):
            return self._handle_disconnect({"sid": sid, "namespace": ns})
        return super().disconnect(sid, namespace=namespace, **kwargs)

    # --- the PubSubManager backend ----------------------------------------------------
    def _publish(self, data: dict[str, Any]) -> None:
        # python-socketio calls this from the emitting handler after applying the message
        # here. Creating the Event there would hold that handler for an API round trip, so
        # the message joins an outbox that one publisher task drains in order; messages that
        # queue up while a create is in flight travel together in the next Event.
        try:
            message = _validate_message(data)
        except ValueError as exc:
            metrics.publish_failures.labels(error=type(exc).__name__).inc()
            logger.error("bus could not publish a %s message: %s", data.get("method"), exc)
            return
        with self._outbox_lock:
            self._outbox.append(message)
            if self._publishing:
                return
            self._publishing = True
        self.server.start_background_task(self._drain_outbox)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message handed to ``_publish`` has been sent (or has failed)."""
        deadline = time.monotonic() + timeout
        while self._publishing and time.monotonic() < deadline:
            self.server.sleep(0.005)
        return not self._publishing

    def _drain_outbox(self) -> None:
        try:
            while True:
                with self._outbox_lock:
                    if not self._outbox:
                        self._publishing = False
                        return
                    count = min(MAX_MESSAGES_PER_EVENT, len(self._outbox))
                    batch = [self._outbox.popleft() for _ in range(count)]
                self._publish_batch(batch)
        except BaseException:  # killed (GreenletExit): let the next _publish restart it
            with self._outbox_lock:
                self._publishing = False
            raise

    def _publish_batch(self, batch: list[Message]) -> None:
        try:
            self.publisher.publish(batch)
        except PayloadTooLargeError as exc:
            if len(batch) > 1:
                half = len(batch) // 2
                self._publish_batch(batch[:half])
                self._publish_batch(batch[half:])
                return
            self._publish_failed(batch, exc)
        except (PushError, ValueError) as exc:
            self._publish_failed(batch, exc)
        except Exception as exc:  # a bug must not stop the publisher: log it whole
            logger.exception("bus publisher failed unexpectedly")
            self._publish_failed(batch, exc)
        else:
            for message in batch:
                metrics.messages_published.labels(method=message.method).inc()

    def _publish_failed(self, batch: list[Message], exc: Exception) -> None:
        # Already applied locally; the other pods miss it. Never log the payload.
        metrics.publish_failures.labels(error=type(exc).__name__).inc(len(batch))
        methods = sorted({message.method for message in batch})
        logger.error("bus could not publish %d message(s) (%s): %s", len(batch),
                     ", ".join(methods), exc)

    def _listen(self) -> Iterator[dict[str, Any]]:
        for delivery in self.watcher.deliveries():
            metrics.lag_seconds.observe(max(0.0, time.time() - delivery.created))
            for message in delivery.envelope.messages:
                if message.method == "callback":
                    if message.host_id != self.host_id:
                        continue  # an acknowledgement for another pod
                elif message.host_id == self.host_id:
                    metrics.messages_own.inc()
                    continue  # applied locally when published
                metrics.messages_delivered.labels(method=message.method).inc()
                yield message.model_dump()
        logger.error("bus watcher stopped")  # only after stop(): PubSubManager then exits
