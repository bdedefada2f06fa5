"""A python-socketio test client that records what it receives.

Every event (the reply event, ``error``, ``server_shutdown``, anything else) is
appended to ``events`` as ``(name, payload)``; connects and disconnects are
recorded too. Tests wait with ``wait_for`` (bounded polling, no fixed sleeps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import socketio

from pushsvc.testing import procs

DEFAULT_WAIT_S = 10.0


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = DEFAULT_WAIT_S, interval: float = 0.02,
    what: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise AssertionError on timeout.

    ``pushsvc.testing.procs.wait_until`` with a test's failure instead of a TimeoutError.
    """
    try:
        return procs.wait_until(predicate, timeout=timeout, interval=interval, what=what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


class RecordingClient:
    """python-socketio ``Client`` that keeps every received event.

    :param transports: ``["websocket"]`` or ``["polling"]`` (or both, the default upgrade path).
    :param reply_event: the server's reply event name (``nuke_response`` by default).
    """

    def __init__(
        self,
        *,
        transports: list[str] | None = None,
        reply_event: str = "nuke_response",
        reconnection: bool = False,
        **client_kwargs: Any,
    ) -> None:
        self.transports = transports
        self.reply_event = reply_event
        self.sio = socketio.Client(reconnection=reconnection, **client_kwargs)
        self.events: list[tuple[str, Any]] = []
        self.disconnect_reasons: list[str] = []
        self.connects = 0
        self._lock = threading.Lock()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("*", self._on_any)

    def _on_connect(self) -> None:
        with self._lock:
            self.connects += 1

    def _on_disconnect(self, reason: Any = None) -> None:
        with self._lock:
            self.disconnect_reasons.append(str(reason))

    def _on_connect_error(self, data: Any = None) -> None:
        with self._lock:
            self.events.append(("connect_error", data))

    def _on_any(self, event: str, *args: Any) -> None:
        payload = args[0] if len(args) == 1 else list(args)
        with self._lock:
            self.events.append((event, payload))

    # -- connection -------------------------------------------------------
    def connect(self, url: str, *, headers: dict[str, str] | None = None,
                auth: Any = None, wait_timeout: float = 10) -> RecordingClient:
        self.sio.connect(
            url, transports=self.transports, headers=headers or {}, auth=auth,
            wait_timeout=wait_timeout,
        )
        return self

    def disconnect(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    def close(self) -> None:
        """Disconnect and release the client's threads (safe to call twice)."""
        self.disconnect()
        self.sio.shutdown()

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    @property
    def transport(self) -> str:
        return str(self.sio.transport())

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------
    def emit(self, event: str, *args: Any) -> None:
        self.sio.emit(event, args[0] if len(args) == 1 else tuple(args) if args else None)

    def call(self, event: str, *args: Any, timeout: float = DEFAULT_WAIT_S) -> Any:
        """Emit with an ack and return the server's ack value."""
        data = args[0] if len(args) == 1 else tuple(args) if args else None
        return self.sio.call(event, data, timeout=int(timeout))

    # -- receiving --------------------------------------------------------
    def received(self, event: str | None = None) -> list[Any]:
        name = event or self.reply_event
        with self._lock:
            return [payload for ev, payload in self.events if ev == name]

    def replies(self) -> list[Any]:
        """The ``data`` of every reply-event message so far."""
        return [p.get("data") if isinstance(p, dict) else p for p in self.received()]

    def wait_for(
        self,
        event: str | None = None,
        predicate: Callable[[Any], bool] | None = None,
        *,
        timeout: float = DEFAULT_WAIT_S,
    ) -> Any:
        """Wait for an event (default: the reply event) whose payload matches ``predicate``."""
        name = event or self.reply_event

        def find() -> Any:
            for payload in self.received(name):
                if predicate is None or predicate(payload):
                    return (payload,)
            return None

        return wait_until(find, timeout=timeout, what=f"event {name!r}")[0]

    def wait_for_reply(self, data: Any, *, timeout: float = DEFAULT_WAIT_S) -> Any:
        """Wait for a reply-event message whose ``data`` equals ``data``."""
        return self.wait_for(
            None, lambda p: isinstance(p, dict) and p.get("data") == data, timeout=timeout
        )
