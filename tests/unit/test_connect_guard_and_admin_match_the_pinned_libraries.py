"""pushsvc.sio.connect_guard and pushsvc.web.admin rely on these python-socketio internals; an
upgrade that changes one of them must be re-checked (hashes of ``inspect.getsource`` as
pinned, python-socketio 5.18.*). When one fails: read the new source, check that what the
message says still holds, fix the module if it does not, then update the hash here."""

from __future__ import annotations

import hashlib
import inspect

import pytest
import socketio.admin
import socketio.base_manager
import socketio.server

# dotted name -> (object, sha256 prefix of its source, what pushsvc assumes about it)
RELIED_ON: dict[str, tuple[object, str, str]] = {
    "socketio.server.Server._handle_connect": (
        socketio.server.Server._handle_connect, "1b0ba130a57d9320",
        "connect_guard: runs synchronously; a CONNECT is accepted exactly when, afterwards, "
        "manager.sid_from_eio_sid(eio_sid, ns) is a new sid that manager.is_connected; a "
        "refusal sends CONNECT_ERROR through self._send_packet"),
    "socketio.base_manager.BaseManager.pre_connect": (
        socketio.base_manager.BaseManager.pre_connect, "bfdba4c0c8f1bd8a",
        "connect_guard: a second CONNECT to a namespace already connected returns None (so "
        "the same sid stays: counted as a refusal)"),
    "socketio.admin.InstrumentedServer.admin_connect": (
        socketio.admin.InstrumentedServer.admin_connect, "bba05d4509257079",
        "admin: replaced by _PushsvcInstrumentedServer.admin_connect (login check, then "
        "config and, in development mode, all_sockets to the admin); copy any change there"),
    "socketio.admin.InstrumentedServer.instrument": (
        socketio.admin.InstrumentedServer.instrument, "13a68a5c75c17519",
        "admin: registers self.admin_connect for 'connect' on the admin namespace and, in "
        "development mode, replaces manager.emit (pushsvc wraps it after, masking every "
        "admin-namespace emit)"),
    "socketio.admin.InstrumentedServer.__init__": (
        socketio.admin.InstrumentedServer.__init__, "e99a7d48687233d9",
        "admin: self.event_buffer is the EventBuffer server_stats report, made before "
        "instrument(); pushsvc's engine pushes its traffic to it"),
    "socketio.admin.EventBuffer.push": (
        socketio.admin.EventBuffer.push, "ad274903d3965e8a",
        "admin: push(type, count=1) adds count to this second's entry of that type "
        "(packetsIn/Out, bytesIn/Out)"),
    "socketio.admin.InstrumentedServer._emit_server_stats": (
        socketio.admin.InstrumentedServer._emit_server_stats, "1dc2e6877d80ce3a",
        "admin: each server_stats carries event_buffer.get_and_clear() as aggregatedEvents"),
}


@pytest.mark.parametrize("dotted", sorted(RELIED_ON))
def test_the_library_code_connect_guard_and_admin_rely_on_is_unchanged(dotted: str) -> None:
    obj, expected, assumption = RELIED_ON[dotted]
    actual = hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]  # type: ignore[arg-type]
    assert actual == expected, (
        f"{dotted} changed in the installed version (hash {actual}, pinned {expected}). "
        f"pushsvc assumes: {assumption}. Re-check that, fix the module if it no longer "
        "holds, then update the hash here.")
