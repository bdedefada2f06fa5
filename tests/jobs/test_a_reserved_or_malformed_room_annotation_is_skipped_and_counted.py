"""A Job whose ``pushsvc.io/notify-room`` names a reserved room (``pushsvc:…``, ``user:…``),
a sid-shaped, too long or empty one, is skipped: nothing is pushed for it, the skip is
counted once per Job by reason (``pushsvc_job_notify_skipped_total``) and logged once,
however often the Job changes. A Job with a valid room annotation reaches that room."""

from __future__ import annotations

from tests.jobs.conftest import JobCluster, job_events, now_rfc3339, wait_transition
from tests.support.sio_client import wait_until

CASES = {
    "room-reserved": ("pushsvc:internal", "reserved"),
    "room-user": ("user:bob@example.com", "reserved"),
    "room-sid": ("A" * 20, "sid_shaped"),
    "room-long": ("r" * 129, "too_long"),
    "room-empty": ("", "empty"),
}


def _skipped(jc: JobCluster, pod: int, reason: str) -> float:
    return jc.metric(pod, f'pushsvc_job_notify_skipped_total{{reason="{reason}"')


def test_bad_room_annotations_are_skipped_counted_and_logged_once(
        job_cluster: JobCluster) -> None:
    jc = job_cluster
    leader = jc.leader()
    tab = jc.tab("carol@example.com", 0, rooms=["team-*"])
    assert tab.call("join", {"room": "team-reports"})["ok"] is True
    before = {reason: _skipped(jc, leader, reason) for _, reason in CASES.values()}
    for name, (room, _) in CASES.items():
        jc.create_job(name, annotations={"pushsvc.io/notify-room": room})
        jc.set_status(name, start_time=now_rfc3339(), active=1)  # a second look at it
    jc.create_job("room-ok", annotations={"pushsvc.io/notify-room": "team-reports"})
    wait_transition([tab], "room-ok", "created-1")

    expected: dict[str, int] = {}
    for _, reason in CASES.values():
        expected[reason] = expected.get(reason, 0) + 1
    wait_until(lambda: all(_skipped(jc, leader, r) - before[r] >= n
                           for r, n in expected.items()), timeout=20, what="skips counted")
    jc.sentinel("after-bad-rooms")
    for reason, count in expected.items():
        assert _skipped(jc, leader, reason) - before[reason] == count
    for name in CASES:
        assert job_events(tab, name) == []
        lines = [line for line in jc.pods[leader].read_log().splitlines()
                 if f"Job pushsvc/{name} skipped" in line]
        assert len(lines) == 1, lines
