"""Presence metrics, in the process's one registry (pushsvc.metrics.REGISTRY)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from pushsvc.metrics import REGISTRY

summary_bytes = Gauge(
    "pushsvc_presence_summary_bytes",
    "JSON bytes of this pod's last presence summary (its Lease annotation).",
    registry=REGISTRY,
)
truncated = Gauge(
    "pushsvc_presence_summary_truncated",
    "What this pod's last summary could not carry (bounds PUSHSVC_PRESENCE_MAX_*), by kind "
    "(rooms, members).",
    ["kind"],
    registry=REGISTRY,
)
pods_seen = Gauge(
    "pushsvc_presence_pods",
    "Pods whose summaries answers use (this one included), and Leases seen whose summary "
    "outlived its duration (state=stale: dead or stopped pods).",
    ["state"],
    registry=REGISTRY,
)
staleness = Gauge(
    "pushsvc_presence_staleness_seconds",
    "Age of the oldest live summary of another pod, as observed on this pod.",
    registry=REGISTRY,
)
writes = Counter(
    "pushsvc_presence_lease_writes",
    "Lease writes of this pod's presence summary, by outcome (ok, created, forbidden, "
    "throttled, error).",
    ["outcome"],
    registry=REGISTRY,
)
bad_summaries = Counter(
    "pushsvc_presence_bad_summaries",
    "Presence Leases skipped because their summary was not valid (too large, malformed).",
    registry=REGISTRY,
)
watch_restarts = Counter(
    "pushsvc_presence_watch_restarts",
    "Restarts of the presence Lease watch, by cause (expired, throttled, forbidden, error).",
    ["cause"],
    registry=REGISTRY,
)
queries = Counter(
    "pushsvc_presence_queries",
    "Presence questions from clients, by outcome (ok, forbidden, bad_room, rate_limited).",
    ["outcome"],
    registry=REGISTRY,
)
notices = Counter(
    "pushsvc_presence_notices",
    "pushsvc_presence join/leave notices sent to this pod's members of a room.",
    registry=REGISTRY,
)
