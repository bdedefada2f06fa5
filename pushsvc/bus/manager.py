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

The outbox is bounded by count and bytes (the oldest message is dropped, counted, when it
overflows); one message too large for an Event is refused before any API call; while the watch
has been down past the grace period nothing waits for the API server — messages are dropped at
once and counted (cross-pod delivery degrades; this pod keeps serving its own clients). Every
bus Event is untrusted input: a ``callback`` it asks for is only honoured for an emit to exactly
one client connected here (else each recipient would hold an ack callback until it leaves).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import socketio
from kubernetes.client import ApiClient

from emitter.client import Emitter
from emitter.wire import (
    MAX_MESSAGES_PER_EVENT,
    RBAC_API,
    Backoff,
    EmitMessage,
    Message,
    PayloadTooLargeError,
    PushError,
    label_selector,
)
from pushsvc.bus import metrics
from pushsvc.bus.contract import BusHealth, DeliveryTap, Position
from pushsvc.bus.janitor import Janitor
from pushsvc.bus.rooms import RoomIndexMixin
from pushsvc.bus.watcher import EventWatcher, KubeTransport, WatchTransport

logger = logging.getLogger(__name__)

# Messages queued while an Event create is in flight share the next Event (one etcd write),
# up to the wire's MAX_MESSAGES_PER_EVENT.
#: Room for the envelope around the messages (``{"v":1,"ts":...,"messages":[...]}``).
_ENVELOPE_BYTES = 64

_MESSAGE_ADAPTER: Any = None


def _adapter() -> Any:
    global _MESSAGE_ADAPTER
    if _MESSAGE_ADAPTER is None:
        from pydantic import TypeAdapter

        _MESSAGE_ADAPTER = TypeAdapter(Message)
    return _MESSAGE_ADAPTER


def _validate_message(data: dict[str, Any]) -> Message:
    message: Message = _adapter().validate_python(data)
    return message


