"""Jobs that push their own lifecycle with no code in the Job (issue 24; docs/jobs.md).

A batch/v1 Job labelled ``pushsvc.io/notify: "true"`` and annotated
``pushsvc.io/notify-user: <sub>`` (or ``pushsvc.io/notify-room: <room>``) has each of its
transitions — created, running, retrying, succeeded or failed — pushed to that user's
browsers (room ``user:<sub>``) or that room as one ``pushsvc_job`` event. The pod holding the
janitor's Lease watches the Jobs (:mod:`pushsvc.jobs.notifier`); what a Job's status implies is
:mod:`pushsvc.jobs.transitions`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kubernetes.client import ApiClient

from emitter.client import Emitter
from emitter.wire import RBAC_API
from pushsvc.jobs.notifier import JobNotifier, JobNotifyOptions

if TYPE_CHECKING:
    from pushsvc.bus.janitor import Janitor
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["JobNotifier", "JobNotifyOptions", "make_job_notifier"]


def make_job_notifier(settings: Settings, api_client: ApiClient, *, namespace: str,
                      channel: str, involved_object: dict[str, str],
                      janitor: Janitor | None) -> JobNotifier | None:
    """The pod's Job notifier, gated by the janitor's Lease; None when it cannot run."""
    if janitor is None:  # the settings refuse PUSHSVC_JOB_NOTIFY without the janitor
        logger.error("job notifier: no janitor, so no Lease holder: no Job lifecycle is pushed")
        return None
    emitter = Emitter(api_client=api_client, bus_namespace=namespace, channel=channel,
                      involved_object=involved_object, grant=RBAC_API,
                      batch_window_seconds=0,  # one Event per transition, named, never batched
                      retry_deadline_seconds=settings.bus_publish_deadline_seconds)
    options = JobNotifyOptions(
        event=settings.job_notify_event,
        retention_seconds=settings.retention_seconds,
        max_jobs=settings.job_notify_max_jobs,
        watch_timeout_seconds=int(settings.watch_timeout_seconds),
        read_timeout_seconds=settings.watch_read_timeout_seconds,
        backoff_max_seconds=settings.watch_backoff_max_seconds,
        poll_seconds=min(0.5, settings.janitor_retry_period_seconds),
    )
    return JobNotifier(api_client, emitter=emitter,
                       namespaces=settings.job_notify_namespaces or [namespace],
                       leading=lambda: janitor.leading, options=options)
