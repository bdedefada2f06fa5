"""The examples in docs/ are run by tests as they are printed: each is found verbatim in the
test that runs it, so a change to one without the other fails here."""

from __future__ import annotations

from tests.support.markdown import code_blocks
from tests.support.pushsvc_proc import REPO_ROOT

TOOLKIT_RUNNER = "tests/toolkit/test_a_users_notifier_job_is_tested_with_kube_api.py"


def test_the_toolkit_docs_example_is_the_one_its_test_runs():
    docs = (REPO_ROOT / "docs" / "testing-toolkit.md").read_text()
    [example] = [b for b in code_blocks(docs, "python") if "kube_api" in b]
    assert example in (REPO_ROOT / TOOLKIT_RUNNER).read_text()


RECORDER_RUNNER = "tests/toolkit/test_a_users_notifier_is_tested_with_recorded_notifications.py"


def test_the_recorder_docs_example_is_the_one_its_test_runs():
    docs = (REPO_ROOT / "docs" / "testing-toolkit.md").read_text()
    [example] = [b for b in code_blocks(docs, "python") if "recorded_notifications" in b]
    assert example in (REPO_ROOT / RECORDER_RUNNER).read_text()
