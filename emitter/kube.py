"""The Events API's paths, RBAC messages, retries, and ApiException → pushsvc errors.

Requests themselves go through the lean HTTP client (:mod:`emitter.rawhttp`), which raises
``ApiException`` for a non-2xx reply; here, at this edge, it becomes one of pushsvc's own
errors raised ``from`` it, with the rbac/ file to apply when it is a 403.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from emitter.errors import (
    AlreadyExistsError,
    ApiError,
    ApiUnavailableError,
    PermissionDeniedError,
)

logger = logging.getLogger(__name__)

#: Agreed with the deployment helper: which file grants which ServiceAccount what.
RBAC_NOTIFIER = ("rbac/notifier.yaml", "pushsvc-notifier", "create")
RBAC_API = ("rbac/api.yaml", "pushsvc-api", "list/watch/create/delete")
#: A notifier whose ServiceAccount lives in another namespace than the bus: this kustomize
#: component binds it (rbac/notifier.yaml only grants the bus namespace's own account).
RBAC_REMOTE_NOTIFIER = "manifests/remote-notifier"

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

_USER = re.compile(r'User "([^"]+)"')


def events_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/events"


def retry_after_seconds(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def status_message(exc: ApiException) -> str:
    """The API server's own words from a Status body, or the HTTP reason."""
    body = exc.body or ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("message"):
        return str(parsed["message"])
    text = body.strip().splitlines()[0] if body.strip() else ""
    return (text or str(exc.reason or "")).strip()[:300]


def _service_account(exc: ApiException) -> tuple[str, str] | None:
    """(namespace, name) of the ServiceAccount a 403 Status message names, if one."""
    match = _USER.search(status_message(exc)) or _USER.search(exc.body or "")
    if not match or not match.group(1).startswith("system:serviceaccount:"):
        return None
    ns, _, name = match.group(1).removeprefix("system:serviceaccount:").partition(":")
    return ns, name


def who(exc: ApiException) -> str:
    """'ServiceAccount ns/name' (or the user) from a 403 Status message."""
    account = _service_account(exc)
    if account is not None:
        return f"ServiceAccount {account[0]}/{account[1]}"
    match = _USER.search(status_message(exc)) or _USER.search(exc.body or "")
    return f"user {match.group(1)!r}" if match else "this identity"


def forbidden_message(exc: ApiException, *, verb: str, namespace: str,
                      grant: tuple[str, str, str]) -> str:
    rbac_file, sa, verbs = grant
    account = _service_account(exc)
    if grant == RBAC_NOTIFIER and account is not None and account[0] != namespace:
        return (
            f"forbidden: {who(exc)} cannot {verb} events in namespace {namespace!r}; it is not "
            f"in the bus namespace: apply {RBAC_REMOTE_NOTIFIER} (a Role in the bus namespace "
            f"granting create on events, bound to ServiceAccount {account[0]}/{account[1]}: "
            f"set that subject in its rolebinding.yaml)"
        )
    return (
        f"forbidden: {who(exc)} cannot {verb} events in namespace {namespace!r}; apply "
        f"{rbac_file} (grants {verbs} on events to ServiceAccount {sa}) and run as that "
        f"ServiceAccount"
    )


def convert(exc: ApiException, *, verb: str, namespace: str,
            grant: tuple[str, str, str]) -> ApiError:
    status = exc.status
    if status == 403:
        return PermissionDeniedError(
            forbidden_message(exc, verb=verb, namespace=namespace, grant=grant), status=403
        )
    if status == 401:
        return ApiError(f"unauthorized: the API server rejected the credentials while trying "
                        f"to {verb} events in namespace {namespace!r}", status=401)
    if status == 409:
        return AlreadyExistsError(f"already exists: {verb} events in namespace {namespace!r}: "
                                  f"{status_message(exc)}", status=409)
    if status == 404:
        return ApiError(f"not found: cannot {verb} events in namespace {namespace!r} "
                        f"({status_message(exc)}); does the namespace exist?", status=404)
    return ApiError(f"{verb} events in namespace {namespace!r} failed: HTTP {status} "
                    f"{status_message(exc)}", status=status)


#: One generator for every Backoff: seeding a new one reads os.urandom, and the emitter makes a
#: Backoff per notification.
_RNG = random.Random()


class Backoff:
    """Jittered exponential backoff: ``initial`` doubling to ``maximum``; ``reset()`` on health."""

    def __init__(self, *, initial: float = 0.8, maximum: float = 30.0, jitter: float = 0.5,
                 rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or _RNG

    def next(self) -> float:
        base = min(self.maximum, self.initial * (2 ** self.failures))
        self.failures += 1
        # jitter spreads reconnects of many pods; never exceed the maximum
        return min(self.maximum, base * (1 + self._rng.uniform(0, self.jitter)))

    def reset(self) -> None:
        self.failures = 0


def call_with_retries(
    fn: Callable[[], Any],
    *,
    what: str,
    deadline_seconds: float,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[Exception], bool] | None = None,
    on_wait: Callable[[str, float], None] | None = None,
) -> Any:
    """Call ``fn`` until it succeeds, retrying 429 / 5xx / connection errors until the deadline.

    ``on_retry(exc)`` may return True to stop retrying and treat the call as done (used for
    409 on a retried create: the earlier attempt did succeed). Other ApiExceptions propagate.
    ``on_wait(cause, seconds)`` is told of each retry (cause ``throttled``, ``server_error`` or
    ``connection``) before its wait.

    A 429 is never retried before its ``Retry-After`` (API Priority and Fairness asks for
    that wait); when the wait would end past the deadline, it gives up at once instead.
    """
    end = clock() + deadline_seconds
    attempt = 0
    connection_failed = False
    delay: float | None
    while True:
        attempt += 1
        try:
            return fn()
        except ApiException as exc:
            if attempt > 1 and on_retry is not None and on_retry(exc):
                return None
            if exc.status not in RETRYABLE_STATUS:
                raise
            delay = retry_after_seconds(exc) if exc.status == 429 else None
            if delay is not None:
                delay = max(delay, 0.05)
            cause: BaseException = exc
            detail = f"HTTP {exc.status}"
            kind = "throttled" if exc.status == 429 else "server_error"
        except CONNECTION_ERRORS as exc:
            # The first one is often a pooled keep-alive connection the server already
            # closed: retry at once on a fresh connection.
            delay = 0.0 if not connection_failed else None
            connection_failed = True
            cause, detail = exc, f"connection error ({type(exc).__name__})"
            kind = "connection"
        wait = backoff.next() if delay is None else delay
        remaining = end - clock()
        if remaining <= 0 or (kind == "throttled" and delay is not None and wait > remaining):
            late = "" if remaining <= 0 else (
                f" (the API server asked to retry in {wait:g} s, past the deadline)")
            raise ApiUnavailableError(
                f"{what}: gave up after {attempt} attempt(s) in {deadline_seconds:g} s; "
                f"last error: {detail}{late}",
                status=getattr(cause, "status", None),
            ) from cause
        logger.debug("%s: %s, retrying in %.2f s", what, detail, min(wait, remaining))
        if on_wait is not None:
            on_wait(kind, min(wait, remaining))
        if wait > 0:
            sleep(min(wait, remaining))
