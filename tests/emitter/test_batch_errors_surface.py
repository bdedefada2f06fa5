"""A batch whose Events cannot be created says so — leaving the block, at flush(), or at the
next notify() — with the count of messages not sent and the API's error as the cause."""

from __future__ import annotations

import contextlib
import time

import pytest

from emitter import BatchError, PermissionDeniedError


def test_leaving_the_block_raises_with_the_count_and_the_cause(bus):
    stranger = bus.emitter(serviceaccount="someone-else")  # no grant: every create is a 403
    with pytest.raises(BatchError) as caught, stranger.batch():
        for n in range(120):
            stranger.notify("seq", {"n": n})
    assert caught.value.failed_messages == 120
    assert len(caught.value.failures) == 3
    assert isinstance(caught.value.__cause__, PermissionDeniedError)
    assert "120 message(s) in 3 Event(s) were not sent; first error: forbidden" in str(
        caught.value)


def test_the_blocks_own_exception_wins_and_its_notifications_are_still_sent(bus):
    with bus.emitter() as em:
        with pytest.raises(KeyError), em.batch():
            em.notify("seq", {"n": 1})
            raise KeyError("the job failed half-way")
    assert len(bus.events()) == 1


def test_window_mode_raises_at_flush_once(bus):
    em = bus.emitter(serviceaccount="someone-else", batch_window_seconds=30)
    em.notify("seq", 1)
    with pytest.raises(BatchError, match="1 message"):
        em.flush()
    em.flush()  # reported once, not again
    em.close()


def test_window_mode_raises_an_earlier_failure_from_the_next_notify(bus):
    em = bus.emitter(serviceaccount="someone-else", batch_window_seconds=0.001)
    with pytest.raises(BatchError) as caught:  # noqa: PT012 - the loop is the point
        for n in range(500):  # bounded: the 403 comes back within a few notifications
            em.notify("seq", n)
            time.sleep(0.01)
    assert isinstance(caught.value.__cause__, PermissionDeniedError)
    assert "(nor was this one: it was not queued)" in str(caught.value)
    with contextlib.suppress(BatchError):
        em.close()  # anything queued behind the failure is reported here


def test_an_unbatched_notify_still_raises_the_api_error_itself(bus):
    with pytest.raises(PermissionDeniedError):
        bus.emitter(serviceaccount="someone-else").notify("seq", 1)
