"""Prometheus metrics of the Kubernetes Events bus, in pushsvc's one registry (/metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pushsvc.metrics import REGISTRY

messages_published = Counter(
    "pushsvc_bus_messages_published",
    "PubSubManager messages this process published as Events, by method.",
    ["method"],
    registry=REGISTRY,
)
publish_failures = Counter(
    "pushsvc_bus_publish_failures",
    "Messages that could not be published (already applied locally), by error class.",
    ["error"],
    registry=REGISTRY,
)
local_only = Counter(
    "pushsvc_bus_local_only",
    "Emits addressed only to clients of this process: handled locally, no Event created.",
    registry=REGISTRY,
)
events_received = Counter(
    "pushsvc_bus_events_received",
    "Bus Events received from the watch (or a relist) that were not seen before.",
    registry=REGISTRY,
)
events_invalid = Counter(
    "pushsvc_bus_events_invalid",
    "Bus Events skipped because their payload failed validation.",
    registry=REGISTRY,
)
messages_delivered = Counter(
    "pushsvc_bus_messages_delivered",
    "Messages from other processes applied to this process's clients, by method.",
    ["method"],
    registry=REGISTRY,
)
messages_own = Counter(
    "pushsvc_bus_messages_own",
    "Messages that came back through the watch from this process (already applied).",
    registry=REGISTRY,
)
watch_restarts = Counter(
    "pushsvc_bus_watch_restarts",
    "Watch streams ended and reopened, by cause (timeout = routine server timeout).",
    ["cause"],
    registry=REGISTRY,
)
relists = Counter(
    "pushsvc_bus_relists",
    "Lists after a 410 Gone (the watch's resourceVersion was compacted).",
    registry=REGISTRY,
)
api_retries = Counter(
    "pushsvc_bus_api_retries",
    "API requests of this pod answered with a retryable error and tried again after a wait, "
    "by component (watcher, publisher, janitor) and cause (throttled = 429, whose "
    "Retry-After is always waited out; server_error; connection).",
    ["component", "cause"],
    registry=REGISTRY,
)
watch_up = Gauge(
    "pushsvc_bus_watch_up",
    "1 while the Events watch stream is open, else 0.",
    registry=REGISTRY,
)
lag_seconds = Histogram(
    "pushsvc_bus_lag_seconds",
    "Now minus the time the oldest message of a received bus Event was queued for publishing "
    "on its pod (outbox wait included; includes clock skew).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
fanout_lag_seconds = Gauge(
    "pushsvc_fanout_lag_seconds",
    "How far behind this pod delivers: now minus the time the bus message it is fanning out "
    "to its clients now was queued for publishing; 0 while it delivers nothing. A pod past "
    "what it can deliver lags (this grows) instead of dying.",
    registry=REGISTRY,
)

# --- ops: what the watch sees of the bus's footprint --------------------------------------
live_events = Gauge(
    "pushsvc_bus_live_events",
    "Bus Events in the namespace as this pod's watch sees them: the count of each relist, +1 "
    "per new Event, -1 per deletion (TTL expiry or the retention janitor). The first list reads "
    "one item only, so until a relist it counts the Events created since the pod started. Use "
    "max() across pods.",
    registry=REGISTRY,
)

# --- limits: bus (hardening: bounded outbox, untrusted Events, bus health) ---------------
events_skipped = Counter(
    "pushsvc_bus_events_skipped",
    "Bus Events skipped without stopping the watcher, by reason (invalid, schema, too_large, "
    "too_deep, error).",
    ["reason"],
    registry=REGISTRY,
)
resource_version_resets = Counter(
    "pushsvc_bus_resource_version_resets",
    "Watermark resets because the API server's resourceVersion went back (list_behind: an "
    "etcd restore) or this pod's is ahead of it (too_large: 504 Too large resource version).",
    ["cause"],
    registry=REGISTRY,
)
callbacks_refused = Counter(
    "pushsvc_bus_callbacks_refused",
    "Ack callbacks requested by bus Events and dropped (the emit was delivered without one) "
    "because the emit was not addressed to exactly one client connected here.",
    registry=REGISTRY,
)
outbox_dropped = Counter(
    "pushsvc_bus_outbox_dropped",
    "Messages for other pods dropped before any API call, by reason (overflow: oldest dropped "
    "at the outbox bound; too_large: one message over the Event payload limit; bus_down: "
    "the watch was down past the grace period; shutdown: still queued at exit).",
    ["reason"],
    registry=REGISTRY,
)
outbox_messages = Gauge(
    "pushsvc_bus_outbox_messages",
    "Messages queued for other pods, not yet in an Event.",
    registry=REGISTRY,
)
outbox_bytes = Gauge(
    "pushsvc_bus_outbox_bytes",
    "JSON bytes of the messages queued for other pods.",
    registry=REGISTRY,
)
watch_down_seconds = Gauge(
    "pushsvc_bus_watch_down_seconds",
    "Seconds the Events watch has been down (0 while it is up).",
    registry=REGISTRY,
)

# --- retention janitor (issue 13): one pod deletes bus Events past the retention ---------
janitor_last_run = Gauge(
    "pushsvc_janitor_last_run_timestamp_seconds",
    "Unix time of the retention janitor's last completed pass on this pod (its start until a "
    "first pass). Only the Lease holder makes passes: use max() across pods.",
    ["lease"],
    registry=REGISTRY,
)
janitor_deletions = Counter(
    "pushsvc_janitor_deletions",
    "Bus Event deletes by the retention janitor, by outcome (deleted; gone = 404, already "
    "deleted by TTL or another janitor; conflict = 409, updated or re-created since the "
    "list; forbidden = 403; error).",
    ["outcome"],
    registry=REGISTRY,
)
janitor_leader = Gauge(
    "pushsvc_janitor_leader",
    "1 while this pod holds the janitor Lease (renewed within the renew deadline), else 0.",
    ["lease"],
    registry=REGISTRY,
)
janitor_pass_seconds = Gauge(
    "pushsvc_janitor_pass_seconds",
    "Duration of the janitor's last completed pass (list pages + paced deletes). Above the "
    "pass interval the janitor cannot keep up: raise PUSHSVC_JANITOR_DELETES_PER_SECOND.",
    ["lease"],
    registry=REGISTRY,
)
# --- latency: the hops of one bus Event through this pod ----------------------------------
#: Fine below 50 ms, where the hops of a healthy bus are; the bench reads percentiles from them.
HOP_BUCKETS = (0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.0025, 0.003,
               0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
               0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
hop_seconds = Histogram(
    "pushsvc_bus_hop_seconds",
    "Hops of one received bus Event, by hop: publish_to_read (the Event's envelope time, when "
    "its publisher queued it, to this pod taking its line off the watch stream; includes the "
    "API server and clock skew between nodes), read_to_emit (that line to the end of the emit "
    "to this pod's clients: decode, validation, Socket.IO fan-out), publish_to_emit (both). "
    "Events with nothing to emit here (this pod's own) count in publish_to_read only.",
    ["hop"],
    buckets=HOP_BUCKETS,
    registry=REGISTRY,
)
_hop_read = hop_seconds.labels(hop="publish_to_read")
_hop_emit = hop_seconds.labels(hop="read_to_emit")
_hop_total = hop_seconds.labels(hop="publish_to_emit")


def observe_hops(created: float, read_at: float, emitted: float | None) -> None:
    """One Event's hops (Unix seconds); ``emitted`` None when nothing was emitted here."""
    _hop_read.observe(max(0.0, read_at - created))
    if emitted is not None:
        _hop_emit.observe(max(0.0, emitted - read_at))
        _hop_total.observe(max(0.0, emitted - created))
