"""Where recovery attaches to python-socketio: the server's and the manager's methods it
wraps (each named in the package's docstring and pinned in
tests/unit/test_engine_limits_match_the_pinned_libraries.py)."""

from __future__ import annotations

from typing import Any

from socketio import packet as sio_packet

from pushsvc.bus.contract import DELIVERING
from pushsvc.recovery.bounds import snapshot_data
from pushsvc.recovery.decide import Decision
from pushsvc.recovery.snapshot import _NONE, SNAPSHOT_NAMESPACE


class Hooks(Decision):
    """``install()``: the wrappers."""

    def install(self) -> None:
        server, manager = self.server, self.manager
        self.bus.attach(self, keep_namespace=SNAPSHOT_NAMESPACE)
        original_connect = server._handle_connect
        original_send = server._send_packet
        original_send_eio = server._send_eio_packet
        original_disconnect = server.disconnect
        original_handle_disconnect = server._handle_disconnect
        original_pre_connect = manager.pre_connect
        original_enter = manager.basic_enter_room
        original_leave = manager.basic_leave_room
        original_basic_disconnect = manager.basic_disconnect

        def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
            if (namespace or "/") == "/":
                self._auth[eio_sid] = snapshot_data(data)
                self._raw_auth[eio_sid] = data
                if isinstance(data, dict) and isinstance(data.get("pid"), str):
                    who = self._identify(data, server.environ.get(eio_sid))
                    if who is not None:
                        self._who[eio_sid] = who
                    plan = self._plan(data, who)
                    if plan is not None:
                        self._pending[eio_sid] = plan
            try:
                return original_connect(eio_sid, namespace, data)
            finally:
                self._pending.pop(eio_sid, None)
                self._recovering.pop(eio_sid, None)
                self._connect_pos.pop(eio_sid, None)
                self._auth.pop(eio_sid, None)
                self._who.pop(eio_sid, None)
                self._raw_auth.pop(eio_sid, None)
                connecting = self._connecting.pop(eio_sid, None)
                if connecting is not None:
                    self._joining.pop(connecting, None)

        def pre_connect(eio_sid: str, namespace: str) -> Any:
            if (namespace or "/") != "/":
                return original_pre_connect(eio_sid, namespace)
            plan = self._pending.pop(eio_sid, None)
            if plan is None:
                sid = original_pre_connect(eio_sid, namespace)
            else:
                old = plan.snapshot.sid
                if manager.is_connected(old, "/") or manager.is_pre_connected(old, "/"):
                    self._taken.add(old)  # its stale connection on this very pod
                    server.disconnect(old, "/", ignore_queue=True)
                server.eio.generate_id = lambda: old
                try:
                    sid = original_pre_connect(eio_sid, namespace)
                finally:
                    del server.eio.generate_id
                if sid is None:
                    return None
                # The connect handler puts the session in its connect rooms again (or not).
                for room, span in plan.snapshot.rooms.items():
                    if span[1] is None and room not in plan.snapshot.connect_rooms:
                        original_enter(sid, "/", room, eio_sid=eio_sid)
                self._recovering[eio_sid] = plan
            if sid is not None:
                self._connecting[eio_sid] = sid
                self._joining[sid] = {}
            self._connect_pos[eio_sid] = self._stand()
            return sid

        def send_packet(eio_sid: str, pkt: Any) -> Any:
            if pkt.packet_type == sio_packet.CONNECT and (pkt.namespace or "/") == "/" \
                    and isinstance(pkt.data, dict) and isinstance(pkt.data.get("sid"), str):
                self._connected(eio_sid, pkt, original_send)
            return original_send(eio_sid, pkt)

        def send_eio_packet(eio_sid: str, eio_pkt: Any) -> Any:
            delivery = DELIVERING.get()  # a live recoverable bus message, with its position
            if delivery is not None:
                current = delivery.position
                if eio_sid in self._recovering:
                    return None  # replayed from the history with the CONNECT reply instead
                replayed = self._replayed.get(eio_sid)
                if replayed is not None:
                    through, positions, skip = replayed
                    if current <= skip or current in positions:
                        return None
                    if current > through:
                        del self._replayed[eio_sid]
                if eio_sid in server.eio.sockets:  # a fan-out yields: it may have left meanwhile
                    self._last_sent[eio_sid] = current
            return original_send_eio(eio_sid, eio_pkt)

        def disconnect(sid: str, namespace: str | None = None, ignore_queue: bool = False) -> Any:
            if not ignore_queue and (namespace or "/") == "/" and manager.is_connected(sid, "/"):
                # What the server sent it just before (a goodbye) reaches it through the bus:
                # end the session after that, in the bus's order; without the bus, soon.
                self._ending.add(sid)
                self.bus.publish_disconnect(sid, "/")
                server.start_background_task(self._end_later, sid, original_disconnect)
                return None
            self._kicked.add(sid)
            try:
                return original_disconnect(sid, namespace, ignore_queue=ignore_queue)
            finally:
                self._kicked.discard(sid)

        def handle_disconnect(eio_sid: str, namespace: str | None, reason: Any = None) -> Any:
            # A Socket.IO DISCONNECT from the client (``socket.disconnect()``) ends the session
            # for good, as in Node's socket.io: socket.io-client keeps its pid afterwards, so
            # the next connect from that tab — maybe another user's — would recover it. The
            # same reason from a closing Engine.IO connection (its CLOSE packet, a network
            # cut) arrives with the Engine.IO socket already closing: that one is recoverable.
            if (namespace or "/") == "/" and reason == server.reason.CLIENT_DISCONNECT:
                socket = server.eio.sockets.get(eio_sid)
                sid = manager.sid_from_eio_sid(eio_sid, "/")
                if socket is not None and not socket.closing and not socket.closed \
                        and sid is not None and manager.is_connected(sid, "/"):
                    self._ending.add(sid)
            return original_handle_disconnect(eio_sid, namespace, reason)

        def basic_enter_room(sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
            result = original_enter(sid, namespace, room, eio_sid=eio_sid)
            if namespace != "/" or not isinstance(room, str) or room == sid:
                return result
            joining = self._joining.get(sid)
            if joining is not None:  # the connect handler's (the snapshot does not exist yet)
                joining.setdefault(room, self.position or _NONE)
                return result
            snapshot = self.local.get(sid)
            if snapshot is not None:
                span = snapshot.rooms.get(room)
                if span is None or span[1] is not None:
                    snapshot.rooms[room] = [self.position or _NONE, None]
                    snapshot.connect_rooms.discard(room)  # joined later: the claims decide
                    self._write(snapshot)
            return result

        def basic_leave_room(sid: str, namespace: str, room: Any) -> Any:
            joining = self._joining.get(sid) if namespace == "/" else None
            if joining is not None and isinstance(room, str):
                joining.pop(room, None)
            snapshot = self.local.get(sid) if namespace == "/" else None
            if snapshot is not None and isinstance(room, str):
                span = snapshot.rooms.get(room)
                if span is not None and span[1] is None:
                    span[1] = self.position or _NONE
                    self._write(snapshot)
            return original_leave(sid, namespace, room)

        def basic_disconnect(sid: str, namespace: str, **kwargs: Any) -> Any:
            if namespace == "/":
                eio_sid = self._eio_of(sid)
                snapshot = self.local.pop(sid, None)
                if snapshot is not None and sid not in self._taken:
                    ended = sid in self._kicked or sid in self._ending
                    snapshot.state = "ended" if ended else "down"
                    if eio_sid is not None and eio_sid in self._last_sent:
                        snapshot.last = self._last_sent[eio_sid]
                    self._write(snapshot)
                self._taken.discard(sid)
                self._ending.discard(sid)
                if eio_sid is not None:
                    self._last_sent.pop(eio_sid, None)
                    self._replayed.pop(eio_sid, None)
            return original_basic_disconnect(sid, namespace, **kwargs)

        server._handle_connect = handle_connect
        server._send_packet = send_packet
        server._send_eio_packet = send_eio_packet
        server.disconnect = disconnect
        server._handle_disconnect = handle_disconnect
        manager.pre_connect = pre_connect
        manager.basic_enter_room = basic_enter_room
        manager.basic_leave_room = basic_leave_room
        manager.basic_disconnect = basic_disconnect
        server.start_background_task(self.run)

    def _end_later(self, sid: str, disconnect: Any) -> None:
        self.server.sleep(self.settings.recovery_catch_up_seconds + 2.0)
        if sid in self._ending and self.manager.is_connected(sid, "/"):
            disconnect(sid, "/", ignore_queue=True)
