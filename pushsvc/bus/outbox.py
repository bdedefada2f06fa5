"""The bus outbox: messages for other pods, queued and published in order by one task.

python-socketio calls the manager's ``_publish`` from the emitting handler after applying the
message here. Creating the Event there would hold that handler for an API round trip, so the
message joins this outbox, which one publisher task drains in order; messages that queue up
while a create is in flight travel together in the next Event (up to the wire's
``MAX_MESSAGES_PER_EVENT`` and the Event payload limit).

It is bounded by count and bytes: when it overflows the oldest message is dropped, counted
(``pushsvc_bus_outbox_dropped_total{reason="overflow"}``) — except messages to
``keeps_namespace`` (recovery's session snapshots), which go last. One message too large for
an Event is refused before any API call; while the bus is degraded nothing waits for the API
server — messages are dropped at once and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emitter.client import Emitter
from emitter.wire import MAX_MESSAGES_PER_EVENT, Message, PayloadTooLargeError, PushError
from pushsvc.bus import metrics

logger = logging.getLogger("pushsvc.bus.manager")

#: Room for the envelope around the messages (``{"v":1,"ts":...,"messages":[...]}``).
ENVELOPE_BYTES = 64

_MESSAGE_ADAPTER: Any = None


def adapter() -> Any:
    """pydantic's TypeAdapter of the wire's Message union (built on first use)."""
    global _MESSAGE_ADAPTER
    if _MESSAGE_ADAPTER is None:
        from pydantic import TypeAdapter

        _MESSAGE_ADAPTER = TypeAdapter(Message)
    return _MESSAGE_ADAPTER


@dataclass(slots=True)
class _Queued:
    message: Message
    size: int  # its JSON bytes inside the envelope
    queued_at: float  # Unix seconds: the lag metric on the receiving pods starts here


class Outbox:
    """Messages for other pods, published in order by one background task.

    :param publisher: the emitter that creates the Events.
    :param degraded: true while the bus watch is down past its grace period.
    :param start_task: starts the publisher task (the Socket.IO server's background task).
    :param sleep: the server's cooperative sleep.
    :param max_messages: messages queued, at most (oldest dropped).
    :param max_bytes: JSON bytes queued, at most (oldest dropped).
    """

    def __init__(self, *, publisher: Emitter, degraded: Callable[[], bool],
                 start_task: Callable[[Callable[[], None]], Any],
                 sleep: Callable[[float], Any], max_messages: int, max_bytes: int) -> None:
        self.publisher = publisher
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        #: Set by connection state recovery: its snapshots outlast other queued messages.
        self.keeps_namespace: str | None = None
        self._degraded = degraded
        self._start_task = start_task
        self._sleep = sleep
        self._queue: deque[_Queued] = deque()
        self._bytes = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._publishing = False
        self._last_drop_log: dict[str, float] = {}

    @property
    def messages(self) -> int:
        """Messages queued or being published now."""
        return len(self._queue) + self._in_flight

    @property
    def bytes(self) -> int:
        """JSON bytes queued now."""
        return self._bytes

    def put(self, data: dict[str, Any]) -> None:
        """Queue one PubSubManager message (validated against the wire model first)."""
        queued_at = time.time()
        try:
            message: Message = adapter().validate_python(data)
            size = len(adapter().dump_json(message)) + 1
        except ValueError as exc:
            metrics.publish_failures.labels(error=type(exc).__name__).inc()
            logger.error("bus could not publish a %s message: %s", data.get("method"), exc)
            return
        limit = self.publisher.max_payload_bytes - ENVELOPE_BYTES
        if size > limit:
            self._dropped("too_large", 1, f"one {message.method} message is {size:,} bytes, "
                          f"over the Event payload limit of {limit:,} bytes")
            return
        if self._degraded():
            self._dropped("bus_down", 1, "the bus watch is down past its grace period")
            return
        overflow = 0
        with self._lock:
            self._queue.append(_Queued(message, size, queued_at))
            self._bytes += size
            while len(self._queue) > self.max_messages or (
                    self._bytes > self.max_bytes and len(self._queue) > 1):
                self._bytes -= self._pop_overflow().size
                overflow += 1
            start = not self._publishing
            self._publishing = True
        if overflow:
            self._dropped("overflow", overflow, f"the outbox is full ({self.max_messages} "
                          f"messages / {self.max_bytes:,} bytes); oldest dropped")
        if start:
            self._start_task(self._drain)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message put here has been sent (or has failed)."""
        deadline = time.monotonic() + timeout
        while self._publishing and time.monotonic() < deadline:
            self._sleep(0.005)
        return not self._publishing

    def close(self, timeout: float) -> int:
        """Flush, then drop what is still queued (counted and logged); return that number."""
        left = 0 if self.flush(timeout) else self.messages
        if left:
            with self._lock:
                self._queue.clear()
                self._bytes = 0
            metrics.outbox_dropped.labels(reason="shutdown").inc(left)
            logger.warning("bus: %d message(s) for other pods were not published before exit "
                           "and are dropped (API server slow or unreachable)", left)
        return left

    def _pop_overflow(self) -> _Queued:
        """The message an overflowing outbox drops: the oldest, except that messages to
        ``keeps_namespace`` (recovery's session snapshots: without one a session cannot be
        recovered anywhere) go only when nothing else is left. Call with the lock held."""
        keep = self.keeps_namespace
        index = 0
        if keep is not None:
            index = next((i for i, queued in enumerate(self._queue)
                          if getattr(queued.message, "namespace", None) != keep), 0)
        victim = self._queue[index]
        del self._queue[index]
        return victim

    def _dropped(self, reason: str, count: int, why: str) -> None:
        # Already applied locally; the other pods miss it. One line per reason and 10 s.
        metrics.outbox_dropped.labels(reason=reason).inc(count)
        now = time.monotonic()
        if now - self._last_drop_log.get(reason, -1e18) >= 10.0:
            self._last_drop_log[reason] = now
            logger.warning("bus dropped %d message(s) for other pods: %s (counted in "
                           "pushsvc_bus_outbox_dropped_total{reason=%r})", count, why, reason)

    def _next_batch(self) -> list[_Queued]:
        """Up to MAX_MESSAGES_PER_EVENT queued messages that fit one Event, oldest first."""
        limit = self.publisher.max_payload_bytes - ENVELOPE_BYTES
        batch: list[_Queued] = []
        size = 0
        while self._queue and len(batch) < MAX_MESSAGES_PER_EVENT:
            if batch and size + self._queue[0].size > limit:
                break
            item = self._queue.popleft()
            self._bytes -= item.size
            size += item.size
            batch.append(item)
        return batch

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._degraded() and self._queue:
                        dropped = len(self._queue)
                        self._queue.clear()
                        self._bytes = 0
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
        except BaseException:  # killed (GreenletExit): let the next put restart it
            with self._lock:
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
            self._failed(messages, exc)
        except (PushError, ValueError) as exc:
            self._failed(messages, exc)
        except Exception as exc:  # a bug must not stop the publisher: log it whole
            logger.exception("bus publisher failed unexpectedly")
            self._failed(messages, exc)
        else:
            for message in messages:
                metrics.messages_published.labels(method=message.method).inc()

    def _failed(self, batch: list[Message], exc: Exception) -> None:
        # Already applied locally; the other pods miss it. Never log the payload.
        metrics.publish_failures.labels(error=type(exc).__name__).inc(len(batch))
        methods = sorted({message.method for message in batch})
        logger.error("bus could not publish %d message(s) (%s): %s", len(batch),
                     ", ".join(methods), exc)
