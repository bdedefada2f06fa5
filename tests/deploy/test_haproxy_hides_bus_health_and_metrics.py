"""Through the shipped HAProxy config, /internal/ and /metrics are not reachable from outside
(however the path is spelled), while /readyz and the app are; on the pod itself, from
loopback, /internal/health answers."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from pushsvc.testing.topology import LocalTopology


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> int:
    """GET with the path sent exactly as written (no client-side normalisation)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/internal/health", "/metrics", "//internal/health", "/%69nternal/health",
    "/INTERNAL/health", "/metrics?x=1", "/%6detrics", "/internal/",
])
def test_private_paths_are_denied_at_the_load_balancer(memory_topology: LocalTopology,
                                                        path: str) -> None:
    assert raw_get(memory_topology.url, path) == 404


def test_public_paths_still_pass_and_the_pod_answers_its_own_probes(
    memory_topology: LocalTopology,
) -> None:
    assert raw_get(memory_topology.url, "/readyz") == 200
    assert raw_get(memory_topology.url, "/healthz") == 200
    pod = memory_topology.pods[0].url
    assert raw_get(pod, "/internal/health") == 200
    assert raw_get(pod, "/metrics") == 200
    # As HAProxy forwards it (option forwardfor), even a loopback peer is refused.
    assert raw_get(pod, "/internal/health", {"X-Forwarded-For": "198.51.100.1"}) == 403
