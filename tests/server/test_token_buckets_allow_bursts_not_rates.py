"""pushsvc.sio.budget's token buckets and strike counter, on a fake clock."""

from __future__ import annotations

import pytest

from pushsvc.sio.budget import StrikeCounter, TokenBucket, take_all

pytestmark = pytest.mark.unit  # in process, whatever its folder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_burst_through_then_refuses() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]


def test_the_bucket_refills_at_its_rate_and_never_past_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock)
    for _ in range(5):
        bucket.take()
    clock.now += 1.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 3600.0
    assert bucket.tokens == 5


def test_a_cost_larger_than_what_is_left_is_refused_without_spending() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1000, clock=clock)
    assert bucket.take(900)
    assert not bucket.take(200)
    assert bucket.take(100)


def test_take_all_charges_every_bucket_or_none() -> None:
    clock = FakeClock()
    client = TokenBucket(rate=0.001, burst=3, clock=clock)
    pod = TokenBucket(rate=0.001, burst=1, clock=clock)
    assert take_all([(client, 1), (pod, 1)]) is None
    assert take_all([(client, 1), (pod, 1)]) == 1  # the pod's bucket is short
    assert round(client.tokens) == 2  # ... and the client's was not charged


def test_strikes_count_within_a_window_and_start_over_after_it() -> None:
    clock = FakeClock()
    strikes = StrikeCounter(limit=3, window=10.0, clock=clock)
    assert [strikes.hit(), strikes.hit()] == [False, False]
    clock.now += 10.0
    assert [strikes.hit(), strikes.hit(), strikes.hit()] == [False, False, True]
