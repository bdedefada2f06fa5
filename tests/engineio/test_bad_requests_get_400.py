"""Requests the protocol does not allow get HTTP 400: no or another ``EIO`` than 4, no or an
unknown transport, a handshake by POST or PUT, an unknown sid (engine.io-protocol README)."""

from __future__ import annotations

import pytest
import requests

from tests.engineio.conftest import AppServer


@pytest.mark.parametrize("query", [
    "transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling",
    "EIO=4", "EIO=4&transport=abc", "EIO=4&transport=polling&sid=nosuchsession",
])
def test_a_bad_query_gets_400(echo: AppServer, query: str) -> None:
    assert requests.get(f"{echo.url}/engine.io/?{query}", timeout=10).status_code == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_handshake_by_another_method_than_get_gets_400(echo: AppServer, method: str) -> None:
    response = requests.request(method, f"{echo.url}/engine.io/?EIO=4&transport=polling",
                                timeout=10)
    assert response.status_code == 400
