"""Readers skip payloads nested deeper than MAX_PAYLOAD_DEPTH without parsing them, so the
emitter refuses such data with a clear error before any API call instead of sending an Event
no pod would deliver."""

from __future__ import annotations

from typing import Any

import pytest

from emitter import Emitter, MessageError
from emitter.codec import MAX_PAYLOAD_DEPTH


class NoCalls:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("no API call expected")


def nested(levels: int) -> Any:
    data: Any = 1
    for _ in range(levels):
        data = [data]
    return data


def test_data_nested_past_the_limit_is_refused_with_the_limit_in_the_message():
    notifier = Emitter(api_client=NoCalls(), bus_namespace="bus", channel="pushsvc",  # type: ignore
                       involved_object={"kind": "Pod", "name": "p"})
    with pytest.raises(MessageError, match=f"deeper than {MAX_PAYLOAD_DEPTH} levels"):
        notifier.notify("deep", nested(MAX_PAYLOAD_DEPTH + 1))
