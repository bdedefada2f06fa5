"""A batch never makes an Event over the payload limit: it is split, in order, and a message
that alone is too large is refused at once while the rest of the batch still goes."""

from __future__ import annotations

import pytest

from emitter import PayloadTooLargeError
from emitter.batching import Packer
from emitter.model import emit_message


def test_a_batch_over_the_size_limit_is_split_and_keeps_its_order(bus):
    with bus.emitter(max_payload_bytes=8 * 1024) as em, em.batch():
        for n in range(12):
            em.notify("blob", {"n": n, "pad": "x" * 2000})
    events = bus.events()
    assert len(events) == 4  # three 2 KB messages per 8 KiB Event
    assert all(len(e["metadata"]["annotations"]["pushsvc.io/payload"]) <= 8 * 1024
               for e in events)
    sent = [m.data[0]["n"] for env in bus.envelopes() for m in env.messages]
    assert sent == list(range(12))


def test_a_message_too_large_alone_is_refused_in_the_block_and_the_others_are_sent(bus):
    with bus.emitter(max_payload_bytes=4 * 1024) as em, em.batch():
        em.notify("small", 1)
        with pytest.raises(PayloadTooLargeError, match="over the limit of 4,096 bytes"):
            em.notify("big", "x" * 5000)
        em.notify("small", 2)
    assert [m.data[0] for env in bus.envelopes() for m in env.messages] == [1, 2]


def test_the_packer_cuts_at_the_message_cap_and_names_each_event_up_front():
    packer = Packer(max_payload_bytes=250 * 1024, max_messages=3)
    names = [packer.add(emit_message("e", n, host_id="h")) for n in range(7)]
    packets = packer.take()
    assert [len(p.messages) for p in packets] == [3, 3, 1]
    assert names == [p.name for p in packets for _ in p.messages]
    assert all(p.name.startswith("pushsvc-e-") for p in packets)
