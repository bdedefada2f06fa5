"""pushsvc's WebSocket unmasking gives exactly what gevent-websocket's loop gives."""

from __future__ import annotations

import hashlib
import inspect
import os

import pytest
from geventwebsocket.websocket import Header

import pushsvc.worker  # noqa: F401  (installs the fast unmasking)

# sha256 prefix of gevent-websocket 0.10.1's Header.mask_payload, replaced by pushsvc.worker
STOCK_MASK_PAYLOAD = "fe34a4e05d77358e"


def _stock(mask: bytes, payload: bytes) -> bytearray:
    out = bytearray(payload)
    for i in range(len(out)):
        out[i] ^= mask[i % 4]
    return out


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 125, 126, 4096, 65_537])
def test_unmasking_matches_the_stock_loop(length: int) -> None:
    payload, mask = os.urandom(length), os.urandom(4)
    header = Header(fin=True, opcode=1, length=length)
    header.mask = mask
    assert header.unmask_payload(payload) == _stock(mask, payload)
    assert header.unmask_payload(header.unmask_payload(payload)) == bytearray(payload)


def test_the_replaced_method_is_unchanged_in_the_pinned_gevent_websocket() -> None:
    import importlib

    module = importlib.import_module("geventwebsocket.websocket")
    source = inspect.getsource(module).split("def mask_payload", 1)[1].split("    # it's", 1)[0]
    actual = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert actual == STOCK_MASK_PAYLOAD, (
        f"gevent-websocket's Header.mask_payload changed (hash {actual}): re-check that "
        "pushsvc.worker._xor_mask still does the same, then update the hash here")
