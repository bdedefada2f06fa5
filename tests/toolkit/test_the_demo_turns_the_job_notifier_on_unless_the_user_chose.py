"""``pushsvc demo`` turns the Job notifier on for its pods, unless the user set a
``PUSHSVC_JOB_NOTIFY*`` setting or turned the janitor (which the notifier runs on) off; the
emulator's RBAC is then ``rbac/`` plus the job-notify component's own Role and RoleBinding, so
``rbac/api.yaml`` itself never grants jobs.
"""

from __future__ import annotations

import yaml

from pushsvc.run.demo import demo_jobs
from pushsvc.testing.shipped import shipped_job_notify_rbac, shipped_rbac_dir
from pushsvc.testing.topology import combined_yaml


def test_the_notifier_is_turned_on_when_the_user_said_nothing() -> None:
    env: dict[str, str] = {"PUSHSVC_CORS_ALLOWED_ORIGINS": "http://x.example"}
    assert demo_jobs(env) is True
    assert env["PUSHSVC_JOB_NOTIFY"] == "true"


def test_the_users_choice_and_a_janitor_turned_off_are_left_alone() -> None:
    for env, on in [({"PUSHSVC_JOB_NOTIFY": "false"}, False),
                    ({"PUSHSVC_JOB_NOTIFY": "true"}, True),
                    ({"PUSHSVC_JOB_NOTIFY_NAMESPACES": "batch"}, False),
                    ({"PUSHSVC_JANITOR": "false"}, False)]:
        before = dict(env)
        assert demo_jobs(env) is on, before
        assert env == before


def test_the_emulators_rbac_adds_the_components_grant_to_the_shipped_files() -> None:
    docs = [d for d in yaml.safe_load_all(
        combined_yaml([shipped_rbac_dir(), *shipped_job_notify_rbac()])) if d]
    jobs_rules = [(d["kind"], (d.get("metadata") or {}).get("name")) for d in docs
                  if any("jobs" in r.get("resources", []) for r in d.get("rules") or [])]
    assert jobs_rules == [("Role", "pushsvc-job-notify")]
    assert ("RoleBinding", "pushsvc-job-notify") in [
        (d["kind"], (d.get("metadata") or {}).get("name")) for d in docs]
