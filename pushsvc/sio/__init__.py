"""The Socket.IO layer's guards and packet rules: what every client message passes first.

- :mod:`pushsvc.sio.packets`: the rules for a client's message (an object of the expected
  shape, a room name a client may use, nesting depth, size), each refusal a
  :class:`ProtocolError` with a stable code;
- :mod:`pushsvc.sio.budget`: the token buckets behind the event rate and the publishing
  budgets, per client and per pod.
"""

from __future__ import annotations

from pushsvc.sio.budget import ClientBudget, StrikeCounter, TokenBucket, take_all
from pushsvc.sio.packets import ProtocolError, check_depth, check_size, encoded_size

__all__ = [
    "ClientBudget",
    "ProtocolError",
    "StrikeCounter",
    "TokenBucket",
    "check_depth",
    "check_size",
    "encoded_size",
    "take_all",
]
