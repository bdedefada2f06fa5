"""Clients that reach HAProxy from chosen loopback source addresses, and HAProxy log parsing.

``balance source`` and the SERVERID cookie are only observable with several client
addresses: on Linux every 127.0.0.0/8 address is local, so a socket bound to
127.0.0.3 connects from there. The HAProxy access log (option httplog) says, for
every request, which source address went to which server: the independent record
of where each client landed.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import defaultdict
from typing import Any

import requests
import socketio
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager

from tests.support import RecordingClient

_LOG_RE = re.compile(
    r"^(?P<ip>\d+\.\d+\.\d+\.\d+):\d+ \[[^\]]+\] fe_pushsvc be_pushsvc/(?P<server>\S+) "
    r"\S+ (?P<status>-?\d+) "
)


class _SourceAdapter(HTTPAdapter):
    """Sends each request from the next of ``sources`` (one address = a plain bound session)."""

    def __init__(self, sources: list[str]) -> None:
        self._sources = sources
        self._lock = threading.Lock()
        self._pools: list[PoolManager] = []
        self._cycle: Any = None
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        self._pools = [
            PoolManager(num_pools=connections, maxsize=maxsize, block=block,
                        source_address=(ip, 0), **pool_kwargs)
            for ip in self._sources
        ]
        self._cycle = itertools.cycle(self._pools)
        self.poolmanager = self._pools[0]

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.poolmanager = next(self._cycle)
        return super().send(request, *args, **kwargs)

    def close(self) -> None:
        for pool in self._pools:
            pool.clear()


def source_session(*sources: str) -> requests.Session:
    """A requests session whose requests leave from ``sources`` in turn (keeps cookies)."""
    session = requests.Session()
    adapter = _SourceAdapter(list(sources))
    session.mount("http://", adapter)
    return session


def polling_client(*sources: str, reconnection: bool = False) -> RecordingClient:
    """A long-polling python-socketio client sending from ``sources``."""
    return RecordingClient(
        transports=["polling"], reconnection=reconnection, http_session=source_session(*sources)
    )


def servers_by_source(haproxy_log: str) -> dict[str, list[str]]:
    """Source address → the HAProxy server of each of its requests, in order."""
    seen: dict[str, list[str]] = defaultdict(list)
    for line in haproxy_log.splitlines():
        m = _LOG_RE.match(line)
        if m and m["server"] != "<NOSRV>":
            seen[m["ip"]].append(m["server"])
    return dict(seen)


def statuses(haproxy_log: str) -> list[int]:
    """HTTP status of every logged request to the pushsvc backend."""
    return [int(m["status"]) for line in haproxy_log.splitlines() if (m := _LOG_RE.match(line))]


def echo_round_trips(client: RecordingClient, count: int, tag: str, timeout: float = 15) -> None:
    """Send ``count`` echoes and wait for each (several long-poll cycles on one session)."""
    for i in range(count):
        client.emit("my_event", {"data": f"{tag}-{i}"})
        client.wait_for_reply(f"{tag}-{i}", timeout=timeout)


def session_works(client: RecordingClient, url: str, *, echoes: int = 4) -> bool:
    """Connect and do ``echoes`` round trips; False if any step fails (a broken session)."""
    try:
        client.connect(url, wait_timeout=5)
        echo_round_trips(client, echoes, tag="probe", timeout=5)
    except (socketio.exceptions.ConnectionError, AssertionError):
        return False
    return True


def abandon(client: RecordingClient) -> None:
    """Close a client whose session may be broken without waiting for its pending long-poll."""
    client.sio.eio.disconnect(abort=True)
    client.close()
