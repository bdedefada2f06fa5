"""WebSocket sessions and the upgrade from long-polling (``2probe``/``3probe``, ``5``).

Why a module of its own: the upgrade is where the old layer leaked (defect (a) of issue
21: a WebSocket opened for an upgrade that never sent ``2probe``/``5`` outlived its session
and every per-address bound). Here a pending upgrade is bounded in number
(``max_pending_upgrades``) and time (``upgrade_timeout``), belongs to its session (it closes
when the session does, and the session counts toward the bounds), and completing it flushes
what the polling queue still holds over the WebSocket first: no NOOP goes ahead of queued
packets; the NOOP ``6`` only releases a GET that waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import gevent

from pushsvc.engineio import packets
from pushsvc.engineio.packets import NOOP, PING, PONG, UPGRADE, BadPacket
from pushsvc.engineio.session import Reason, Session
from pushsvc.engineio.websocket import POLICY_VIOLATION, WebSocket, handshake_error

if TYPE_CHECKING:
    from pushsvc.engineio.server import Server

StartResponse = Callable[..., Any]


def _refuse(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=UTF-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


def run_websocket(server: Server, environ: dict[str, Any], start_response: StartResponse,
                  sid: str | None) -> Iterable[bytes]:
    """Serve one WebSocket request to its end (the request's greenlet is the reader)."""
    from pushsvc.engineio.server import DETACHED_KEY, HANDLER_KEY, SOCKET_KEY

    problem = handshake_error(environ)
    if problem is not None:
        return _refuse(start_response, "400 Bad Request", problem)
    sock = environ.get(SOCKET_KEY)
    if sock is None:
        return _refuse(start_response, "400 Bad Request",
                       "WebSocket needs pushsvc's gunicorn worker (pushsvc.engineio.worker)")
    session: Session | None = None
    refused: tuple[int, str] | None = None
    address = ""  # admitted (and used) only for a new session
    if sid is None:
        address, refused = server.admit(environ)
    else:
        session = server.sockets.get(sid)
        if session is None or session.closing or session.closed:
            return _refuse(start_response, "400 Bad Request", "unknown session")
        if session.ws is not None or session.probe is not None:  # accepted, then closed (Node)
            session = None
            sid = "taken"
        if server.admission.pending_upgrades >= server.limits.max_pending_upgrades:
            return _refuse(start_response, "503 Service Unavailable", "too many upgrades")
    environ[DETACHED_KEY] = True
    handler = environ.get(HANDLER_KEY)
    if handler is not None:
        handler.detached = True
    # The WebSocket gets a socket of its own (a dup of the request's, which pywsgi closes when
    # this request returns) and a greenlet of its own, started with a shallow stack: the
    # request's greenlet, pywsgi's handler, its read buffer and parsed headers are all freed,
    # where they used to be held for the life of every WebSocket (issue 21: RSS per idle
    # WebSocket). The gunicorn pool no longer counts it: PUSHSVC_MAX_SESSIONS_TOTAL does.
    try:
        own = sock.dup()
    except OSError:
        return _refuse(start_response, "503 Service Unavailable", "out of file descriptors")
    ws = WebSocket(own, server.limits, lambda: _overflowed(server, ws))
    key = str(environ["HTTP_SEC_WEBSOCKET_KEY"])
    server.keep_environ(environ)
    # Only a new session keeps its request's environ (python-socketio's handlers read it).
    gevent.spawn(_run, server, environ if sid is None else None, key, ws, session, sid,
                 address, refused)
    return []


def _run(server: Server, environ: dict[str, Any] | None, key: str, ws: WebSocket,
         session: Session | None, sid: str | None, address: str,
         refused: tuple[int, str] | None) -> None:
    try:
        _serve_websocket(server, environ, key, ws, session, sid, address, refused)
    finally:
        ws.release()  # no writer may still wait on the socket when it is closed
        ws.sock.close()


def _serve_websocket(server: Server, environ: dict[str, Any] | None, key: str, ws: WebSocket,
                     session: Session | None, sid: str | None, address: str,
                     refused: tuple[int, str] | None) -> None:
    try:
        ws.accept(key)
    except OSError:
        return
    if refused is not None:  # as documented for pushsvc: the upgrade, then a close 1008
        ws.close(POLICY_VIOLATION, refused[1])
    elif sid == "taken":
        ws.close(POLICY_VIOLATION, "this session already has a WebSocket")
        ws.messages(lambda data: None)
    elif session is None:
        assert environ is not None
        _new_session(server, environ, address, ws)
    else:
        _upgrade(server, session, ws)


def _overflowed(server: Server, ws: WebSocket) -> None:
    ws.close_reason = "slow_reader"  # the reader's close says why (the socket is aborted)
    for session in list(server.sockets.values()):
        if session.ws is ws:
            server.slow_reader(session)


def _new_session(server: Server, environ: dict[str, Any], address: str, ws: WebSocket) -> None:
    session = server.open_session(environ, address, "websocket")
    if session is None:
        ws.close(POLICY_VIOLATION, "refused")
        return
    session.ws = ws
    ws.write(packets.ws_frame(server.open_packet(session, []), server.json))
    session.start_heartbeat()
    _read(session, ws)
    session.close(_end_reason(ws), flush=False, why=_why(server, ws))


def _why(server: Server, ws: WebSocket) -> str | None:
    """The log line's words for a limit the WebSocket hit (``None``: the client just left)."""
    limits = server.limits
    return {
        "too_large": f"a message exceeded the hard limit of {limits.max_payload} bytes "
                     "(4 x PUSHSVC_MAX_MESSAGE_BYTES)",
        "too_many_frames": f"a message of more than {limits.max_frames_per_message} frames "
                           "(PUSHSVC_MAX_FRAMES_PER_MESSAGE)",
        "control_frames": "too many PING/PONG frames",
        "slow_reader": f"the client did not read: more than {limits.max_queued_bytes} bytes "
                       "were queued for it (PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT)",
        "bad_frame": "a frame the WebSocket protocol refuses (bad UTF-8 or framing)",
    }.get(ws.close_reason)


def _end_reason(ws: WebSocket) -> str:
    return ws.close_reason or Reason.TRANSPORT_CLOSE


def _read(session: Session, ws: WebSocket) -> None:
    def on_message(data: str | bytes) -> None:
        try:
            if isinstance(data, bytes):
                session.receive(packets.MESSAGE, data)
            else:
                session.receive(*packets.decode_text(data))
        except BadPacket as exc:
            session.close("bad_frame", flush=False, why=str(exc))
    ws.messages(on_message)


def _upgrade(server: Server, session: Session, ws: WebSocket) -> None:
    session.probe = ws
    server.admission.pending_upgrades += 1
    timer = gevent.get_hub().loop.timer(server.limits.upgrade_timeout)
    timer.start(lambda: ws.close(POLICY_VIOLATION, "upgrade timed out"))
    done = False

    def on_message(data: str | bytes) -> None:
        nonlocal done
        if done:
            try:
                if isinstance(data, bytes):
                    session.receive(packets.MESSAGE, data)
                else:
                    session.receive(*packets.decode_text(data))
            except BadPacket as exc:
                session.close("bad_frame", flush=False, why=str(exc))
            return
        if data == f"{PING}probe":
            ws.write(packets.frame_bytes(0x1, f"{PONG}probe".encode()))
            session.probed = True
            session.release_poll(str(NOOP))  # a GET still waiting ends now
        elif data == str(UPGRADE):
            done = True
            _finish_upgrade(server, session, ws, timer)
        elif data == str(PONG):
            session.on_pong()
        else:
            ws.close(POLICY_VIOLATION, "unexpected packet during upgrade")

    try:
        ws.messages(on_message)
    finally:
        if not done:
            timer.close()
            server.admission.pending_upgrades -= 1
            session.probe = None
            session.probed = False
    if done:
        session.close(_end_reason(ws), flush=False, why=_why(server, ws))


def _finish_upgrade(server: Server, session: Session, ws: WebSocket, timer: Any) -> None:
    timer.close()
    server.admission.pending_upgrades -= 1
    session.probe = None
    session.probed = False
    session.transport = "websocket"
    for pkt in session.take_queue():  # what the polling queue held goes first, in order
        ws.write(packets.ws_frame(pkt, server.json))
    session.ws = ws
    session.release_poll(str(NOOP))
