"""The bounded send queue: counts bytes, empties itself once past the cap, then only ends."""

from __future__ import annotations

from engineio import packet

from pushsvc.engine_limits import _BoundedSendQueue


def _message(size: int) -> packet.Packet:
    return packet.Packet(packet.MESSAGE, data="x" * size)


def test_past_the_cap_the_queue_is_emptied_and_the_overflow_reported_once() -> None:
    overflows: list[_BoundedSendQueue] = []
    queue = _BoundedSendQueue(cap=10_000, on_overflow=overflows.append)
    for _ in range(9):
        queue.put(_message(999))
    assert queue.queued_bytes == 9000 and queue.qsize() == 9
    queue.put(_message(2000))
    queue.put(_message(2000))
    assert overflows == [queue]
    assert queue.qsize() == 0 and queue.queued_bytes == 0
    queue.put(packet.Packet(packet.CLOSE))
    queue.put(None)
    assert queue.get(False).packet_type == packet.CLOSE
    assert queue.get(False) is None
    queue.task_done()
    queue.task_done()
    queue.join()


def test_reading_gives_the_bytes_back() -> None:
    queue = _BoundedSendQueue(cap=10_000, on_overflow=lambda q: None)
    for _ in range(100):
        queue.put(_message(999))
        queue.get(False)
        queue.task_done()
    assert queue.queued_bytes == 0 and not queue.overflowed