@dataclass(slots=True)
class _Queued:
    message: Message
    size: int  # its JSON bytes inside the envelope
    queued_at: float  # Unix seconds: the lag metric on the receiving pods starts here


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
        self.outbox_max_messages = outbox_max_messages
        self.outbox_max_bytes = outbox_max_bytes
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
        self._outbox: deque[_Queued] = deque()
        #: Set by connection state recovery: its snapshots outlast other queued messages.
        self.outbox_keeps_namespace: str | None = None
        self._outbox_bytes = 0
        self._in_flight = 0
        self._outbox_lock = threading.Lock()
        self._publishing = False
        self._initialized = False
        self._was_degraded = False
        self._last_drop_log: dict[str, float] = {}
        # --- connection state recovery (pushsvc.recovery installs the tap) ---
        self.tap: DeliveryTap | None = None
        #: Highest bus position this pod has started delivering (None: not listed yet).
        self.position: Position | None = None
        #: The position of the message the listener is delivering now, and the listener's
        #: thread (greenlet) id: only its sends carry that position.
        self.current: Position | None = None
        self.listener_ident: int | None = None
        self._yielded: dict[str, Any] | None = None
        self._publish_only = False
        metrics.outbox_messages.set_function(lambda: len(self._outbox) + self._in_flight)
        metrics.outbox_bytes.set_function(lambda: self._outbox_bytes)
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
            outbox_messages=len(self._outbox) + self._in_flight,
            outbox_bytes=self._outbox_bytes,
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
            self._publish_only = True
            try:
                return super().emit(event, data, namespace=ns, room=room, skip_sid=skip_sid,
                                    callback=None, **kwargs)
            finally:
                self._publish_only = False
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

    def _handle_emit(self, message: dict[str, Any]) -> None:
        # PubSubManager.emit applies each message here before publishing it; with recovery a
        # recoverable one is applied only when it comes back (see emit). From the watch, a
        # recoverable message gets its offset as the LAST argument (socket.io >= 4.6).
        if self._publish_only:
            return
        if message is self._yielded and self.current is not None and self.tap is not None \
                and self.tap.recoverable(message.get("event", ""), message.get("namespace")
                                         or "/", message.get("callback")):
            message = dict(message, data=_with_offset(message, self.current))
        super()._handle_emit(message)

    def close_room(self, room: str, namespace: str | None = None) -> Any:
        # Recovery: a room closes in the bus's order too, after what was sent to it before.
        self._publish_only = self.tap is not None and (namespace or "/") == "/"
        try:
            return super().close_room(room, namespace)
        finally:
            self._publish_only = False

    def _handle_close_room(self, message: dict[str, Any]) -> None:
        if not self._publish_only:
            super()._handle_close_room(message)

    def publish_disconnect(self, sid: str, namespace: str) -> None:
        """Recovery: end a local session when the bus brings this back, after what was sent
        to it before (see pushsvc.recovery)."""
        self._publish({"method": "disconnect", "sid": sid, "namespace": namespace,
                       "host_id": self.host_id})

    # --- the PubSubManager backend ----------------------------------------------------
    def _publish(self, data: dict[str, Any]) -> None:
        # python-socketio calls this from the emitting handler after applying the message
        # here. Creating the Event there would hold that handler for an API round trip, so
        # the message joins an outbox that one publisher task drains in order; messages that
        # queue up while a create is in flight travel together in the next Event.
        queued_at = time.time()
        try:
            message = _validate_message(data)
            size = len(_adapter().dump_json(message)) + 1
        except ValueError as exc:
            metrics.publish_failures.labels(error=type(exc).__name__).inc()
            logger.error("bus could not publish a %s message: %s", data.get("method"), exc)
            return
        limit = self.publisher.max_payload_bytes - _ENVELOPE_BYTES
        if size > limit:
            self._dropped("too_large", 1, f"one {message.method} message is {size:,} bytes, "
                          f"over the Event payload limit of {limit:,} bytes")
            return
        if self.degraded():
            self._dropped("bus_down", 1, "the bus watch is down past its grace period")
            return
        overflow = 0
        with self._outbox_lock:
            self._outbox.append(_Queued(message, size, queued_at))
            self._outbox_bytes += size
            while len(self._outbox) > self.outbox_max_messages or (
                    self._outbox_bytes > self.outbox_max_bytes and len(self._outbox) > 1):
                self._outbox_bytes -= self._pop_overflow().size
                overflow += 1
            start = not self._publishing
            self._publishing = True
        if overflow:
            self._dropped("overflow", overflow, f"the outbox is full ({self.outbox_max_messages} "
                          f"messages / {self.outbox_max_bytes:,} bytes); oldest dropped")
        if start:
            self.server.start_background_task(self._drain_outbox)

    def _pop_overflow(self) -> _Queued:
        """The message an overflowing outbox drops: the oldest, except that messages to
        ``outbox_keeps_namespace`` (recovery's session snapshots: without one a session cannot
        be recovered anywhere) go only when nothing else is left. Call with the lock held."""
        keep = self.outbox_keeps_namespace
        index = 0
        if keep is not None:
            index = next((i for i, queued in enumerate(self._outbox)
                          if getattr(queued.message, "namespace", None) != keep), 0)
        victim = self._outbox[index]
        del self._outbox[index]
        return victim

    def _dropped(self, reason: str, count: int, why: str) -> None:
        # Already applied locally; the other pods miss it. One line per reason and 10 s.
        metrics.outbox_dropped.labels(reason=reason).inc(count)
        now = time.monotonic()
        if now - self._last_drop_log.get(reason, -1e18) >= 10.0:
            self._last_drop_log[reason] = now
            logger.warning("bus dropped %d message(s) for other pods: %s (counted in "
                           "pushsvc_bus_outbox_dropped_total{reason=%r})", count, why, reason)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message handed to ``_publish`` has been sent (or has failed)."""
        deadline = time.monotonic() + timeout
        while self._publishing and time.monotonic() < deadline:
            self.server.sleep(0.005)
        return not self._publishing

    def shutdown(self, timeout: float) -> int:
        """Flush, then drop what is still queued (counted and logged); return that number.

        The janitor stops first and releases its Lease, so another pod takes over at once.
        """
        if self.job_notifier is not None:
            self.job_notifier.stop(timeout=min(1.0, timeout))
        if self.janitor is not None:
            self.janitor.stop(timeout=min(2.0, timeout))
        left = 0 if self.flush(timeout) else len(self._outbox) + self._in_flight
        if left:
            with self._outbox_lock:
                self._outbox.clear()
                self._outbox_bytes = 0
            metrics.outbox_dropped.labels(reason="shutdown").inc(left)
            logger.warning("bus: %d message(s) for other pods were not published before exit "
                           "and are dropped (API server slow or unreachable)", left)
        return left

    def _next_batch(self) -> list[_Queued]:
        """Up to MAX_MESSAGES_PER_EVENT queued messages that fit one Event, oldest first."""
        limit = self.publisher.max_payload_bytes - _ENVELOPE_BYTES
        batch: list[_Queued] = []
        size = 0
        while self._outbox and len(batch) < MAX_MESSAGES_PER_EVENT:
            if batch and size + self._outbox[0].size > limit:
                break
            item = self._outbox.popleft()
            self._outbox_bytes -= item.size
            size += item.size
            batch.append(item)
        return batch

    def _drain_outbox(self) -> None:
        try:
            while True:
                with self._outbox_lock:
                    if self.degraded() and self._outbox:
                        dropped = len(self._outbox)
                        self._outbox.clear()
                        self._outbox_bytes = 0
                    else:
                        dropped = 0
                    batch = self._next_batch()
                    if not batch:
                        self._publishing = False
                    self._in_flight = len(batch)
                if dropped:
                    self._dropped("bus_down", dropped, "the bus watch is down past its grace "
                                  "period")
                if not batch:
                    return
                self._publish_batch(batch)
                self._in_flight = 0
        except BaseException:  # killed (GreenletExit): let the next _publish restart it
            with self._outbox_lock:
                self._publishing = False
                self._in_flight = 0
            raise

    def _publish_batch(self, batch: list[_Queued]) -> None:
        messages = [q.message for q in batch]
        try:
            # The Envelope's ts is when its oldest message was queued: the receiving pods'
            # lag metric then includes the time spent in this outbox.
            self.publisher.publish(messages, ts=min(q.queued_at for q in batch))
        except PayloadTooLargeError as exc:
            if len(batch) > 1:
                half = len(batch) // 2
                self._publish_batch(batch[:half])
                self._publish_batch(batch[half:])
                return
            self._publish_failed(messages, exc)
        except (PushError, ValueError) as exc:
            self._publish_failed(messages, exc)
        except Exception as exc:  # a bug must not stop the publisher: log it whole
            logger.exception("bus publisher failed unexpectedly")
            self._publish_failed(messages, exc)
        else:
            for message in messages:
                metrics.messages_published.labels(method=message.method).inc()

    def _publish_failed(self, batch: list[Message], exc: Exception) -> None:
        # Already applied locally; the other pods miss it. Never log the payload.
        metrics.publish_failures.labels(error=type(exc).__name__).inc(len(batch))
        methods = sorted({message.method for message in batch})
        logger.error("bus could not publish %d message(s) (%s): %s", len(batch),
                     ", ".join(methods), exc)

    def _one_local_sid(self, message: EmitMessage) -> bool:
        """Is the emit addressed to exactly one client, connected to this pod?"""
        return isinstance(message.room, str) and self.is_connected(message.room,
                                                                   message.namespace)

    def _listen(self) -> Iterator[dict[str, Any]]:
        # python-socketio restarts _listen at once if it raises (a hot loop, and each restart
        # relists): nothing about one message may escape from here.
        self.listener_ident = threading.get_ident()
        for delivery in self.watcher.deliveries():
            metrics.lag_seconds.observe(max(0.0, time.time() - delivery.created))
            applied = False
            self._fanning_out = delivery.created
            for index, message in enumerate(delivery.envelope.messages):
                try:
                    data = self._incoming(message)
                    if self.tap is not None:
                        data = self._tapped(message, data, (delivery.version, index))
                except Exception:
                    logger.exception("bus could not apply a %s message; skipped",
                                     getattr(message, "method", "?"))
                    continue
                if data is not None:
                    # PubSubManager._thread applies it (emits to this pod's clients) before it
                    # asks for the next message: resuming here means that emit is done.
                    self._yielded = data
                    try:
                        yield data
                    finally:
                        self._yielded = None
                        self.current = None
                    applied = True
            self._fanning_out = None
            metrics.observe_hops(delivery.created, delivery.read_at,
                                 time.time() if applied else None)
        logger.error("bus watcher stopped")  # only after stop(): PubSubManager then exits

    def _tapped(self, message: Message, data: dict[str, Any] | None,
                position: Position) -> dict[str, Any] | None:
        """Recovery: show the tap every message in order; own recoverable emits are applied."""
        assert self.tap is not None
        own = message.host_id == self.host_id
        dump = data if data is not None else message.model_dump()
        if self.position is None or position > self.position:
            self.position = position
        if not self.tap.observe(position, dump, own=own):
            return None
        recoverable = isinstance(message, EmitMessage) and message.callback is None \
            and self.tap.recoverable(message.event, message.namespace, None)
        if own and (recoverable or (message.method in ("close_room", "disconnect")
                                    and message.namespace == "/")):
            # Applied here only now (emit and close_room did not): a host_id that is not
            # ours lets PubSubManager's listener apply it.
            dump = dict(dump, host_id="")
        elif data is None:
            return None
        self.current = position if recoverable else None
        return dump

    def start_position(self) -> Position | None:
        """Where this pod's deliveries start or stand: for a client connecting now."""
        if self.position is not None:
            return self.position
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


def _with_offset(message: dict[str, Any], position: Position) -> list[Any]:
    """The message's data (PubSubManager's list) with the offset appended as one more argument."""
    offset = f"{position[0]}-{position[1]}"
    data = list(message.get("data") or [])
    if message.get("binary") and data and isinstance(data[0], list):
        return [[*data[0], offset], *data[1:]]  # the placeholders' list, then the attachments
    return [*data, offset]
