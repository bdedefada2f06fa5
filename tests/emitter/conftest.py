"""Fixtures for emitter tests: an API client that must never be called."""

from __future__ import annotations

from typing import Any

import pytest

from emitter import Emitter


class NoCallsClient:
    """Stands in for kubernetes.client.ApiClient where no request may be made."""

    def param_serialize(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an API request was prepared")

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an API call was made")

    @property
    def configuration(self) -> Any:
        raise AssertionError("an API request was prepared")

    @property
    def rest_client(self) -> Any:
        raise AssertionError("an API call was made")


@pytest.fixture
def offline_emitter() -> Emitter:
    return Emitter(api_client=NoCallsClient(), namespace="bus", channel="pushsvc",  # type: ignore[arg-type]
                   involved_object={"kind": "Pod", "name": "job-pod"})
