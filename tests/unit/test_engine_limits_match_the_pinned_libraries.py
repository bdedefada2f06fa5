"""pushsvc.engine_limits overrides or relies on these python-engineio / python-socketio /
gevent-websocket internals; an upgrade that changes one of them must be re-checked.

The hashes are of ``inspect.getsource`` of each method as pinned (python-socketio 5.18.*,
python-engineio 4.15.*, gevent-websocket 0.10.*). When one fails: read the new source, check
what the message says still holds, fix ``pushsvc/engine_limits.py`` if it does not, then
update the hash here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

import pytest

# dotted name -> (sha256 prefix of its source, what engine_limits assumes about it)
RELIED_ON: dict[str, tuple[str, str]] = {
    "engineio.base_server.BaseServer.create_queue": (
        "a384470753d50c77", "overridden by _LimitedEngineIOServer.create_queue; still only "
        "used to make each session's send queue"),
    "engineio.base_server.BaseServer._get_socket": (
        "ae2f99e66d632944", "raises KeyError('Session is disconnected') for a closed socket, "
        "which handle_request's POST branch does not catch (_LimitedEngineIOServer answers it)"),
    "engineio.server.Server._handle_connect": (
        "049f7c2b2c239080", "makes the socket, stores it in self.sockets, then triggers "
        "'connect' with (sid, environ); websocket-first calls handle_get_request"),
    "engineio.server.Server.handle_request": (
        "79302edd007fcce6", "a handshake is a GET without sid; POSTs go to "
        "handle_post_request; the guard's WSGI wrapper admits/refuses before this runs"),
    "engineio.base_socket.BaseSocket.__init__": (
        "8532b631a4dc815f", "self.queue = self.server.create_queue() (the bounded queue)"),
    "engineio.socket.Socket.send": (
        "f8b2738ee5d48ab2", "every outgoing packet goes through self.queue.put(pkt)"),
    "engineio.socket.Socket.poll": (
        "d7d705066fd3b948", "packets leave the queue only by queue.get(); None ends the poll"),
    "engineio.socket.Socket.close": (
        "05fac55831999f25", "close(abort=False) puts a CLOSE packet then None in the queue "
        "(the overflowed queue lets those two through) and triggers 'disconnect' once"),
    "engineio.socket.Socket._websocket_handler": (
        "58afe122719282de", "reads with ws.wait() (None ends the connection), the writer "
        "greenlet blocks in ws.send(); the size check is per message, after reading"),
    "engineio.socket.Socket.handle_post_request": (
        "5be8170455a3482c", "reads CONTENT_LENGTH bytes of wsgi.input, decodes UTF-8, "
        "Payload(...); the guard re-checks that body first (polling_payload_ok)"),
    "engineio.packet.Packet.decode": (
        "18e27ff7fd56addd", "raises for an empty text, a non-digit type, bad base64: "
        "engine_frame_ok must refuse exactly those"),
    "engineio.payload.Payload.decode": (
        "9c7975664d815d3d", "'d=' JSONP bodies, \\x1e separators, at most 16 packets: "
        "polling_payload_ok mirrors it"),
    "engineio.async_drivers.gevent.WebSocketWSGI": (
        "d35186ab85c7df5d", "subclassed by _GuardedWebSocketWSGI: __call__(environ, ...) "
        "gets environ['wsgi.websocket'], wait() returns one message"),
    "geventwebsocket.websocket.WebSocket.read_frame": (
        "ab47353ea877d381", "reads each frame's payload with self.raw_read(length) (bounded "
        "by the guard); an exception there becomes a WebSocketError"),
    "geventwebsocket.websocket.WebSocket.receive": (
        "77a160f1e59d90c0", "a WebSocketError (socket.error) ends in close() and None"),
    "socketio.base_server.BaseServer.__init__": (
        "6b998e091b34a563", "registers eio 'connect'/'message'/'disconnect' handlers (wrapped "
        "by the guard), sets engineio async_handlers=False (so 'message' runs in the reader)"),
    "socketio.server.Server._handle_eio_message": (
        "65f309c138d634eb", "wrapped: attachments are collected in self._binary_packet[eio_sid]"
        " until add_attachment() returns True; binary before connect raises ValueError"),
    "socketio.server.Server._handle_disconnect": (
        "fb93d61de8cb8c31", "drops self._binary_packet[eio_sid] on disconnect"),
    "socketio.packet.Packet.decode": (
        "61ad7904b539f472", "overridden by LimitedPacket.decode: returns the announced count "
        "(up to 10 digits), json.loads the rest"),
    "socketio.packet.Packet.add_attachment": (
        "01e024038f3d99f5", "overridden by LimitedPacket.add_attachment: True when complete"),
}


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _assert_unchanged(dotted: str, pins: dict[str, tuple[str, str]], user: str) -> None:
    expected, assumption = pins[dotted]
    source = inspect.getsource(_resolve(dotted))  # type: ignore[arg-type]
    actual = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert actual == expected, (
        f"{dotted} changed in the installed version (hash {actual}, pinned {expected}). "
        f"{user} assumes: {assumption}. Re-check that, fix {user} if it no longer holds, "
        "then update the hash here.")


@pytest.mark.parametrize("dotted", sorted(RELIED_ON))
def test_the_library_code_engine_limits_relies_on_is_unchanged(dotted: str) -> None:
    _assert_unchanged(dotted, RELIED_ON, "pushsvc/engine_limits.py")


def test_the_docstring_of_engine_limits_names_every_method_it_relies_on() -> None:
    from pushsvc import engine_limits

    doc = engine_limits.__doc__ or ""
    short = {d.replace("engineio.server.Server", "engineio.Server")
              .replace("engineio.base_server.BaseServer.create_queue",
                       "engineio.Server.create_queue")
              .replace("socketio.server.Server", "socketio.Server") for d in RELIED_ON}
    missing = sorted(name for name in short if name not in doc)
    assert not missing, f"pushsvc/engine_limits.py's docstring does not name {missing}"


# Relied on by pushsvc/sio/overrides.py (not engine_limits), checked the same way.
HANDLERS_RELY_ON: dict[str, tuple[str, str]] = {
    "socketio.server.Server._handle_connect": (
        "1b0ba130a57d9320", "turns only ConnectionRefusedError into CONNECT_ERROR; any other "
        "exception escapes with the client pre-connected, which "
        "overrides.refuse_connect_on_error refuses and removes"),
}


@pytest.mark.parametrize("dotted", sorted(HANDLERS_RELY_ON))
def test_the_library_code_the_handlers_rely_on_is_unchanged(dotted: str) -> None:
    _assert_unchanged(dotted, HANDLERS_RELY_ON, "pushsvc/sio/overrides.py")


# Replaced or relied on by pushsvc/wsdirect.py (WebSocket writes without a writer greenlet).
WSDIRECT_RELIES_ON: dict[str, tuple[str, str]] = {
    "engineio.socket.Socket._websocket_handler": (
        "58afe122719282de", "replaced by wsdirect.websocket_handler: the same upgrade probe "
        "(PING probe -> PONG probe, NOOP to end the poll, UPGRADE) and reader loop, minus "
        "the writer greenlet; copy any change to it there"),
    "engineio.socket.Socket.send": (
        "f8b2738ee5d48ab2", "checks the ping timeout, then self.queue.put(pkt) (the "
        "DirectWriter writes it at once)"),
    "engineio.socket.Socket.close": (
        "05fac55831999f25", "puts CLOSE (unless abort) then None into the queue, then "
        "queue.join() if wait: None makes the DirectWriter close the WebSocket"),
    "engineio.socket.Socket.poll": (
        "d7d705066fd3b948", "only polling GETs poll the queue, never an upgraded session"),
    "engineio.socket.Socket.handle_get_request": (
        "d45c0d8f98840672", "answers NOOP without poll() once upgrading or upgraded"),
    "engineio.socket.Socket.schedule_ping": (
        "fe316639159cd70d", "replaced per WebSocket session by wsdirect._PingTimer: clears "
        "last_ping, then _send_ping in the background"),
    "engineio.socket.Socket._send_ping": (
        "21861287bd38dedc", "sleeps ping_interval, then (unless closing/closed) sets "
        "last_ping and sends PING: wsdirect._PingTimer does the same from a timer"),
    "engineio.server.Server._handle_connect": (
        "049f7c2b2c239080", "triggers 'connect' (sid, environ) before s.schedule_ping(), so "
        "wsdirect's connect wrapper can swap schedule_ping first"),
    "engineio.packet.Packet.encode": (
        "8f3d5d869711cbb8", "a packet encodes the same every time (str, or bytes for binary "
        "over WebSocket): wsdirect.encode_frame caches its frame on the packet"),
    "socketio.manager.Manager.emit": (
        "566510ea2de39d65", "an emit without callback sends one Engine.IO packet object to "
        "every recipient (so the frame is built once per emit)"),
    "geventwebsocket.websocket.WebSocket.send_frame": (
        "b2937fb4e8f711f0", "writes header + payload with one self.raw_write() call (the "
        "DirectWriter's), raises WebSocketError when closed"),
    "geventwebsocket.websocket.WebSocket.close": (
        "528338fe180af5f4", "writes the close frame through send_frame, then sets closed and "
        "drops raw_write/raw_read"),
    "geventwebsocket.websocket.WebSocket.handle_ping": (
        "7d6c8858129ebed3", "answers a client's ping through send_frame (so raw_write)"),
    "geventwebsocket.websocket.Header.encode_header": (
        "14e5dfd8e3b6d960", "the server's frame header (no mask): encode_frame uses it"),
}


@pytest.mark.parametrize("dotted", sorted(WSDIRECT_RELIES_ON))
def test_the_library_code_wsdirect_replaces_or_relies_on_is_unchanged(dotted: str) -> None:
    _assert_unchanged(dotted, WSDIRECT_RELIES_ON, "pushsvc/wsdirect.py")


def test_the_docstring_of_wsdirect_names_every_method_it_replaces() -> None:
    from pushsvc import wsdirect

    doc = wsdirect.__doc__ or ""
    replaced = ["engineio.socket.Socket._websocket_handler", "engineio.socket.Socket.send",
                "engineio.socket.Socket.close", "engineio.socket.Socket.poll",
                "engineio.socket.Socket.schedule_ping", "engineio.socket.Socket._send_ping",
                "geventwebsocket.websocket.WebSocket.send_frame",
                "geventwebsocket.websocket.Header.encode_header"]
    missing = [name for name in replaced if name not in doc]
    assert not missing, f"pushsvc/wsdirect.py's docstring does not name {missing}"


# Wrapped or overridden by connection state recovery (pushsvc/recovery/, and
# KubernetesManager.emit/close_room/_listen in pushsvc/bus/manager.py).
RECOVERY_RELIES_ON: dict[str, tuple[str, str]] = {
    "socketio.server.Server._handle_connect": (
        "1b0ba130a57d9320", "pre_connect (a new sid from eio.generate_id) runs before the "
        "connect handler; CONNECT {'sid'} goes out through self._send_packet after it"),
    "socketio.server.Server._send_packet": (
        "3289b949be8cbb76", "every Socket.IO packet of one client, the CONNECT reply too"),
    "socketio.server.Server._send_eio_packet": (
        "5fa452fb118c3565", "Manager.emit sends each recipient's copy of an ack-less EVENT "
        "through it, in the caller's greenlet (where pushsvc.bus.contract.DELIVERING is set)"),
    "socketio.server.Server.disconnect": (
        "a348aff17b8e892e", "a server-side disconnect ends in manager.disconnect, so "
        "basic_disconnect sees it while the sid is being ended"),
    "socketio.server.Server._handle_disconnect": (
        "fb93d61de8cb8c31", "a client's DISCONNECT packet arrives here with reason "
        "CLIENT_DISCONNECT while its Engine.IO socket is open; a closing Engine.IO "
        "connection calls it from _handle_eio_disconnect with the socket already closing"),
    "socketio.base_manager.BaseManager.pre_connect": (
        "bfdba4c0c8f1bd8a", "takes the new sid from self.server.eio.generate_id() and puts "
        "it in the None room and its own sid room"),
    "socketio.base_manager.BaseManager.basic_enter_room": (
        "3f509586d2d7f47e", "every room a client enters goes through it"),
    "socketio.base_manager.BaseManager.basic_leave_room": (
        "e27f3eea06d1c6a6", "every room a client leaves goes through it"),
    "socketio.base_manager.BaseManager.basic_disconnect": (
        "2933b50bc4b2ea7b", "every disconnect ends here, with the sid still in its rooms"),
    "socketio.base_manager.BaseManager.basic_close_room": (
        "1d81a80fe1cac5a5", "close_room leaves each member with basic_leave_room"),
    "socketio.manager.Manager.emit": (
        "566510ea2de39d65", "a tuple becomes the arguments; an ack-less EVENT is encoded once "
        "and sent with server._send_eio_packet to each participant"),
    "socketio.pubsub_manager.PubSubManager.emit": (
        "d26eb5218961eb56", "builds the message with 'data' as a list (binary: placeholders, "
        "then base64 attachments), applies it with self._handle_emit, then self._publish; "
        "KubernetesManager builds a recoverable emit's message the same way, only published"),
    "socketio.pubsub_manager.PubSubManager.close_room": (
        "41fbb073b501543c", "the message it publishes; with recovery KubernetesManager "
        "publishes the same one without applying it (applied when it comes back)"),
    "socketio.pubsub_manager.PubSubManager._handle_emit": (
        "f1fb64e2d84161f6", "the message's 'data' list becomes the arguments (binary: "
        "placeholders first, then base64 attachments): an offset appended is the last one"),
    "socketio.pubsub_manager.PubSubManager._thread": (
        "ecce2e6d100101a4", "handles each message _listen yields before asking for the "
        "next, in the listener's greenlet; skips those whose host_id is this host's"),
}


@pytest.mark.parametrize("dotted", sorted(RECOVERY_RELIES_ON))
def test_the_library_code_recovery_relies_on_is_unchanged(dotted: str) -> None:
    _assert_unchanged(dotted, RECOVERY_RELIES_ON, "pushsvc/recovery/")


def test_the_docstring_of_recovery_names_every_method_it_wraps() -> None:
    from pushsvc import recovery

    doc = " ".join((recovery.__doc__ or "").split())
    missing = sorted(d for d in RECOVERY_RELIES_ON
                     if ".".join(d.split(".")[-2:]) not in doc)
    assert not missing, f"pushsvc/recovery/__init__.py's docstring does not name {missing}"


# Relied on by emitter/rawhttp.py's lean create (the connection taken from and given back to
# urllib3's own pool), checked the same way; the dev extra pins urllib3 2.8.*.
EMITTER_RELIES_ON: dict[str, tuple[str, str]] = {
    "urllib3.connectionpool.HTTPConnectionPool._get_conn": (
        "78fb22fdf2f90a26", "returns a pooled connection (a dropped one reset, or a new one), "
        "blocking while the pool is full; the caller gives it back with _put_conn"),
    "urllib3.connectionpool.HTTPConnectionPool._put_conn": (
        "f4b8abb8b95650c7", "puts a connection (or None, freeing the slot) back in the pool"),
}


@pytest.mark.parametrize("dotted", sorted(EMITTER_RELIES_ON))
def test_the_library_code_the_emitter_relies_on_is_unchanged(dotted: str) -> None:
    _assert_unchanged(dotted, EMITTER_RELIES_ON, "emitter/rawhttp.py")
