"""Moved to :mod:`pushsvc.sio.budget`. This name stays only while modules changed on other
branches (recovery, recovery_bounds, connect_guard, tests/unit/test_recovery_bounds.py)
import it here; it goes when they move into the package map (docs/development.md)."""

from pushsvc.sio.budget import ClientBudget, Clock, StrikeCounter, TokenBucket, take_all

__all__ = ["ClientBudget", "Clock", "StrikeCounter", "TokenBucket", "take_all"]
