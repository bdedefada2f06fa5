"""Admission of Engine.IO sessions: per source address, in total, and handshakes per second.

Why here and not in a WSGI wrapper: the engine knows when a session really ends (a ping
timeout, a closed WebSocket, a pending upgrade that never finished), so the counts it keeps
cannot drift from the sessions it holds. The address is the peer's, or X-Forwarded-For's
last hop when the peer is a configured trusted proxy (else a client could forge it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

_BUCKETS_PRUNE_AT = 10000
ADDRESS_KEY = "pushsvc.client_address"  # the handshake's client address, in its environ
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limits:
    """Every bound of the engine; ``pushsvc.engineio.sio`` fills it from ``Settings``."""

    max_payload: int = 1_000_000
    max_sessions_total: int = 10000
    max_sessions_per_address: int = 50
    handshakes_per_second: float = 5.0
    handshake_burst: int = 20
    max_queued_bytes: int = 4_000_000
    max_frames_per_message: int = 256
    max_pending_upgrades: int = 1000
    upgrade_timeout: float = 10.0
    control_frames_per_second: float = 20.0
    control_frames_burst: int = 50
    max_packets_per_payload: int = 16
    trusted_proxies: tuple[Network, ...] = field(default_factory=tuple)


def client_address(environ: dict[str, Any], trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer's, or the X-Forwarded-For hop a trusted proxy saw.

    X-Forwarded-For is read right to left, skipping trusted proxies; the first untrusted
    hop is the client. A peer that is not trusted could have written any header: ignored;
    a hop that is not an address stops trust at the last good one.
    """
    peer = str(environ.get("REMOTE_ADDR") or "?")
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
    address = peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # garbage left of a trusted hop: trust stops there
        address = hop
        if not _is_trusted(hop, trusted):
            return hop
    return address


def address_of(environ: dict[str, Any]) -> str:
    """The client address the handshake admission found for this Engine.IO session (see
    :func:`client_address`); the peer's if the session did not pass the admission."""
    return str(environ.get(ADDRESS_KEY) or environ.get("REMOTE_ADDR") or "?")


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class Admission:
    """Session counts per address and in total, and a token bucket of handshakes per address."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.per_address: dict[str, int] = {}
        self.total = 0
        self.pending_upgrades = 0
        self._buckets: dict[str, tuple[float, float]] = {}

    def refusal(self, address: str, now: float) -> tuple[int, str, str] | None:
        """``None`` to admit a handshake, else ``(HTTP status, metric reason, text)``; takes
        a token. The reasons are those of ``pushsvc_engine_refused_handshakes_total``."""
        limits = self.limits
        if self.total >= limits.max_sessions_total:
            return 503, "sessions_total", "server is at its session limit; retry later"
        if self.per_address.get(address, 0) >= limits.max_sessions_per_address:
            return 429, "sessions_per_address", "too many sessions from this address"
        tokens, then = self._buckets.get(address, (float(limits.handshake_burst), now))
        tokens = min(float(limits.handshake_burst),
                     tokens + (now - then) * limits.handshakes_per_second)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return 429, "handshake_rate", "too many handshakes from this address; slow down"
        if len(self._buckets) >= _BUCKETS_PRUNE_AT:
            self._prune(now)
        self._buckets[address] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float) -> None:
        full = float(self.limits.handshake_burst) / max(self.limits.handshakes_per_second, 1e-9)
        self._buckets = {a: b for a, b in self._buckets.items() if now - b[1] < full}

    def add(self, address: str) -> None:
        self.total += 1
        self.per_address[address] = self.per_address.get(address, 0) + 1

    def remove(self, address: str) -> None:
        self.total -= 1
        left = self.per_address.get(address, 1) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)


class TokenBucket:
    """A small token bucket (control frames of one WebSocket)."""

    __slots__ = ("rate", "burst", "tokens", "then")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.then = rate, float(burst), float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.then) * self.rate)
        self.then = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
