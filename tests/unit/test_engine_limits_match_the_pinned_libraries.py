"""pushsvc overrides or relies on these python-socketio internals (and the emitter on two of
urllib3's); an upgrade that changes one of them must be re-checked. Nothing of
python-engineio or gevent-websocket is used any more: pushsvc runs its own engine.

The hashes are of ``inspect.getsource`` of each method as pinned (python-socketio 5.18.*,
urllib3 2.8.*). When one fails: read the new source, check what the message says still
holds, fix the module named if it does not, then update the hash. The Socket.IO layer's pins
sit beside its overrides (``pushsvc.engineio.sio.PINS``); the others are listed here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

import pytest

from pushsvc.engineio import sio


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


@pytest.mark.parametrize("dotted", sorted(sio.PINS))
def test_the_library_code_the_socketio_layer_overrides_or_relies_on_is_unchanged(
    dotted: str,
) -> None:
    _assert_unchanged(dotted, sio.PINS, "pushsvc/engineio/sio.py")


def test_the_docstring_of_the_socketio_layer_names_every_method_it_overrides() -> None:
    doc = " ".join((sio.__doc__ or "").split())
    short = {d.replace("socketio.server.Server", "socketio.Server") for d in sio.PINS}
    missing = sorted(name for name in short if ".".join(name.split(".")[-2:]) not in doc)
    assert not missing, f"pushsvc/engineio/sio.py's docstring does not name {missing}"


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
