"""Through the shipped HAProxy config, clients from distinct addresses spread over the pods
and every request of a long-polling session reaches the same pod.

Where each client landed is read from HAProxy's access log (source address → server)
and from the SERVERID cookie HAProxy gave the client.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pushsvc.testing.topology import LocalTopology
from tests.deploy.clients import echo_round_trips, polling_client, servers_by_source
from tests.deploy.conftest import REPO_ROOT, SOURCES, require_tool


def test_python_polling_clients_from_distinct_addresses_land_on_different_pods_and_stay(
    memory_topology: LocalTopology,
) -> None:
    cookies: dict[str, str] = {}
    clients = [polling_client(ip) for ip in SOURCES]
    try:
        for ip, client in zip(SOURCES, clients, strict=True):
            client.connect(memory_topology.url)
            assert client.transport == "polling"
            cookies[ip] = client.sio.eio.http.cookies.get("SERVERID")
        for ip, client in zip(SOURCES, clients, strict=True):
            echo_round_trips(client, 3, tag=ip)
    finally:
        for client in clients:
            client.close()

    landed = servers_by_source(memory_topology.haproxy_log())
    for ip in SOURCES:
        assert len(set(landed[ip])) == 1, f"{ip} moved between pods: {landed[ip]}"
        assert len(landed[ip]) >= 4  # handshake, connect POST, echo POSTs, long-poll GETs
    assert len({landed[ip][0] for ip in SOURCES}) >= 2, landed
    # The cookie each client holds names the pod its requests went to.
    names = memory_topology.server_names
    for ip in SOURCES:
        assert cookies[ip] is not None
        assert names[memory_topology.pod_for_cookie(cookies[ip])] == landed[ip][0]


NODE_CLIENTS = Path(__file__).with_name("node_clients.js")


def _run_node(package: str, url: str, sources: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [require_tool("node"), str(NODE_CLIENTS), package, url, *sources],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_node_clients_3_and_4_from_distinct_addresses_stay_on_one_pod_each(
    memory_topology: LocalTopology,
) -> None:
    # Node socket.io-client keeps no cookies: `balance source` alone keeps it sticky.
    v4 = SOURCES[:4]
    v3 = SOURCES[4:]
    for package, sources in (("socket.io-client", v4), ("socket.io-client-3", v3)):
        results = _run_node(package, memory_topology.url, sources)
        for ip in sources:
            assert results[ip] == [f"{ip}-0", f"{ip}-1", f"{ip}-2"], results
    landed = servers_by_source(memory_topology.haproxy_log())
    for ip in SOURCES:
        assert len(set(landed[ip])) == 1, f"{ip} moved between pods: {landed[ip]}"
