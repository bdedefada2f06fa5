"""Request headers are cached; a 401 with a cached (rotated) token refreshes it and retries once."""

from __future__ import annotations

import time

from emitter import Emitter
from pushsvc.testing.kubeapi import KubeAPI


def test_a_stale_cached_token_is_refreshed_and_the_notification_goes_through(
    kubeapi: KubeAPI,
) -> None:
    emitter = Emitter(bus_namespace="bus", channel="pushsvc", kubeconfig=str(kubeapi.kubeconfig))
    emitter.notify("warm_up", {"n": 0})
    headers, _expires = emitter.api_client._pushsvc_headers  # type: ignore[attr-defined]
    stale = {**headers, "authorization": "Bearer rotated-away"}
    emitter.api_client._pushsvc_headers = (stale, time.monotonic() + 60)  # type: ignore[attr-defined]

    emitter.notify("after_rotation", {"n": 1})

    fresh, _ = emitter.api_client._pushsvc_headers  # type: ignore[attr-defined]
    assert fresh["authorization"] == headers["authorization"]
    assert kubeapi.stats()["creates"] == 2
