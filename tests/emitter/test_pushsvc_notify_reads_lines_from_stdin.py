"""``pushsvc-notify --stdin``: one notification per JSON line, sharing Events; a bad line is
named by its number, everything before it is sent and nothing from it on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def notify_stdin(bus, text: str, *extra: str, serviceaccount: str | None = None):
    kubeconfig = (bus.notifier_kubeconfig if serviceaccount is None
                  else bus.api.kubeconfig_for("pushsvc", serviceaccount))
    exe = Path(sys.executable).parent / "pushsvc-notify"
    return subprocess.run(
        [str(exe), "--stdin", "--namespace", "pushsvc", "--kubeconfig", str(kubeconfig),
         *extra], input=text, capture_output=True, text=True, timeout=60, check=False)


def lines(*items: object) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def sent_messages(bus) -> list[tuple[str, object, object]]:
    return [(m.event, m.data[0], m.room) for env in bus.envelopes() for m in env.messages]


def test_lines_are_sent_in_order_sharing_events(bus):
    text = lines(*({"event": "seq", "data": {"n": n}} for n in range(120)),
                 {"event": "done", "data": None, "room": "ops"})
    result = notify_stdin(bus, text + "\n", "--room", "team")
    assert result.returncode == 0, result.stderr
    assert len(bus.events()) <= 10  # batched: far fewer Events than the 121 lines
    assert result.stdout.startswith(f"sent 121 notification(s) in {len(bus.events())} Event(s)")
    assert sent_messages(bus) == [("seq", {"n": n}, "team") for n in range(120)] + [
        ("done", None, "ops")]


def test_a_bad_line_is_named_and_only_the_lines_before_it_are_sent(bus):
    text = lines({"event": "a", "data": 1}, {"event": "b", "data": 2}) + "{not json\n" + lines(
        {"event": "c", "data": 3})
    result = notify_stdin(bus, text)
    assert result.returncode == 2
    assert result.stderr.startswith("pushsvc-notify: error: line 3: not valid JSON")
    assert ("the 2 notification(s) before it were sent, nothing from line 3 on was sent"
            in result.stderr)
    assert sent_messages(bus) == [("a", 1, None), ("b", 2, None)]


def test_a_line_with_an_unknown_key_or_no_event_is_refused(bus):
    result = notify_stdin(bus, lines({"event": "a", "rooom": "x"}))
    assert result.returncode == 2
    assert "line 1: unknown key(s) 'rooom'" in result.stderr
    result = notify_stdin(bus, lines({"data": 1}))
    assert result.returncode == 2
    assert 'line 1: "event" must be a non-empty string' in result.stderr
    assert bus.events() == []


def test_a_missing_permission_reports_how_many_were_not_sent(bus):
    result = notify_stdin(bus, lines(*({"event": "seq", "data": n} for n in range(5))),
                          serviceaccount="someone-else")
    assert result.returncode == 4
    # However far reading got before the 403 came back, every line is accounted for.
    text = result.stderr
    assert ("of 5 notification(s) read were not sent; first error: forbidden" in text
            or "; reading stopped at line" in text)
    read = int(text.split(" of ")[1].split()[0])
    failed = int(text.split("error: ")[1].split()[0])
    assert failed == read  # nothing got through
    if read < 5:
        assert f"reading stopped at line {read + 1}, nothing from it on was sent" in text
    assert len(text.strip().splitlines()) == 1
