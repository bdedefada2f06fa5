"""Engine.IO sessions are bounded per client address and in total, handshakes by a rate.

A bare polling handshake made a ~13 KiB session kept until its ping timeout, ~1,400/s over
one keep-alive connection, and PUSHSVC_WORKER_CONNECTIONS did not bound them. Now a refused
handshake gets HTTP 429 (per address) or 503 (in total) with a short plain-text reason.
The address is the peer's; X-Forwarded-For counts only from PUSHSVC_TRUSTED_PROXIES.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.probes import metric
from tests.support.raw_engineio import HandshakeRefused, RawPolling, RawWebSocket

REFUSED = "pushsvc_engine_refused_handshakes_total"


@pytest.fixture(scope="module")
def per_address(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = {"PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "5", "PUSHSVC_MAX_SESSIONS_TOTAL": "8"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc


def _fill(url: str, count: int, **kwargs: object) -> list[RawPolling]:
    sessions = []
    for _ in range(count):
        session = RawPolling(url, **kwargs)  # type: ignore[arg-type]
        session.handshake()
        sessions.append(session)
    return sessions


def _close_all(sessions: list[RawPolling]) -> None:
    for session in sessions:
        session.close()


def test_handshakes_past_the_per_address_cap_are_refused_while_another_address_connects(
    per_address: PushsvcProcess,
) -> None:
    before = metric(per_address.url, REFUSED, reason="sessions_per_address")
    sessions = _fill(per_address.url, 5)
    try:
        refused = RawPolling(per_address.url).handshake_response()
        assert refused.status_code == 429
        assert refused.text == "too many sessions from this address"
        with RawPolling(per_address.url, source_address="127.0.0.3") as other:
            other.sio_connect()
        # A WebSocket handshake from the full address is refused too (a close frame).
        with RawWebSocket(per_address.url) as ws, pytest.raises(HandshakeRefused):
            ws.handshake()
        # A forged X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
        forged = RawPolling(per_address.url, headers={"X-Forwarded-For": "10.9.8.7"})
        assert forged.handshake_response().status_code == 429
    finally:
        _close_all(sessions)
    assert metric(per_address.url, REFUSED, reason="sessions_per_address") >= before + 3
    lines = [ln for ln in per_address.read_log().splitlines()
             if "refused Engine.IO handshakes from 127.0.0.1: sessions_per_address" in ln]
    assert len(lines) == 1


def test_closed_sessions_give_their_place_back(per_address: PushsvcProcess) -> None:
    _close_all(_fill(per_address.url, 5))
    _close_all(_fill(per_address.url, 5))


def test_past_the_total_cap_every_address_gets_503_and_a_client_sees_connect_error(
    per_address: PushsvcProcess,
) -> None:
    sessions = _fill(per_address.url, 5) + _fill(per_address.url, 3, source_address="127.0.0.4")
    try:
        refused = RawPolling(per_address.url, source_address="127.0.0.5").handshake_response()
        assert refused.status_code == 503
        assert "session limit" in refused.text
        client = RecordingClient(transports=["polling"])
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(per_address.url)
        client.close()
    finally:
        _close_all(sessions)


def test_handshakes_faster_than_the_rate_are_refused(server_logs: Path) -> None:
    # The bucket holds 5 s of the rate, at least one handshake: here one, never refilled.
    env = {"PUSHSVC_HANDSHAKES_PER_SECOND_PER_ADDRESS": "0.01"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        sessions = _fill(proc.url, 1)
        try:
            # One keep-alive connection, as the attack did.
            refused = sessions[-1].handshake_response()
            assert refused.status_code == 429
            assert "too many handshakes" in refused.text
            assert metric(proc.url, REFUSED, reason="handshake_rate") == 1
            with RawPolling(proc.url, source_address="127.0.0.3") as other:
                other.handshake()
        finally:
            _close_all(sessions)


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_limited(
    server_logs: Path,
) -> None:
    env = {"PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "3", "PUSHSVC_TRUSTED_PROXIES": "127.0.0.1/32"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        browser_a = {"X-Forwarded-For": "203.0.113.7"}
        sessions = _fill(proc.url, 3, headers=browser_a)
        try:
            assert RawPolling(proc.url, headers=browser_a).handshake_response().status_code == 429
            # Another browser behind the same proxy, and one that prepends a forged hop.
            _close_all(_fill(proc.url, 1, headers={"X-Forwarded-For": "203.0.113.8"}))
            spoof = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
            assert RawPolling(proc.url, headers=spoof).handshake_response().status_code == 429
            # An untrusted peer's header is ignored: it is limited by its own address.
            untrusted = _fill(proc.url, 3, source_address="127.0.0.6", headers=browser_a)
            _close_all(untrusted)
        finally:
            _close_all(sessions)
        assert "refused Engine.IO handshakes from 203.0.113.7" in proc.read_log()
