"""A user's notifier Job, tested with the ``kube_api`` fixture: docs/testing-toolkit.md's
example, run.

The user's project has a Job calling ``emitter.notify`` and tests that only install pushsvc:
the fixture gives the emulator with pushsvc's RBAC, the notifier ServiceAccount's
environment, the messages decoded, faults, and API Priority and Fairness throttling. The
Job's least privilege holds in the test as in the cluster: a Job that tries to read Events
fails there with the real 403.
"""

from __future__ import annotations

from tests.toolkit.conftest import UserSuite

MYJOB = '''
import emitter


def main():
    emitter.notify("report_ready", {"id": 42}, to="finance")


def peek():
    """A Job that wants more than the notifier role grants."""
    import os

    from kubernetes import client, config
    # The client reads $KUBECONFIG when it is imported: name the file explicitly.
    config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    return client.CoreV1Api().list_namespaced_event("pushsvc")
'''

# docs/testing-toolkit.md's example, verbatim below its import.
DOCS_EXAMPLE = '''
import myjob  # your Job: emitter.notify("report_ready", {"id": 42}, to="finance")


def test_the_job_tells_the_finance_room(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)  # a pod running as ServiceAccount pushsvc-notifier
    myjob.main()
    [message] = kube_api.messages()
    assert message.event == "report_ready"
    assert message.room == "finance"
    assert message.data == [{"id": 42}]
'''

MORE_TESTS = '''
import pytest
from kubernetes.client.exceptions import ApiException

import myjob


def test_the_job_survives_the_api_server_throttling_it(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    kube_api.fault("429", count=2, retry_after=1)
    myjob.main()
    assert [m.event for m in kube_api.messages()] == ["report_ready"]


def test_the_job_waits_out_api_priority_and_fairness(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    kube_api.rate_limit(1, burst=1)  # the notifier's ServiceAccount: 1 request/s
    myjob.main()
    myjob.main()
    assert [m.event for m in kube_api.messages()] == ["report_ready", "report_ready"]
    stats = kube_api.apf_stats()
    assert stats["throttled"] >= 1 and stats["early_retries"] == 0


def test_the_notifier_may_not_read_events(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    with pytest.raises(ApiException) as info:
        myjob.peek()
    assert info.value.status == 403
    assert "pushsvc-notifier" in info.value.body


@pytest.mark.kube_api(event_ttl=3600)
def test_each_test_gets_a_fresh_emulator(kube_api):
    assert kube_api.messages() == []
    assert kube_api.kubeconfig("pushsvc-api").is_file()
'''


def test_the_docs_example_and_a_users_other_kube_api_tests_pass(user_suite: UserSuite) -> None:
    done = user_suite(
        {"myjob.py": MYJOB, "test_docs_example.py": DOCS_EXAMPLE,
         "test_more.py": MORE_TESTS},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout


def test_a_failing_user_assertion_fails_the_users_suite(user_suite: UserSuite) -> None:
    wrong = DOCS_EXAMPLE.replace('message.room == "finance"', 'message.room == "sales"')
    done = user_suite({"myjob.py": MYJOB, "test_wrong.py": wrong})
    assert done.returncode == 1, done.stdout[-4000:]
    assert "1 failed" in done.stdout
