"""The cross-pod bus: which one, where its Events live, how it watches them, its outbox."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from pushsvc.settings._section import Section


class BusSettings(Section):
    """The bus (core/v1 Events), its watch, this pod's identity and the outbox."""

    title: ClassVar[str] = "Bus"

    bus: Literal["auto", "memory", "kubernetes"] = Field(
        default="auto",
        description="Cross-pod bus: 'memory' (one process), 'kubernetes' (core/v1 Events), "
        "'auto' = kubernetes in a pod (in-cluster config) or when PUSHSVC_KUBECONFIG is set; "
        "a personal ~/.kube/config does not switch it.",
    )
    bus_namespace: str | None = Field(
        default=None,
        description="Namespace of the bus Events. Default: the pod's namespace "
        "(in-cluster) or the kubeconfig context's namespace, else 'default'.",
    )
    bus_channel: str = Field(
        default="pushsvc", description="Channel name; the label value that marks this bus's Events."
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Path to a kubeconfig (default: $KUBECONFIG, then ~/.kube/config).",
    )
    watch_timeout_seconds: int = Field(
        default=300,
        ge=1,
        description="Server-side timeoutSeconds of each watch request. The client's read "
        "timeout is this plus a tenth (at least 2 s), so a half-open connection is noticed.",
    )
    watch_down_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="After the watch has been down this long the bus is degraded: messages "
        "for other pods are dropped at once (counted) instead of waiting for the API server. "
        "Readiness does not change: the pod keeps serving its own clients.",
    )
    watch_backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between watch reconnects (backoff starts at "
        "0.8 s, doubles with jitter); a watch healthy for twice this long resets it.",
    )
    pod_name: str | None = Field(
        default=None,
        description="This pod's name (downward API); names the involvedObject of Events.",
    )
    pod_namespace: str | None = Field(
        default=None, description="This pod's namespace (downward API)."
    )
    pod_uid: str | None = Field(
        default=None, description="This pod's UID (downward API); the involvedObject's uid."
    )
    bus_outbox_max_messages: int = Field(
        default=1000,
        ge=1,
        description="Messages queued for other pods (not yet in an Event), at most; past it "
        "the oldest is dropped and counted (pushsvc_bus_outbox_dropped_total{reason=overflow}).",
    )
    bus_outbox_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=256 * 1024,
        description="JSON bytes queued for other pods, at most (default 8 MiB); past it the "
        "oldest message is dropped and counted.",
    )
    bus_publish_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long one Event create is retried (429, 5xx, connection errors) "
        "while the bus is not degraded; then its messages are counted as failed.",
    )

    @property
    def watch_read_timeout_seconds(self) -> float:
        """The watch's client read timeout: the server's ``timeoutSeconds`` plus a tenth, at
        least 2 s (330 s by default), so the server ends a healthy watch first and a
        half-open connection is noticed soon after."""
        return self.watch_timeout_seconds + max(2.0, self.watch_timeout_seconds / 10)

    @property
    def watch_backoff_reset_seconds(self) -> float:
        """A watch healthy this long resets the reconnect backoff: twice its longest wait."""
        return 2 * self.watch_backoff_max_seconds
