"""Refused CONNECTs are budgeted per Engine.IO connection and per client address (JWT mode).

The issue: on one WebSocket, 2,000 bad JWTs in 1.7 s, each verified and each logged, and
nothing stopped a client from trying again and again. Now, over raw WebSocket frames (and
long-polling payloads) against a real pod: a connection is closed after
PUSHSVC_CONNECT_REFUSALS_PER_CONNECTION (5) refusals, with ``too_many_attempts`` as the last
answer; an address that spends
PUSHSVC_CONNECT_REFUSALS_PER_ADDRESS (100) over many sockets is locked out: its CONNECTs,
even a good one, are refused unchecked with a ``retry_after``, while another address still
connects. One log line per connection and reason, one per lockout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.support import PushsvcProcess, start_pushsvc, wait_until
from tests.support.probes import metric
from tests.support.raw_engineio import RawPolling, RawWebSocket
from tests.support.tokens import Tokens, jwt_env

TOKENS = Tokens()
BAD = {"token": TOKENS.mint("mallory", key="not-the-server-secret-" + "x" * 32)}
REFUSED = "pushsvc_refused_connections_total"
#: The default budgets, but refilling and unlocking too slowly to matter during a test (so
#: the counts below do not depend on how fast this machine runs it).
SLOW_CLOCK = {"PUSHSVC_CONNECT_REFUSAL_WINDOW_SECONDS": "86400",
              "PUSHSVC_CONNECT_LOCKOUT_SECONDS": "600"}


@pytest.fixture(scope="module")
def jwt_pod(server_logs: Path) -> Iterator[PushsvcProcess]:
    with start_pushsvc(env=jwt_env(**SLOW_CLOCK), log_dir=server_logs) as proc:
        yield proc


def _answer(ws: RawWebSocket) -> dict[str, Any] | None:
    """The CONNECT answer's data (``44`` = refused), or None once the server closed (or
    answers nothing more)."""
    try:
        frame = ws.recv_until(lambda f: isinstance(f, str) and f[:2] in ("40", "44"))
    except (AssertionError, websocket.WebSocketTimeoutException):
        return None
    return {"refused": frame.startswith("44"), **json.loads(frame[2:] or "{}")}


def _log_lines(proc: PushsvcProcess, *needles: str) -> list[str]:
    return [line for line in proc.read_log().splitlines() if all(n in line for n in needles)]


def test_two_thousand_bad_connects_on_one_websocket_close_it_after_five(jwt_pod) -> None:
    logged_before = len(_log_lines(jwt_pod, "refused connection", "token_invalid"))
    closed_before = metric(jwt_pod.url, "pushsvc_engine_closed_connections_total",
                           reason="too_many_attempts")
    answers = []
    with RawWebSocket(jwt_pod.url, source_address="127.0.0.6") as ws:
        ws.handshake()
        for _ in range(2000):  # one after the other, each answer read
            try:
                ws.send_text("40" + json.dumps(BAD))
            except OSError:
                break
            answer = _answer(ws)
            if answer is None:
                break
            answers.append(answer)
    codes = [a.get("message") for a in answers]
    assert all(a["refused"] for a in answers)
    assert codes == ["token_invalid"] * 5 + ["too_many_attempts"], codes[:10]
    assert "refused on this connection" in answers[-1]["data"]["reason"]
    assert metric(jwt_pod.url, "pushsvc_engine_closed_connections_total",
                  reason="too_many_attempts") == closed_before + 1
    # One line for the refusals, one for the close: not one per packet.
    assert len(_log_lines(jwt_pod, "refused connection", "token_invalid")) == logged_before + 1


def test_two_thousand_pipelined_bad_connects_are_checked_five_times(jwt_pod) -> None:
    checked_before = metric(jwt_pod.url, REFUSED, reason="token_invalid")
    logged_before = len(_log_lines(jwt_pod, "refused connection", "token_invalid"))
    with RawWebSocket(jwt_pod.url, source_address="127.0.0.13") as ws:
        ws.handshake()
        for _ in range(2000):  # as fast as the socket takes them, answers unread
            try:
                ws.send_text("40" + json.dumps(BAD))
            except OSError:
                break
        # Answers still unread when the server closes may be lost with the connection (a
        # reset): count on the server's side.
        assert ws.closed_by_server()
    assert metric(jwt_pod.url, REFUSED, reason="token_invalid") == checked_before + 5
    assert len(_log_lines(jwt_pod, "refused connection", "token_invalid")) == logged_before + 1


def test_over_long_polling_the_answer_comes_first_then_the_session_ends(jwt_pod) -> None:
    with RawPolling(jwt_pod.url, source_address="127.0.0.11") as polling:
        polling.handshake()
        codes = []
        for _ in range(10):
            polling.post("40" + json.dumps(BAD))
            [answer] = [p for p in polling.get_until(lambda p: p.startswith("44"))
                        if p.startswith("44")]
            codes.append(json.loads(answer[2:])["message"])
            if codes[-1] == "too_many_attempts":
                break
        assert codes == ["token_invalid"] * 5 + ["too_many_attempts"]
        # The session is closed after that answer was polled (GETs are then refused).
        wait_until(lambda: polling.get() == [], what="the long-polling session to end")


def test_many_sockets_from_one_address_lock_it_out_while_another_connects(jwt_pod) -> None:
    attacker, bystander = "127.0.0.7", "127.0.0.8"
    logged_before = len(_log_lines(jwt_pod, "refused connection", "token_invalid"))
    codes: list[str] = []
    retry_after = None
    for _ in range(30):  # 4 bad CONNECTs per socket: under the per-connection limit
        with RawWebSocket(jwt_pod.url, source_address=attacker) as ws:
            ws.handshake()
            for _ in range(4):
                ws.send_text("40" + json.dumps(BAD))
                answer = _answer(ws)
                assert answer is not None and answer["refused"]
                codes.append(answer["message"])
                if answer["message"] == "too_many_attempts":
                    retry_after = answer["data"]["retry_after"]
    assert codes.count("token_invalid") == 100  # PUSHSVC_CONNECT_REFUSALS_PER_ADDRESS
    assert codes[100:] == ["too_many_attempts"] * 20
    assert isinstance(retry_after, int) and 1 <= retry_after <= 600
    good = {"token": TOKENS.mint("alice")}
    with RawWebSocket(jwt_pod.url, source_address=attacker) as ws:
        ws.handshake()
        ws.send_text("40" + json.dumps(good))
        answer = _answer(ws)
        assert answer is not None and answer["message"] == "too_many_attempts"
    with RawWebSocket(jwt_pod.url, source_address=bystander) as ws:
        assert "sid" in ws.sio_connect(auth=good)
    assert metric(jwt_pod.url, "pushsvc_connect_lockouts_total", kind="client") == 1
    assert metric(jwt_pod.url, REFUSED, reason="too_many_attempts") >= 21
    assert len(_log_lines(jwt_pod, "locked out CONNECTs from 127.0.0.7")) == 1
    # One line per connection and reason (25 connections were checked), none per packet.
    assert len(_log_lines(jwt_pod, "refused connection", "token_invalid")) == logged_before + 25


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_locked_out(
    server_logs: Path,
) -> None:
    env = jwt_env(PUSHSVC_TRUSTED_PROXIES="127.0.0.1/32", PUSHSVC_CONNECT_REFUSALS_PER_ADDRESS="3",
                  **SLOW_CLOCK)
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        browser_a = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(3):
            with RawWebSocket(proc.url, headers=browser_a) as ws:
                ws.handshake()
                ws.send_text("40" + json.dumps(BAD))
                assert (_answer(ws) or {}).get("message") == "token_invalid"
        good = {"token": TOKENS.mint("alice")}
        with RawWebSocket(proc.url, headers=browser_a) as ws:
            ws.handshake()
            ws.send_text("40" + json.dumps(good))
            assert (_answer(ws) or {}).get("message") == "too_many_attempts"
        # Another browser behind the same proxy is not locked out with it.
        with RawWebSocket(proc.url, headers={"X-Forwarded-For": "203.0.113.8"}) as ws:
            assert "sid" in ws.sio_connect(auth=good)
        assert "locked out CONNECTs from 203.0.113.7" in proc.read_log()
