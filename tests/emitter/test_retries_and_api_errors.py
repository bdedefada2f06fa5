"""429 / 5xx / connection errors are retried with backoff until a deadline; other API errors
become pushsvc errors raised from the ApiException."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from emitter import ApiUnavailableError, PermissionDeniedError
from emitter.kube import RBAC_NOTIFIER, Backoff, call_with_retries, convert


def api_error(status: int, body: str = "", headers: dict | None = None) -> ApiException:
    exc = ApiException(status=status, reason="x", body=body)
    exc.headers = headers or {}
    return exc


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def failing(*errors: BaseException):
    queue = list(errors)

    def fn():
        if queue:
            raise queue.pop(0)
        return "created"

    return fn


def test_429_honours_retry_after_and_5xx_and_connection_errors_back_off_then_succeed():
    clock = Clock()
    fn = failing(api_error(429, headers={"Retry-After": "3"}), api_error(503),
                 urllib3.exceptions.ProtocolError("reset"),
                 urllib3.exceptions.ProtocolError("reset"))
    result = call_with_retries(fn, what="create", deadline_seconds=30, sleep=clock.sleep,
                               clock=clock, backoff=Backoff(initial=0.2, maximum=5, jitter=0))
    assert result == "created"
    # Retry-After 3 s; 503 backs off 0.2 s; the first connection error retries at once
    # (a stale keep-alive connection), the second backs off 0.4 s
    assert clock.sleeps == [3.0, 0.2, 0.4]


def test_retries_stop_at_the_deadline_with_an_error_raised_from_the_api_exception():
    clock = Clock()
    fn = failing(*[api_error(500)] * 100)
    with pytest.raises(ApiUnavailableError, match="gave up after .* in 2 s; last error: HTTP 500"
                       ) as info:
        call_with_retries(fn, what="create", deadline_seconds=2, sleep=clock.sleep,
                          clock=clock, backoff=Backoff(initial=0.2, maximum=5, jitter=0))
    assert isinstance(info.value.__cause__, ApiException)


def test_a_409_on_a_retried_create_means_the_first_attempt_landed():
    clock = Clock()
    fn = failing(urllib3.exceptions.ProtocolError("response lost"), api_error(409))
    assert call_with_retries(fn, what="create", deadline_seconds=5, sleep=clock.sleep,
                             clock=clock, backoff=Backoff(),
                             on_retry=lambda e: getattr(e, "status", 0) == 409) is None


def test_a_403_names_verb_resource_namespace_serviceaccount_and_rbac_file():
    exc = api_error(403, '{"kind":"Status","message":"events is forbidden: User '
                         '\\"system:serviceaccount:jobs:builder\\" cannot create resource '
                         '\\"events\\" in API group \\"\\" in the namespace \\"bus\\"",'
                         '"code":403}')
    error = convert(exc, verb="create", namespace="bus", grant=RBAC_NOTIFIER)
    assert isinstance(error, PermissionDeniedError)
    assert str(error) == (
        "forbidden: ServiceAccount jobs/builder cannot create events in namespace 'bus'; "
        "it is not in the bus namespace: apply manifests/remote-notifier (a Role in the bus "
        "namespace granting create on events, bound to ServiceAccount jobs/builder: set that "
        "subject in its rolebinding.yaml)"
    )
    same_namespace = api_error(403, '{"kind":"Status","message":"events is forbidden: User '
                                    '\\"system:serviceaccount:bus:builder\\" cannot create '
                                    'resource \\"events\\" in API group \\"\\" in the '
                                    'namespace \\"bus\\"","code":403}')
    assert str(convert(same_namespace, verb="create", namespace="bus",
                       grant=RBAC_NOTIFIER)) == (
        "forbidden: ServiceAccount bus/builder cannot create events in namespace 'bus'; "
        "apply rbac/notifier.yaml (grants create on events to ServiceAccount "
        "pushsvc-notifier) and run as that ServiceAccount"
    )
