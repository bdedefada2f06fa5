"""``notify()`` and :class:`Emitter`: the write-only side of the bus, without Flask or gevent.

A notifier (a Job, a CronJob, any service) creates one Event per message; every pushsvc pod
watches them and emits to its own clients. An :class:`Emitter` keeps one API connection pool
for repeated use; :func:`notify` uses a process-wide default Emitter built from the environment.

Bursts can share Events (:mod:`emitter.batching`): inside ``with em.batch():``, or always with
``batch_window_seconds`` > 0. Batching is off by default because it changes what ``notify()``
promises: unbatched, it returns once the Event exists and raises the API's error itself;
batched, API errors arrive later (leaving the ``with`` block, at ``flush()``, or from the next
``notify()``), which a caller has to opt into.

Names follow Flask-SocketIO's ``emit()``: ``to=`` is the target room (``room=`` its alias) and
``namespace=`` in ``notify()``, ``close_room()`` and ``disconnect()`` is the Socket.IO
namespace. The Kubernetes namespace the Events live in is ``Emitter(bus_namespace=...)``,
named after ``PUSHSVC_BUS_NAMESPACE``; ``Emitter(namespace=...)`` is its deprecated old name,
so that ``namespace`` means one thing in this API.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter import codec, config
from emitter.batching import Batcher, Packer, Packet, send_all
from emitter.errors import ApiError, BatchError, ConfigError, MessageError, PushError
from emitter.kube import RBAC_NOTIFIER, Backoff, call_with_retries, convert
from emitter.model import (
    CloseRoomMessage,
    DisconnectMessage,
    Envelope,
    Message,
    emit_message,
    new_host_id,
)
from emitter.transport import KubernetesTransport, Transport

logger = logging.getLogger(__name__)


class Emitter:
    """Publishes Socket.IO messages to every pushsvc pod through core/v1 Events.

    :param bus_namespace: the Kubernetes namespace of the bus Events (default
        ``$PUSHSVC_BUS_NAMESPACE``, the pod's or the kubeconfig context's namespace, else
        ``default``); must match the servers' ``PUSHSVC_BUS_NAMESPACE``.
    :param channel: bus channel, the label value (default ``$PUSHSVC_BUS_CHANNEL`` or
        ``pushsvc``); must match the servers' ``PUSHSVC_BUS_CHANNEL``.
    :param kubeconfig: kubeconfig path; default in-cluster config, then ``$KUBECONFIG``, then
        ``~/.kube/config``.
    :param api_client: an existing ``kubernetes.client.ApiClient`` to reuse instead.
    :param transport: what creates the Events instead of the Kubernetes API (an object with
        ``create_event(namespace, body)``, :class:`~emitter.transport.Transport`; e.g.
        ``pushsvc.testing.RecordingTransport``); no kubeconfig is read then. Bodies, size
        checks, batching, retries and errors are the same (see :mod:`emitter.transport`).
    :param max_payload_bytes: refuse larger payloads before any API call.
    :param retry_deadline_seconds: keep retrying 429 / 5xx / connection errors this long.
    :param host_id: identifies the publisher in each message (PubSubManager's ``host_id``).
    :param involved_object: the Event's involvedObject (default: this Pod or Job).
    :param grant: (rbac file, ServiceAccount, verbs) named in a 403 error.
    :param batch_window_seconds: > 0 turns on window batching: notifications issued within
        this many seconds of the first one of an Event share it (default
        ``$PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS``, else 0 = off; 0.005 is a good value).
        ``notify()`` then returns at once and API errors surface from ``flush()``,
        ``close()`` or the next ``notify()`` as :class:`~emitter.batching.BatchError`.
    :param max_messages_per_event: most messages one batched Event carries (1-50).
    :param max_queued_messages: window mode: ``notify()`` blocks (up to the retry deadline)
        while this many messages wait to be sent.
    :param namespace: deprecated name of ``bus_namespace`` (a DeprecationWarning); passing
        both is a :class:`~emitter.errors.ConfigError`.
    :param on_retry: called with (cause, seconds) before each retry wait of a create (cause
        ``throttled`` for a 429, whose Retry-After is always waited out, ``server_error`` or
        ``connection``); :attr:`retries` counts them by cause either way.
    """

    def __init__(
        self,
        *,
        bus_namespace: str | None = None,
        channel: str | None = None,
        kubeconfig: str | None = None,
        api_client: ApiClient | None = None,
        max_payload_bytes: int = codec.DEFAULT_MAX_PAYLOAD_BYTES,
        retry_deadline_seconds: float = 30.0,
        request_timeout: tuple[float, float] = (5.0, 20.0),
        host_id: str | None = None,
        involved_object: dict[str, str] | None = None,
        grant: tuple[str, str, str] = RBAC_NOTIFIER,
        batch_window_seconds: float | None = None,
        max_messages_per_event: int = codec.MAX_MESSAGES_PER_EVENT,
        max_queued_messages: int = 10_000,
        namespace: str | None = None,
        on_retry: Callable[[str, float], None] | None = None,
        transport: Transport | None = None,
    ) -> None:
        if namespace is not None:
            if bus_namespace is not None:
                raise ConfigError(
                    f"Emitter got bus_namespace={bus_namespace!r} and namespace={namespace!r}: "
                    "pass bus_namespace= only (namespace= is its deprecated old name)")
            warnings.warn(
                "Emitter(namespace=...) is deprecated: pass bus_namespace= (the Kubernetes "
                "namespace of the bus Events); in notify(), namespace= is the Socket.IO "
                "namespace", DeprecationWarning, stacklevel=2)
            bus_namespace = namespace
        if not 0 < max_payload_bytes <= codec.HARD_MAX_PAYLOAD_BYTES:
            raise ValueError(f"max_payload_bytes must be in 1..{codec.HARD_MAX_PAYLOAD_BYTES}")
        if not 1 <= max_messages_per_event <= codec.MAX_MESSAGES_PER_EVENT:
            raise ValueError(
                f"max_messages_per_event must be in 1..{codec.MAX_MESSAGES_PER_EVENT}")
        window = config.resolve_batch_window(batch_window_seconds)
        self.channel = config.resolve_channel(channel)
        target = None
        if transport is not None:
            if api_client is not None or kubeconfig is not None:
                raise ConfigError("Emitter got transport= and api_client=/kubeconfig=: pass "
                                  "one (KubernetesTransport(api_client) is the API's)")
            if not callable(getattr(transport, "create_event", None)):
                raise ConfigError(f"transport {transport!r} has no create_event(namespace, "
                                  "body) method")
        elif api_client is None:
            target = config.load_api_client(kubeconfig)
            api_client = target.api_client
        #: The API client of the default transport (None with a transport of the caller's).
        self.api_client: ApiClient | None = api_client
        #: What creates the Events: ``KubernetesTransport(api_client)`` unless one was given.
        self.transport: Transport = transport if transport is not None else KubernetesTransport(
            api_client, request_timeout=request_timeout)  # type: ignore[arg-type]
        self.bus_namespace = config.resolve_namespace(bus_namespace, target)
        self.max_payload_bytes = max_payload_bytes
        self.retry_deadline_seconds = retry_deadline_seconds
        self.request_timeout = request_timeout
        self.host_id = host_id or new_host_id()
        self.involved_object = involved_object or config.notifier_object()
        self.grant = grant
        #: Retries of creates so far, by cause (``throttled``, ``server_error``, ``connection``).
        self.retries: dict[str, int] = {}
        self._on_retry = on_retry
        self.max_messages_per_event = max_messages_per_event
        self.batch_window_seconds = window
        self._owns_client = target is not None
        self._scope = threading.local()  # the calling thread's open ``with batch()``, if any
        self._batcher = None if window <= 0 else Batcher(
            self._create_packet, window=window, max_payload_bytes=max_payload_bytes,
            max_messages=max_messages_per_event, max_queued=max_queued_messages,
            block_seconds=retry_deadline_seconds)

    @property
    def namespace(self) -> str:
        """Deprecated: :attr:`bus_namespace`."""
        warnings.warn("Emitter.namespace is deprecated: read Emitter.bus_namespace",
                      DeprecationWarning, stacklevel=2)
        return self.bus_namespace

    # --- the notifier API ---------------------------------------------------------
    def notify(
        self,
        event: str,
        data: Any = None,
        *,
        to: str | list[str] | None = None,
        room: str | list[str] | None = None,
        namespace: str = "/",
        skip_sid: str | list[str] | None = None,
        user: str | list[str] | None = None,
    ) -> str:
        """Emit ``event`` with ``data`` to the room ``to`` (None = every client) on every pod.

        :param to: a room or a list of rooms (a client's sid is a room too); ``room=`` is
            its alias, as in Flask-SocketIO — pass one of them (both: MessageError).
        :param namespace: the Socket.IO namespace (default ``/``).
        :param skip_sid: a client sid (or list) that must not receive it.
        :param user: ``"alice"`` (or a list) sends to every connection of that user — the
            token subject's room ``user:alice`` on every pod — in addition to ``to`` if
            given, and to nobody else when ``to`` is None.

        A tuple ``data`` becomes several arguments, as with ``socketio.Server.emit``; bytes
        anywhere in ``data`` travel as binary attachments. Returns the Event's name.

        Batched (inside ``with batch()`` or with a batch window) it returns at once with the
        name of the Event the message will travel in; a bad message still raises here.
        """
        message = emit_message(event, data, host_id=self.host_id, room=target(to, room),
                               namespace=namespace, skip_sid=skip_sid, user=user)
        return self._submit(message)

    def close_room(self, room: str, *, namespace: str = "/") -> str:
        """Remove every client from ``room`` on every pod."""
        try:
            message = CloseRoomMessage(room=room, namespace=namespace, host_id=self.host_id)
        except ValueError as exc:
            raise codec_message_error(f"bad room {room!r}", exc) from exc
        return self._submit(message)

    def disconnect(self, sid: str, *, namespace: str = "/") -> str:
        """Disconnect the client ``sid`` wherever it is connected."""
        try:
            message = DisconnectMessage(sid=sid, namespace=namespace, host_id=self.host_id)
        except ValueError as exc:
            raise codec_message_error(f"bad sid {sid!r}", exc) from exc
        return self._submit(message)

    # --- batching ---------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Notifications issued in the block (by this thread) share Events, in order.

        They are sent when the block ends — also when it ends with an exception, since a
        notification, once issued, is not taken back (the exception then propagates). An
        Event holds at most ``max_messages_per_event`` messages and ``max_payload_bytes``;
        a longer batch is split. If any Event cannot be created, leaving the block raises
        :class:`~emitter.batching.BatchError` naming how many messages were not sent (after an
        Event fails, the later ones of the batch are not attempted). Nested blocks join the
        outermost one.
        """
        packer: Packer | None = getattr(self._scope, "packer", None)
        if packer is not None:
            yield
            return
        packer = Packer(max_payload_bytes=self.max_payload_bytes,
                        max_messages=self.max_messages_per_event)
        self._scope.packer = packer
        failed = True
        try:
            yield
            failed = False
        finally:
            self._scope.packer = None
            packets = packer.take()
            if failed:
                with contextlib.suppress(BatchError):  # the body's exception goes first
                    self._send_packets(packets)
            else:
                self._send_packets(packets)

    def flush(self, timeout: float | None = None) -> None:
        """Window mode: send what is queued now; raise BatchError for what failed since the
        last flush. Without a batch window there is nothing to flush."""
        if self._batcher is not None:
            self._batcher.flush(timeout)

    def _submit(self, message: Message) -> str:
        packer: Packer | None = getattr(self._scope, "packer", None)
        if packer is not None:
            return packer.add(message)
        if self._batcher is not None:
            return self._batcher.add(message)
        return self.publish([message])

    def _send_packets(self, packets: list[Packet]) -> None:
        if not packets:
            return
        if self._batcher is not None:
            # Behind what the window already queued, so the order holds across both.
            self._batcher.enqueue(packets)
            self._batcher.flush()
            return
        failures = send_all(packets, self._create_packet)
        if failures:
            raise BatchError(failures)

    def _create_packet(self, packet: Packet) -> None:
        self.publish(packet.messages, name=packet.name)

    # --- the wire ---------------------------------------------------------------
    def publish(self, messages: Sequence[Message], *, name: str | None = None,
                ts: float | None = None) -> str:
        """Create one Event holding ``messages``; returns its name. Raises PushError subclasses.

        :param name: the Event's name (a batch learns it before the create); default a new one.
            A name derived from what the Event stands for makes the create idempotent across
            processes: a second create of it raises :class:`~emitter.errors.AlreadyExistsError`
            (409), which means "already sent" (a retried create meeting 409 returns normally).
        :param ts: the envelope's time (Unix seconds); default now. A publisher that queued the
            messages first passes the time the oldest was queued, so lag counts the queue.
        """
        envelope = (Envelope(messages=list(messages)) if ts is None
                    else Envelope(messages=list(messages), ts=ts))
        namespace = self.bus_namespace
        body = codec.encode_event(
            envelope,
            namespace=namespace,
            channel=self.channel,
            involved_object=self.involved_object,
            name=name,
            max_payload_bytes=self.max_payload_bytes,
        )
        event_name: str = body["metadata"]["name"]
        create_event = self.transport.create_event
        what = f"create event in namespace {namespace!r}"
        try:
            call_with_retries(
                lambda: create_event(namespace, body),
                what=what,
                deadline_seconds=self.retry_deadline_seconds,
                backoff=Backoff(initial=0.2, maximum=5.0),
                # A retried create that meets 409 AlreadyExists means an earlier attempt
                # reached the server (e.g. the response was lost): done, and no duplicate.
                on_retry=lambda exc: isinstance(exc, ApiException) and exc.status == 409,
                on_wait=self._retrying,
            )
        except ApiException as exc:
            raise convert(exc, verb="create", namespace=namespace, grant=self.grant) from exc
        except PushError:
            raise
        except Exception as exc:
            # A transport's own failure: still one of the errors notify() documents (and one
            # a batch's sender thread reports instead of dying of it).
            raise ApiError(f"{what} failed in {type(self.transport).__name__}: "
                           f"{type(exc).__name__}: {exc}") from exc
        return event_name

    def _retrying(self, cause: str, seconds: float) -> None:
        self.retries[cause] = self.retries.get(cause, 0) + 1
        if self._on_retry is not None:
            self._on_retry(cause, seconds)

    def close(self) -> None:
        """Send what the batch window still holds (BatchError if that fails), then let go of
        the API connection pool if this Emitter made it."""
        try:
            if self._batcher is not None:
                self._batcher.close()
        finally:
            if self._owns_client and self.api_client is not None:
                self.api_client.close()

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:
            with contextlib.suppress(BatchError):  # the block's own exception goes first
                self.close()


def target(to: str | list[str] | None, room: str | list[str] | None) -> str | list[str] | None:
    """The room(s) of ``to=`` or of its alias ``room=``; both given is a MessageError."""
    if room is None:
        return to
    if to is not None:
        raise MessageError(f"got to={to!r} and room={room!r}: pass to= only (room= is its "
                           "alias); nothing was sent")
    return room


def codec_message_error(what: str, exc: Exception) -> MessageError:
    return MessageError(f"{what}: {exc}; nothing was sent")


_default: Emitter | None = None
_default_lock = threading.Lock()


def default_emitter() -> Emitter:
    """The process-wide Emitter built from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Emitter()
            logger.info("pushsvc emitter: namespace %s, channel %s",
                        _default.bus_namespace, _default.channel)
        return _default


def notify(
    event: str,
    data: Any = None,
    *,
    to: str | list[str] | None = None,
    room: str | list[str] | None = None,
    namespace: str = "/",
    skip_sid: str | list[str] | None = None,
    user: str | list[str] | None = None,
) -> str:
    """Emit ``event`` to the room ``to`` (None = every client) on every pod, through the
    process-wide :func:`default_emitter`; see :meth:`Emitter.notify` (``room=`` is the alias
    of ``to=``; ``namespace=`` is the Socket.IO namespace)."""
    rooms = target(to, room)  # before building the default Emitter: a bad call is the caller's
    return default_emitter().notify(event, data, to=rooms, namespace=namespace,
                                    skip_sid=skip_sid, user=user)


__all__ = ["Emitter", "default_emitter", "notify"]
