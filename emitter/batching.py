"""Batched notifications: many messages, one Event — in order, under the size and count caps.

Every Event is an etcd write that lives for the Event TTL; a Job that notifies 10,000 rows one
Event each writes 10,000 objects. The envelope already carries a *list* of messages, so a
notifier can pack a burst into one Event:

- :class:`Packer` cuts an ordered stream of messages into Events of at most
  ``max_messages`` messages and ``max_payload_bytes`` of payload. Each message learns the
  name of its Event when it is added, so ``notify()`` can still return a name; a message that
  alone is over the size limit is refused at once (nothing queued).
- :class:`Batcher` is the window mode: messages added within ``window`` seconds of the first
  one of an Event (or while an earlier Event's create is in flight) travel together. One
  daemon thread creates the Events, in order. A failure is kept and raised, as a
  :class:`BatchError`, from the next ``add`` or ``flush`` — never dropped silently.

Plain threads only: the emitter never imports gevent (under gevent's monkey-patching the thread
becomes a greenlet and works the same).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from emitter import codec
from emitter.errors import BatchError, PayloadTooLargeError, PushError
from emitter.model import Message

logger = logging.getLogger(__name__)


@dataclass
class Packet:
    """The messages of one future Event, and its name (chosen when its first message came)."""

    name: str
    messages: list[Message] = field(default_factory=list)
    size: int = codec.ENVELOPE_OVERHEAD_BYTES


class Packer:
    """Cuts an ordered stream of messages into Packets under the size and count caps."""

    def __init__(self, *, max_payload_bytes: int, max_messages: int) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_messages = max_messages
        self.sealed: list[Packet] = []
        self.open: Packet | None = None

    def add(self, message: Message) -> str:
        """Place ``message``; return its Event's name. PayloadTooLargeError if it cannot fit."""
        size = len(message.model_dump_json().encode("utf-8"))
        if codec.ENVELOPE_OVERHEAD_BYTES + size > self.max_payload_bytes:
            raise PayloadTooLargeError(codec.ENVELOPE_OVERHEAD_BYTES + size,
                                       self.max_payload_bytes)
        packet = self.open
        if packet is not None and (
            len(packet.messages) >= self.max_messages
            or packet.size + 1 + size > self.max_payload_bytes
        ):
            self.sealed.append(packet)
            packet = None
        if packet is None:
            packet = self.open = Packet(codec.event_name_for(message))
        packet.size += size + (1 if packet.messages else 0)
        packet.messages.append(message)
        return packet.name

    def take(self, *, include_open: bool = True) -> list[Packet]:
        """Every sealed Packet (and the open one), in order; the packer is empty afterwards."""
        taken, self.sealed = self.sealed, []
        if include_open and self.open is not None:
            taken.append(self.open)
            self.open = None
        return taken

    def __len__(self) -> int:
        return sum(len(p.messages) for p in self.sealed) + (
            len(self.open.messages) if self.open else 0)


SendPacket = Callable[[Packet], None]


def send_all(packets: list[Packet], send: SendPacket) -> list[tuple[str, int, PushError]]:
    """Create the Events in order; after one fails, the rest fail with it, unattempted.

    A create fails only after its retry deadline (or for a 403 / 404 / bad request that the
    next one would meet too): trying each later Event again would hold the caller for a whole
    deadline per Event.
    """
    failures: list[tuple[str, int, PushError]] = []
    for packet in packets:
        if failures:
            failures.append((packet.name, len(packet.messages), failures[0][2]))
            continue
        try:
            send(packet)
        except PushError as exc:
            failures.append((packet.name, len(packet.messages), exc))
    return failures


