"""The seam between an :class:`~emitter.client.Emitter` and the API server: one Event create.

An Emitter builds each Event body itself (:func:`emitter.codec.encode_event`: names, labels,
size and depth checks, batching) and hands it to its transport, which makes *one attempt* to
create it. What the transport raises decides what the Emitter does next, exactly as for the
Kubernetes API:

- ``kubernetes.client.exceptions.ApiException`` (``status``, ``body``, ``headers``): an error
  reply. 429 (after its ``Retry-After``) and 5xx are retried until the Emitter's deadline; the
  last one, or any other status, becomes a :class:`~emitter.errors.ApiError` subclass
  (403: :class:`~emitter.errors.PermissionDeniedError` naming the rbac/ file); a 409 on a
  retried create means the earlier attempt did it.
- ``OSError`` or ``urllib3.exceptions.HTTPError``: a lost connection, retried the same way.
- a :class:`~emitter.errors.PushError`: raised to the caller as it is, no retry.
- anything else: raised to the caller as an :class:`~emitter.errors.ApiError` ``from`` it,
  so a caller (and a batch's sender thread) only ever sees pushsvc's own errors.

:class:`KubernetesTransport` is the default; ``pushsvc.testing.RecordingTransport`` keeps the
Events for a test instead. Like httpx's transports, any object with the method will do.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from kubernetes.client import ApiClient

from emitter.kube import events_path
from emitter.rawhttp import raw_request


@runtime_checkable
class Transport(Protocol):
    """What an :class:`~emitter.client.Emitter` needs of the API server."""

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create the core/v1 Event ``body`` in ``namespace``, once (see the module doc)."""


class KubernetesTransport:
    """``POST /api/v1/namespaces/{namespace}/events`` through the lean HTTP client.

    :param api_client: the ``kubernetes.client.ApiClient`` (its TLS, credentials, proxy).
    :param request_timeout: (connect, read) seconds of one attempt.
    """

    def __init__(self, api_client: ApiClient, *,
                 request_timeout: tuple[float, float] = (5.0, 20.0)) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        response = raw_request(self.api_client, "POST", events_path(namespace), body=body,
                               timeout=self.request_timeout)
        # Read the (unused) body first: urllib3 drops a connection released unread, and a new
        # TCP + TLS handshake per notification cost ~4x the create itself.
        response.drain_conn()
        response.release_conn()


__all__ = ["KubernetesTransport", "Transport"]
