"""A pod without processes: a python-socketio server on a KubernetesManager, Events captured.

Shared by the manager routing and publishing tests (helpers live in helper modules, never in
a test module another test imports).
"""

from __future__ import annotations

from typing import Any

import socketio

from emitter.codec import encode_event
from emitter.model import Envelope
from pushsvc.bus.manager import KubernetesManager
from tests.bus.canned import ScriptedTransport


class NoCalls:
    def param_serialize(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("no API call expected")

    call_api = param_serialize


class Pod:
    """A python-socketio server with a KubernetesManager whose Events are captured."""

    def __init__(self, steps: list | None = None) -> None:
        self.transport = ScriptedTransport(steps or [])
        self.manager = KubernetesManager(api_client=NoCalls(), namespace="bus",  # type: ignore
                                         channel="pushsvc", involved_object={"kind": "Pod",
                                                                             "name": "p"},
                                         transport=self.transport)
        self._published: list[dict[str, Any]] = []  # Event bodies this pod created
        self.sent: list[tuple[str, Any]] = []        # (eio_sid, packet) sent to clients
        self.manager.publisher.publish = self._publish  # type: ignore[method-assign]
        self.server = socketio.Server(client_manager=self.manager, async_mode="threading")
        self.server._send_eio_packet = lambda eio, pkt: self.sent.append((eio, pkt))
        self.server._send_packet = lambda eio, pkt: self.sent.append((eio, pkt))

    @property
    def published(self) -> list[dict[str, Any]]:
        assert self.manager.flush(), "the outbox did not drain"
        return self._published

    def _publish(self, messages: list, **_: Any) -> str:
        self._published.append(encode_event(Envelope(messages=messages), namespace="bus",
                                           channel="pushsvc",
                                           involved_object={"kind": "Pod", "name": "p"}))
        return "name"

    def client(self, eio_sid: str, *rooms: str) -> str:
        sid = self.manager.connect(eio_sid, "/")
        for room in rooms:
            self.manager.enter_room(sid, "/", room)
        return sid