class Batcher:
    """Window mode: coalesce messages added within ``window`` seconds; one sender thread."""

    def __init__(self, send: SendPacket, *, window: float, max_payload_bytes: int,
                 max_messages: int, max_queued: int, block_seconds: float) -> None:
        self._send = send
        self.window = window
        self.max_queued = max_queued
        self.block_seconds = block_seconds
        self._packer = Packer(max_payload_bytes=max_payload_bytes, max_messages=max_messages)
        self._cond = threading.Condition()
        self._ready: deque[Packet] = deque()
        self._first_at = 0.0  # monotonic time the open packet got its first message
        self._in_flight = 0  # messages taken by the sender, not yet sent or failed
        self._flushing = 0
        self._failures: list[tuple[str, int, PushError]] = []
        self._closed = False
        self._thread: threading.Thread | None = None

    # --- callers' side -------------------------------------------------------------
    def add(self, message: Message) -> str:
        """Queue ``message``; returns its Event's name. Raises an earlier failure first."""
        with self._cond:
            self._raise_failures(note=" (nor was this one: it was not queued)")
            if self._closed:
                raise RuntimeError("this Emitter is closed")
            deadline = time.monotonic() + self.block_seconds
            while self._queued() >= self.max_queued:
                # The API is slower than the notifier: hold it back rather than grow forever.
                left = deadline - time.monotonic()
                if left <= 0 or self._failures:
                    self._raise_failures(note=" (nor was this one: it was not queued)")
                    raise PushError(
                        f"{self._queued()} messages are still waiting to be sent after "
                        f"{self.block_seconds:g} s; this one was not queued")
                self._cond.wait(left)
            opened = self._packer.open
            name = self._packer.add(message)
            if self._packer.open is not opened:
                self._first_at = time.monotonic()
            self._ready.extend(self._packer.take(include_open=False))
            self._start()
            self._cond.notify_all()
            return name

    def enqueue(self, packets: list[Packet]) -> None:
        """Queue already-cut Packets behind everything queued so far (``with em.batch()``)."""
        with self._cond:
            self._ready.extend(self._packer.take())
            self._ready.extend(packets)
            self._start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Send everything queued now; raise :class:`BatchError` for what failed since the last
        flush. ``timeout`` (seconds) bounds the wait: a TimeoutError says how much is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queued() and self._thread is not None:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"{self._queued()} message(s) still queued after "
                                           f"{timeout:g} s")
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
            self._raise_failures()

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender thread."""
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            atexit.unregister(self._at_exit)

    def _raise_failures(self, *, note: str = "") -> None:
        if self._failures:
            failures, self._failures = self._failures, []
            raise BatchError(failures, note=note)

    def _queued(self) -> int:
        return len(self._packer) + sum(len(p.messages) for p in self._ready) + self._in_flight

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pushsvc-emitter-batch",
                                            daemon=True)
            self._thread.start()
            # A daemon thread dies with the interpreter: send what is queued at exit.
            atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        try:
            self.close(timeout=self.block_seconds)
        except (PushError, TimeoutError) as exc:
            logger.error("pushsvc emitter: at exit, %s", exc)

    # --- the sender thread ----------------------------------------------------------
    def _take(self) -> list[Packet] | None:
        with self._cond:
            while True:
                if self._packer.open is not None:
                    due = self._first_at + self.window
                    if self._flushing or self._closed or time.monotonic() >= due:
                        self._ready.extend(self._packer.take())
                if self._ready:
                    packets = list(self._ready)
                    self._ready.clear()
                    self._in_flight = sum(len(p.messages) for p in packets)
                    return packets
                if self._closed:
                    return None
                wait = (None if self._packer.open is None
                        else max(0.0, self._first_at + self.window - time.monotonic()))
                self._cond.wait(wait)

    def _run(self) -> None:
        while (packets := self._take()) is not None:
            failures = send_all(packets, self._send)
            for name, count, exc in failures:
                # Raised to the caller later (add, flush, close, or logged at exit).
                logger.debug("pushsvc emitter: %d message(s) of Event %s not sent: %s",
                             count, name, exc)
            with self._cond:
                self._failures.extend(failures)
                self._in_flight = 0
                self._cond.notify_all()
