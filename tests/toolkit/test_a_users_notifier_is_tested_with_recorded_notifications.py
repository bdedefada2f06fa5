"""A user's notifier function, tested with the ``recorded_notifications`` fixture: no API
server, no process, no kubeconfig — docs/testing-toolkit.md's example, run.

The user's project calls ``emitter.notify`` (and an ``Emitter``'s batch) and its tests only
install pushsvc: the fixture points ``emitter.notify()`` at a RecordingTransport, whose
Events read back as the calls were made; the real codec still refuses what a cluster would.
"""

from __future__ import annotations

from tests.toolkit.conftest import UserSuite

BILLING = '''
import emitter


def invoice_paid(invoice):
    emitter.notify("invoice_paid", {"id": invoice["id"]}, to=f"customer-{invoice['customer']}")
    if invoice["total"] > 10_000:
        emitter.notify("large_payment", invoice["id"], user="finance-lead")


def export(rows, em):
    with em.batch():
        for row in rows:
            em.notify("row_exported", row, to="exports")
'''

# docs/testing-toolkit.md's example, verbatim below its import.
DOCS_EXAMPLE = '''
from pushsvc.testing import Notification

import billing  # your code: emitter.notify("invoice_paid", {"id": 7}, to="customer-3")


def test_a_paid_invoice_tells_its_customer(recorded_notifications):
    billing.invoice_paid({"id": 7, "customer": 3, "total": 120})
    assert recorded_notifications.notifications() == [
        Notification("invoice_paid", {"id": 7}, to="customer-3")]
'''

MORE_TESTS = '''
import pytest

import emitter
import billing
from pushsvc.testing import Notification, RecordingFullError, RecordingTransport


def test_a_large_payment_also_tells_the_finance_lead(recorded_notifications):
    billing.invoice_paid({"id": 8, "customer": 3, "total": 20_000})
    assert [(n.event, n.to) for n in recorded_notifications.notifications()] == [
        ("invoice_paid", "customer-3"), ("large_payment", "user:finance-lead")]


def test_an_export_shares_events_and_keeps_the_order():
    recorder = RecordingTransport()
    billing.export([{"n": n} for n in range(120)], recorder.emitter())
    assert len(recorder.events()) == 3  # 50 messages per Event at most
    assert [n.data for n in recorder.notifications()] == [{"n": n} for n in range(120)]


def test_an_oversized_notification_fails_here_as_in_the_cluster(recorded_notifications):
    with pytest.raises(emitter.PayloadTooLargeError):
        billing.invoice_paid({"id": "x" * 300_000, "customer": 3, "total": 1})
    assert recorded_notifications.notifications() == []


def test_the_recorder_is_bounded():
    recorder = RecordingTransport(max_events=1)
    em = recorder.emitter()
    billing.export([{"n": 1}], em)
    with pytest.raises(emitter.BatchError) as info:
        billing.export([{"n": 2}], em)
    assert isinstance(info.value.__cause__, RecordingFullError)


def test_each_test_gets_a_fresh_recorder(recorded_notifications):
    assert recorded_notifications.notifications() == []
'''


def test_the_docs_example_and_a_users_other_recorder_tests_pass(user_suite: UserSuite) -> None:
    done = user_suite(
        {"billing.py": BILLING, "test_docs_example.py": DOCS_EXAMPLE,
         "test_more.py": MORE_TESTS},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "6 passed" in done.stdout


def test_a_wrong_expectation_fails_the_users_suite(user_suite: UserSuite) -> None:
    wrong = DOCS_EXAMPLE.replace('to="customer-3")]', 'to="customer-4")]')
    done = user_suite({"billing.py": BILLING, "test_wrong.py": wrong})
    assert done.returncode == 1, done.stdout[-4000:]
    assert "1 failed" in done.stdout
