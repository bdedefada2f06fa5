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
watch_up = Gauge(
    "pushsvc_bus_watch_up",
    "1 while the Events watch stream is open, else 0.",
    registry=REGISTRY,
)
lag_seconds = Histogram(
    "pushsvc_bus_lag_seconds",
    "Now minus the publishing time of a received bus Event (includes clock skew).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)

# --- ops: what the watch sees of the bus's footprint --------------------------------------
live_events = Gauge(
    "pushsvc_bus_live_events",
    "Bus Events in the namespace as this pod's watch sees them: the count of each list, +1 per "
    "new Event, -1 per deletion (TTL expiry or the retention janitor). Every pod reports the "
    "same figure; use max() across pods.",
    registry=REGISTRY,
)
