"""Prometheus metrics of the Job lifecycle pushes (docs/jobs.md), in pushsvc's one registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from pushsvc.metrics import REGISTRY

transitions = Counter(
    "pushsvc_job_notify_transitions",
    "Job transitions handled by the watching pod, by phase and outcome: pushed (its bus Event "
    "created); duplicate (409: another pod, or an earlier leader, created it: sent once); "
    "too_old (older than the retention window on a first sight: its Event may be gone, so it "
    "is not pushed again); error (the create failed; tried again at the Job's next change or "
    "relist); not_leading (the Lease was lost before the push: the next leader pushes it).",
    ["phase", "outcome"],
    registry=REGISTRY,
)
skipped = Counter(
    "pushsvc_job_notify_skipped",
    "Jobs skipped because their annotations name no room pushsvc may address, by reason "
    "(reserved, sid_shaped, too_long, empty, no_target); counted once per Job.",
    ["reason"],
    registry=REGISTRY,
)
watch_up = Gauge(
    "pushsvc_job_notify_watch_up",
    "1 while this pod watches the namespace's labelled Jobs (it holds the Lease), else 0.",
    ["namespace"],
    registry=REGISTRY,
)
watch_restarts = Counter(
    "pushsvc_job_notify_watch_restarts",
    "Job watch streams ended, by cause (timeout = a quiet watch, listed again; closed = "
    "resumed from the last version; expired = 410, connection, http, forbidden, "
    "stream_error, lost_lease, push_failed = an Event create failed: listed again after a "
    "back-off).",
    ["cause"],
    registry=REGISTRY,
)
relists = Counter(
    "pushsvc_job_notify_relists",
    "Lists of labelled Jobs: at each start of leading, after a 410, an error or a quiet "
    "watch.",
    registry=REGISTRY,
)
tracked_jobs = Gauge(
    "pushsvc_job_notify_tracked_jobs",
    "Jobs whose sent transitions this pod remembers (bounded by PUSHSVC_JOB_NOTIFY_MAX_JOBS).",
    registry=REGISTRY,
)
