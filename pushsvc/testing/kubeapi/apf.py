"""API Priority and Fairness as the emulator plays it: a token bucket per user, and 429s.

A real kube-apiserver classifies every request into a flow (FlowSchema, by user or
ServiceAccount) and a priority level; a request its level cannot seat or queue is rejected
by ``k8s.io/apiserver``'s filter with ``http.Error``: ``429 Too Many Requests``, a
``Retry-After`` header in whole seconds and the plain-text body "Too many requests, please
try again later." — no JSON ``Status`` (that is the EventRateLimit admission plugin's).
What a client must cope with is that answer, for any verb, whenever its user sends more than
its share. The emulator keeps the answer and replaces the queueing model by a token bucket
per user name (``rate`` requests per second, ``burst``), which a test can set exactly:

- it applies after authentication and before authorization, as in the filter chain (a
  forbidden request still spends a token); ``system:masters`` is exempt, as APF's ``exempt``
  priority level is (the emulator's admin user), and so are the ``/_emulator/`` endpoints;
- a watch spends a token when it is opened (APF counts its initialization); an open watch
  is never cut — established long-running requests hold no seat;
- ``Retry-After`` is the time until the bucket has a token again, rounded up, at least 1 (APF
  derives it from its drop rate, at least 1), or a fixed value when configured;
- the response carries APF's ``X-Kubernetes-PF-FlowSchema-UID`` and
  ``X-Kubernetes-PF-PriorityLevel-UID`` headers.

It also judges the clients: a request identical to a throttled one (same user, method, path,
query without ``timeoutSeconds``, and the name of the object a create or update carries)
that arrives before that 429's ``Retry-After`` ran out is an *early retry*, counted per user
in ``GET /_emulator/stats`` (``apf``). Other requests of the same user in that time are not
retries: a pod's watcher, publisher and janitor share one ServiceAccount.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .rbac import User, user_for

log = logging.getLogger(__name__)

BODY = b"Too many requests, please try again later.\n"
EXEMPT_GROUP = "system:masters"
#: Throttled requests remembered for the early-retry check (oldest forgotten first).
MAX_REMEMBERED = 10_000
#: UIDs of the (emulated) FlowSchema and PriorityLevelConfiguration named in the headers.
FLOW_SCHEMA_UID = "00000000-0000-0000-0000-00000000f10e"
PRIORITY_LEVEL_UID = "00000000-0000-0000-0000-0000000001e7"

RequestKey = tuple[str, str, str, str, str]


@dataclass
class Bucket:
    """One user's limit and what it did."""

    rate: float
    burst: int
    retry_after: int | None
    tokens: float
    updated: float
    allowed: int = 0
    throttled: int = 0
    early_retries: int = 0

    def describe(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst, "retry_after": self.retry_after,
                "allowed": self.allowed, "throttled": self.throttled,
                "early_retries": self.early_retries}


def request_key(user: str, environ: dict[str, Any], object_name: str = "") -> RequestKey:
    """What makes two requests "the same request" for the early-retry check."""
    query = "&".join(sorted(part for part in str(environ.get("QUERY_STRING", "")).split("&")
                            if part and not part.startswith("timeoutSeconds=")))
    return (user, str(environ.get("REQUEST_METHOD", "")), str(environ.get("PATH_INFO", "")),
            query, object_name)


class Limiter:
    """Token buckets by user name; :meth:`admit` says whether a request goes through."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.buckets: dict[str, Bucket] = {}
        # request key -> monotonic time before which the same request again is early
        self._waits: OrderedDict[RequestKey, float] = OrderedDict()

    def configure(self, user: str, *, rate: float | None, burst: int | None = None,
                  retry_after: int | None = None) -> dict[str, Any]:
        """Limit ``user`` to ``rate`` requests/s with ``burst`` (default max(1, rate));
        ``rate=None`` removes the limit. The bucket starts full."""
        if EXEMPT_GROUP in user_for(user).groups:
            raise ValueError(f"{user!r} is in {EXEMPT_GROUP}, which APF exempts")
        if rate is None:
            self.buckets.pop(user, None)
            return {"user": user, "limit": None}
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a positive number of requests per second")
        size = int(burst) if burst is not None else max(1, math.ceil(rate))
        if size < 1:
            raise ValueError("burst must be at least 1")
        if retry_after is not None and retry_after < 1:
            raise ValueError("retry_after must be at least 1 (whole seconds, as APF sends)")
        old = self.buckets.get(user)
        bucket = Bucket(rate=float(rate), burst=size, retry_after=retry_after,
                        tokens=float(size), updated=self._clock())
        if old is not None:  # keep the counts across a change of limit
            bucket.allowed, bucket.throttled = old.allowed, old.throttled
            bucket.early_retries = old.early_retries
        self.buckets[user] = bucket
        return {"user": user, "limit": bucket.describe()}

    def limited(self, user: User) -> bool:
        return user.name in self.buckets and EXEMPT_GROUP not in user.groups

    def admit(self, user: User, key: RequestKey) -> int | None:
        """None = serve it; else the Retry-After (seconds) of the 429 to answer."""
        bucket = self.buckets.get(user.name)
        if bucket is None or EXEMPT_GROUP in user.groups:
            return None
        now = self._clock()
        early_until = self._waits.pop(key, None)
        if early_until is not None and now < early_until:
            bucket.early_retries += 1
            log.warning("APF: %s repeated %s %s %.2f s before its Retry-After ran out",
                        user.name, key[1], key[2], early_until - now)
        bucket.tokens = min(float(bucket.burst),
                            bucket.tokens + (now - bucket.updated) * bucket.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.allowed += 1
            return None
        bucket.throttled += 1
        retry = bucket.retry_after or max(1, math.ceil((1.0 - bucket.tokens) / bucket.rate))
        self._waits[key] = now + retry
        while len(self._waits) > MAX_REMEMBERED:
            self._waits.popitem(last=False)
        return retry

    def stats(self) -> dict[str, Any]:
        return {user: bucket.describe() for user, bucket in sorted(self.buckets.items())}


def headers(retry_after: int) -> list[tuple[str, str]]:
    """APF's 429 headers (http.Error's content type and nosniff, plus APF's own)."""
    return [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
        ("Retry-After", str(retry_after)),
        ("X-Kubernetes-PF-FlowSchema-UID", FLOW_SCHEMA_UID),
        ("X-Kubernetes-PF-PriorityLevel-UID", PRIORITY_LEVEL_UID),
        ("Content-Length", str(len(BODY))),
    ]


def parse_limit(text: str) -> tuple[str, float, int | None]:
    """``USER=RATE[:BURST]`` (the ``--rate-limit`` flag) → (user, rate, burst)."""
    user, sep, spec = text.rpartition("=")
    if not sep or not user or not spec:
        raise ValueError(f"--rate-limit wants USER=RATE[:BURST], got {text!r}")
    rate_text, _, burst_text = spec.partition(":")
    return user, float(rate_text), int(burst_text) if burst_text else None
