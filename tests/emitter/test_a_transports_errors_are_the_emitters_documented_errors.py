"""What a transport raises reaches the caller as the Emitter's documented errors, retried and
converted exactly as the Kubernetes API's: a 403 is a PermissionDeniedError naming the rbac/
file, 429 waits out Retry-After, 5xx and lost connections are retried until the deadline
(ApiUnavailableError), a 409 on a retry means done, a PushError passes as it is, anything else
is an ApiError from it — and in a batch each becomes the cause of the BatchError."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from emitter import (
    AlreadyExistsError,
    ApiError,
    ApiUnavailableError,
    BatchError,
    Emitter,
    PermissionDeniedError,
    PushError,
)

NOTIFIER = "system:serviceaccount:bus:pushsvc-notifier"


def api_exception(status: int, message: str = "", *, retry_after: str | None = None
                  ) -> ApiException:
    exc = ApiException(status=status, reason="reason")
    exc.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "message": message, "code": status})
    exc.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return exc


class Scripted:
    """A transport that fails as scripted, then creates."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.attempts: list[dict[str, Any]] = []

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.attempts.append(body)
        if self.failures:
            raise self.failures.pop(0)


class Always:
    def __init__(self, make: Callable[[], BaseException]) -> None:
        self.make = make
        self.attempts = 0

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.attempts += 1
        raise self.make()


def emitter_on(transport: Any, **options: Any) -> Emitter:
    return Emitter(transport=transport, bus_namespace="bus", channel="pushsvc",
                   involved_object={"kind": "Pod", "name": "p"}, **options)


def test_a_403_is_a_permission_error_naming_the_rbac_file():
    transport = Always(lambda: api_exception(
        403, f'events is forbidden: User "{NOTIFIER}" cannot create resource "events"'))
    with pytest.raises(PermissionDeniedError) as info:
        emitter_on(transport).notify("ev", 1)
    assert "ServiceAccount bus/pushsvc-notifier cannot create events" in str(info.value)
    assert "rbac/notifier.yaml" in str(info.value)
    assert isinstance(info.value.__cause__, ApiException)
    assert transport.attempts == 1  # never retried


def test_a_429_is_retried_after_its_retry_after_and_the_same_body_goes_again():
    transport = Scripted(api_exception(429, retry_after="0"), api_exception(503))
    waits: list[tuple[str, float]] = []
    em = emitter_on(transport, on_retry=lambda cause, s: waits.append((cause, s)))
    em.notify("ev", 1)
    assert len(transport.attempts) == 3
    assert transport.attempts[0] == transport.attempts[1] == transport.attempts[2]
    assert [cause for cause, _ in waits] == ["throttled", "server_error"]
    assert em.retries == {"throttled": 1, "server_error": 1}


def test_5xx_and_lost_connections_until_the_deadline_are_api_unavailable():
    for make, detail in ((lambda: api_exception(503), "HTTP 503"),
                         (lambda: ConnectionResetError("reset"), "connection error")):
        transport = Always(make)
        with pytest.raises(ApiUnavailableError, match=f"gave up after .* {detail}"):
            emitter_on(transport, retry_deadline_seconds=0.3).notify("ev", 1)
        assert transport.attempts >= 2


def test_a_409_on_a_retry_means_sent_and_on_the_first_attempt_already_exists():
    emitter_on(Scripted(ConnectionResetError("lost reply"), api_exception(409))).notify("ev", 1)
    with pytest.raises(AlreadyExistsError, match="already exists"):
        emitter_on(Scripted(api_exception(409, "exists"))).notify("ev", 1)


def test_a_push_error_passes_unchanged_and_anything_else_is_an_api_error():
    class Mine(PushError):
        pass

    mine = Mine("the transport's own")
    with pytest.raises(Mine) as info:
        emitter_on(Scripted(mine)).notify("ev", 1)
    assert info.value is mine
    with pytest.raises(ApiError, match=r"failed in Scripted: RuntimeError: boom") as err:
        emitter_on(Scripted(RuntimeError("boom"))).notify("ev", 1)
    assert isinstance(err.value.__cause__, RuntimeError)


def test_in_a_batch_the_converted_error_is_the_cause_of_the_batch_error():
    transport = Always(lambda: RuntimeError("boom"))
    em = emitter_on(transport)
    with pytest.raises(BatchError) as info, em.batch():
        for n in range(60):  # two Events; the second is not attempted after the first failed
            em.notify("row", n)
    assert info.value.failed_messages == 60
    assert isinstance(info.value.__cause__, ApiError)
    assert transport.attempts == 1


def test_in_a_window_a_transport_error_surfaces_at_flush():
    em = emitter_on(Always(lambda: api_exception(404, "namespaces \"bus\" not found")),
                    batch_window_seconds=0.01)
    em.notify("ev", 1)
    with pytest.raises(BatchError, match="does the namespace exist"):
        em.flush(timeout=30)
    em.close()
