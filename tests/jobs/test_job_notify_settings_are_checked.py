"""The Job notifier's settings: off by default, the bus namespace unless namespaces are
listed (comma-separated), and refused without the janitor whose Lease and retention window it
relies on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pushsvc.settings import Settings


def test_it_is_off_by_default_and_lists_namespaces_comma_separated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.job_notify, s.job_notify_namespaces, s.job_notify_event) == (
        False, [], "pushsvc_job")
    monkeypatch.setenv("PUSHSVC_JOB_NOTIFY_NAMESPACES", "batch, reports ,")
    assert Settings().job_notify_namespaces == ["batch", "reports"]


def test_job_notify_without_the_janitor_is_refused() -> None:
    with pytest.raises(ValidationError, match="PUSHSVC_JOB_NOTIFY needs PUSHSVC_JANITOR"):
        Settings(job_notify=True, janitor=False)
    assert Settings(job_notify=True).job_notify is True
