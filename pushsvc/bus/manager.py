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

The outbox (pushsvc.bus.outbox) is bounded by count and bytes and drops, counted, rather than
wait for an API server that is down. Every bus Event is untrusted input: a ``callback`` it asks
for is only honoured for an emit to exactly one client connected here (else each recipient
would hold an ack callback until it leaves).

Connection state recovery attaches a ``DeliveryTap`` (``attach``; pushsvc.bus.contract): then
every recoverable emit is only published and reaches this pod's clients when the watch brings
it back, each bus message is shown to the tap as a typed ``Delivery`` before it is applied,
and the emit of a recoverable one runs with ``DELIVERING`` set to it (its sends read their
position there) and its offset as the last argument.

python-socketio methods overridden here, and why (the room index's four are in rooms.py):

- ``set_server``: start the watch at once (python-socketio waits for the first client).
- ``initialize``: idempotent; the janitor and the Job notifier start beside the listener.
- ``emit``: an emit only to sids connected here is not published; with recovery, a
  recoverable one is only published (built as PubSubManager.emit builds it).
- ``disconnect``: a sid connected here is disconnected here, not published.
- ``close_room``: with recovery, only published: a room closes in the bus's order.
- ``_publish``, ``_listen``: the backend — the outbox, and the watcher's deliveries.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import socketio
from kubernetes.client import ApiClient
from socketio.packet import Packet

from emitter.client import Emitter
from emitter.wire import (
    RBAC_API,
    Backoff,
    EmitMessage,
    Message,
    label_selector,
)
from pushsvc.bus import metrics
from pushsvc.bus.contract import DELIVERING, BusHealth, Delivery, DeliveryTap, Position
from pushsvc.bus.janitor import Janitor
from pushsvc.bus.outbox import Outbox
from pushsvc.bus.rooms import RoomIndexMixin
from pushsvc.bus.watcher import EventWatcher, KubeTransport, WatchTransport

logger = logging.getLogger(__name__)

class KubernetesManager(RoomIndexMixin, socketio.PubSubManager):
    """Socket.IO client manager whose pub/sub is core/v1 Events in one namespace.

    :param api_client: a configured ``kubernetes.client.ApiClient``.
    :param namespace: the bus namespace.
    :param channel: the channel label value; all pods and notifiers of one bus share it.
    :param involved_object: this pod, for the Events' ``involvedObject``.
    :param watch_timeout_seconds: server ``timeoutSeconds`` of each watch.
    :param watch_read_timeout_seconds: client read timeout; must exceed the server timeout.
    :param watch_down_grace_seconds: after the watch is down this long the bus is degraded:
        messages for other pods are dropped at once instead of waiting for the API server.
    :param publish_deadline_seconds: retry deadline of one Event create (while not degraded).
    :param outbox_max_messages: messages queued for other pods, at most (oldest dropped).
    :param outbox_max_bytes: JSON bytes queued for other pods, at most (oldest dropped).
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
        outbox_max_messages: int = 1000,
        outbox_max_bytes: int = 8 * 1024 * 1024,
        transport: WatchTransport | None = None,
    ) -> None:
        super().__init__(channel=channel)
        self.namespace = namespace
        self.grace_seconds = watch_down_grace_seconds
        self.publisher = Emitter(
            api_client=api_client,
            bus_namespace=namespace,
            channel=channel,
            host_id=self.host_id,
            involved_object=involved_object,
            retry_deadline_seconds=publish_deadline_seconds,
            grant=RBAC_API,
            batch_window_seconds=0.0,  # the outbox batches; never the notifiers' environment
            on_retry=lambda cause, _seconds: metrics.api_retries.labels(
                component="publisher", cause=cause).inc(),
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
        #: The retention janitor (set by make_client_manager); runs beside the watcher.
        self.janitor: Janitor | None = None
        #: The Job notifier (pushsvc.jobs; set by make_client_manager), on the janitor's Lease.
        self.job_notifier: Any = None
        self._start_lock = threading.Lock()
        self.outbox = Outbox(
            publisher=self.publisher, degraded=self.degraded,
            start_task=lambda task: self.server.start_background_task(task),
            sleep=lambda seconds: self.server.sleep(seconds),
            max_messages=outbox_max_messages, max_bytes=outbox_max_bytes)
        self._initialized = False
        self._was_degraded = False
        #: Connection state recovery (pushsvc.recovery attaches it: see ``attach``).
        self.tap: DeliveryTap | None = None
        metrics.outbox_messages.set_function(lambda: self.outbox.messages)
        metrics.outbox_bytes.set_function(lambda: self.outbox.bytes)
        metrics.watch_down_seconds.set_function(self._down_seconds)
        #: When the bus message being fanned out now was queued (Unix seconds), else None.
        self._fanning_out: float | None = None
        metrics.fanout_lag_seconds.set_function(self._fanout_lag)

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
        if self.janitor is not None:
            self.janitor.start()
        if self.job_notifier is not None:
            self.job_notifier.start()

    def _fanout_lag(self) -> float:
        created = self._fanning_out
        return 0.0 if created is None else max(0.0, time.time() - created)

    def _down_seconds(self) -> float:
        status = self.watcher.status
        return 0.0 if status.up else max(0.0, time.monotonic() - status.down_since)

    def degraded(self) -> bool:
        """True once the watch has been down longer than the grace period."""
        return self._down_seconds() > self.grace_seconds

    def health(self) -> BusHealth:
        """The watch and the outbox; logs once when the bus turns degraded or healthy."""
        self.start()
        status = self.watcher.status
        down_for = self._down_seconds()
        degraded = down_for > self.grace_seconds
        if degraded != self._was_degraded:
            self._was_degraded = degraded
            if degraded:
                logger.error("bus degraded: watch down for %.0f s (%s); this pod serves its own "
                             "clients, messages to and from other pods are dropped",
                             down_for, status.cause or "reconnecting")
            else:
                logger.info("bus healthy again: watch up")
        return BusHealth(
            backend=self.name,
            watch_up=status.up,
            down_seconds=round(down_for, 1),
            degraded=degraded,
            cause=status.cause if not status.up else "",
            resource_version=status.resource_version,
            namespace=self.namespace,
            channel=self.channel,
            outbox_messages=self.outbox.messages,
            outbox_bytes=self.outbox.bytes,
        )

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
        if self.tap is not None and not kwargs.get("ignore_queue") \
                and self.tap.recoverable(event, ns, callback):
            # Recovery: every recoverable emit, even to a sid of this pod, becomes an Event
            # and reaches its clients when it comes back through the watch, so each client
            # sees the bus's one order and its offsets mean the same thing on every pod.
            self._publish(_emit_message(event, data, ns, room, skip_sid, self.host_id))
            return None
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

    def close_room(self, room: str, namespace: str | None = None) -> Any:
        if self.tap is not None and (namespace or "/") == "/":
            # Recovery: a room closes in the bus's order too, after what was sent to it before
            # (applied here when it comes back, like a recoverable emit).
            self._publish({"method": "close_room", "room": room, "namespace": "/",
                           "host_id": self.host_id})
            return None
        return super().close_room(room, namespace)

    # --- connection state recovery: the RecoveryBus side (pushsvc.bus.contract) -------
    def attach(self, tap: DeliveryTap, *, keep_namespace: str) -> None:
        """Show ``tap`` every bus message before it is applied; recoverable emits go through
        the bus; messages to ``keep_namespace`` outlast others in an overflowing outbox."""
        self.tap = tap
        self.outbox.keeps_namespace = keep_namespace

    def publish(self, message: dict[str, Any]) -> None:
        """Queue one message for the bus (recovery's snapshots)."""
        self._publish(message)

    def listed_events(self) -> Iterator[list[dict[str, Any]]]:
        """The bus Events that exist now, page by page (recovery's start-up list)."""
        for page in self.watcher.transport.list_pages():
            yield page.items

    def publish_disconnect(self, sid: str, namespace: str) -> None:
        """Recovery: end a local session when the bus brings this back, after what was sent
        to it before (see pushsvc.recovery)."""
        self._publish({"method": "disconnect", "sid": sid, "namespace": namespace,
                       "host_id": self.host_id})

    # --- the PubSubManager backend ----------------------------------------------------
    def _publish(self, data: dict[str, Any]) -> None:
        # python-socketio calls this from the emitting handler after applying the message
        # here; the outbox publishes it from its own task (pushsvc.bus.outbox).
        self.outbox.put(data)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message handed to ``_publish`` has been sent (or has failed)."""
        return self.outbox.flush(timeout)

    def shutdown(self, timeout: float) -> int:
        """Flush, then drop what is still queued (counted and logged); return that number.

        The janitor stops first and releases its Lease, so another pod takes over at once.
        """
        if self.job_notifier is not None:
            self.job_notifier.stop(timeout=min(1.0, timeout))
        if self.janitor is not None:
            self.janitor.stop(timeout=min(2.0, timeout))
        return self.outbox.close(timeout)

    def _one_local_sid(self, message: EmitMessage) -> bool:
        """Is the emit addressed to exactly one client, connected to this pod?"""
        return isinstance(message.room, str) and self.is_connected(message.room,
                                                                   message.namespace)

    def _listen(self) -> Iterator[dict[str, Any]]:
        # python-socketio restarts _listen at once if it raises (a hot loop, and each restart
        # relists): nothing about one message may escape from here.
        for delivery in self.watcher.deliveries():
            metrics.lag_seconds.observe(max(0.0, time.time() - delivery.created))
            applied = False
            self._fanning_out = delivery.created
            for index, message in enumerate(delivery.envelope.messages):
                tapped: Delivery | None = None
                try:
                    data = self._incoming(message)
                    if self.tap is not None:
                        data, tapped = self._tapped(message, data, (delivery.version, index))
                except Exception:
                    logger.exception("bus could not apply a %s message; skipped",
                                     getattr(message, "method", "?"))
                    continue
                if data is not None:
                    # PubSubManager._thread applies it (emits to this pod's clients) in this
                    # greenlet before it asks for the next message: its sends read the
                    # delivery from DELIVERING, and resuming here means that emit is done.
                    DELIVERING.set(tapped if tapped is not None and tapped.recoverable
                                   else None)
                    try:
                        yield data
                    finally:
                        DELIVERING.set(None)
                    applied = True
            self._fanning_out = None
            metrics.observe_hops(delivery.created, delivery.read_at,
                                 time.time() if applied else None)
        logger.error("bus watcher stopped")  # only after stop(): PubSubManager then exits

    def _tapped(self, message: Message, data: dict[str, Any] | None, position: Position
                ) -> tuple[dict[str, Any] | None, Delivery]:
        """Recovery: show the tap every message in order; own recoverable emits are applied
        (they were not when published), with their offset as the LAST argument."""
        assert self.tap is not None
        own = message.host_id == self.host_id
        dump = data if data is not None else message.model_dump()
        recoverable = isinstance(message, EmitMessage) and message.callback is None \
            and self.tap.recoverable(message.event, message.namespace, None)
        delivery = Delivery(position, dump, own=own, recoverable=recoverable)
        if not self.tap.observe(delivery):
            return None, delivery
        if own and (recoverable or (message.method in ("close_room", "disconnect")
                                    and message.namespace == "/")):
            # Applied here only now (emit and close_room did not): a host_id that is not
            # ours lets PubSubManager's listener apply it.
            dump = dict(dump, host_id="")
        elif data is None:
            return None, delivery
        if recoverable:  # socket.io >= 4.6: the offset is the last argument
            dump = dict(dump, data=_with_offset(dump, position))
        return dump, delivery

    def start_position(self) -> Position | None:
        """Where this pod's deliveries start: the watch's list (None before it listed)."""
        version = self.watcher.status.resource_version
        return (int(version), 1 << 30) if version.isdigit() else None

    def _incoming(self, message: Message) -> dict[str, Any] | None:
        """The PubSubManager message to apply here, or None to skip it."""
        if message.method == "callback":
            if message.host_id != self.host_id:
                return None  # an acknowledgement for another pod
        elif message.host_id == self.host_id:
            metrics.messages_own.inc()
            return None  # applied locally when published
        elif isinstance(message, EmitMessage) and message.callback is not None \
                and not self._one_local_sid(message):
            metrics.callbacks_refused.inc()
            message = message.model_copy(update={"callback": None})
        metrics.messages_delivered.labels(method=message.method).inc()
        data: dict[str, Any] = message.model_dump()
        return data


def _emit_message(event: str, data: Any, namespace: str, room: Any, skip_sid: Any,
                  host_id: str) -> dict[str, Any]:
    """The message PubSubManager.emit would publish for an emit without an ack."""
    args = list(data) if isinstance(data, tuple) else [data]
    binary = Packet.data_is_binary(args)
    if binary:
        placeholders, attachments = Packet.deconstruct_binary(args)
        args = [placeholders, *[base64.b64encode(a).decode() for a in attachments]]
    return {"method": "emit", "event": event, "data": args, "binary": binary,
            "namespace": namespace, "room": room, "skip_sid": skip_sid, "callback": None,
            "host_id": host_id}


def _with_offset(message: dict[str, Any], position: Position) -> list[Any]:
    """The message's data (PubSubManager's list) with the offset appended as one more argument."""
    offset = f"{position[0]}-{position[1]}"
    data = list(message.get("data") or [])
    if message.get("binary") and data and isinstance(data[0], list):
        return [[*data[0], offset], *data[1:]]  # the placeholders' list, then the attachments
    return [*data, offset]
