"""With a batch window, notifications issued close together share an Event; ``notify()``
returns at once and ``flush()`` / ``close()`` send what is waiting."""

from __future__ import annotations


def test_notifications_within_the_window_share_one_event_sent_at_flush(bus):
    # A window far longer than the loop: the Event can only go out at flush().
    em = bus.emitter(batch_window_seconds=30)
    try:
        names = {em.notify("seq", {"n": n}) for n in range(30)}
        assert bus.events() == []  # still waiting for the window
        em.flush()
        assert len(names) == 1
        assert [len(env.messages) for env in bus.envelopes()] == [30]
    finally:
        em.close()


def test_closing_the_emitter_sends_what_the_window_still_holds(bus):
    with bus.emitter(batch_window_seconds=30) as em:
        for n in range(3):
            em.notify("seq", {"n": n})
    assert [[m.data[0]["n"] for m in env.messages] for env in bus.envelopes()] == [[0, 1, 2]]


def test_a_with_batch_block_goes_out_behind_what_the_window_queued(bus):
    with bus.emitter(batch_window_seconds=30) as em:
        em.notify("seq", {"n": 0})
        with em.batch():
            em.notify("seq", {"n": 1})
            em.notify("seq", {"n": 2})
        assert [m.data[0]["n"] for env in bus.envelopes() for m in env.messages] == [0, 1, 2]


def test_the_window_comes_from_the_environment_when_not_given(bus, monkeypatch):
    monkeypatch.setenv("PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS", "0.005")
    with bus.emitter() as em:
        assert em.batch_window_seconds == 0.005
    monkeypatch.delenv("PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS")
    with bus.emitter() as em:
        assert em.batch_window_seconds == 0.0  # off by default: notify() stays synchronous
