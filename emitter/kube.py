"""Lean HTTP calls to the Events API, retries, and ApiException → pushsvc errors.

The generated ``CoreV1Api`` validates arguments and deserialises every response into models;
the bus needs neither. We build requests with the ``ApiClient`` (so in-cluster token refresh,
client certificates and exec plugins keep working) and read raw bytes. Non-2xx responses become
``ApiException`` first and then, at this edge, pushsvc's own errors raised ``from`` them.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pydantic_core
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

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


#: How long request headers (the bearer token) are reused before the client's refresh hook
#: runs again. In-cluster tokens are rotated by the kubelet long before they expire; a 401
#: drops the cache at once.
AUTH_CACHE_SECONDS = 30.0


def _headers(api_client: ApiClient) -> tuple[dict[str, str], bool]:
    """(headers, just refreshed): Accept, User-Agent and the bearer token, cached."""
    cached: tuple[dict[str, str], float] | None = getattr(api_client, "_pushsvc_headers", None)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0], False
    headers = {str(k): str(v) for k, v in api_client.default_headers.items()}
    headers["Accept"] = "application/json"
    # auth_settings() runs the configuration's refresh hook (token file, exec plugin).
    for setting in api_client.configuration.auth_settings().values():
        if setting.get("in") == "header" and setting.get("value"):
            headers[str(setting["key"])] = str(setting["value"])
    api_client._pushsvc_headers = (headers, now + AUTH_CACHE_SECONDS)  # type: ignore[attr-defined]
    return headers, True


class _OneWrite:
    """Request headers and a small body in one write (urllib3 and http.client send them in
    two: two TLS records, two packets, and an API server that may wake up for the headers and
    wait again for the body — on the critical path of every Event create)."""

    _hold = False
    _held: bytes | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None,
                **kw: Any) -> None:
        self._hold = isinstance(body, bytes) and 0 < len(body) <= _ONE_WRITE_MAX
        try:
            super().request(method, url, body=body, headers=headers, **kw)  # type: ignore[misc]
        except BaseException:
            self._held = None
            raise
        finally:
            self._hold = False
        held, self._held = self._held, None
        if held is not None:
            super().send(held)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        if self._hold:
            if self._held is None:
                self._held = bytes(data)  # the header block; the body comes next
                return
            data, self._held, self._hold = self._held + bytes(data), None, False
        super().send(data)  # type: ignore[misc]


_ONE_WRITE_MAX = 512 * 1024


class _OneWriteHTTPConnection(_OneWrite, urllib3.connection.HTTPConnection):
    pass


class _OneWriteHTTPSConnection(_OneWrite, urllib3.connection.HTTPSConnection):
    pass


class _OneWriteHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _OneWriteHTTPConnection


class _OneWriteHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _OneWriteHTTPSConnection


def _pool_for(api_client: ApiClient) -> tuple[Any, str]:
    """(the connection pool of the API server, the server URL's path prefix), cached.

    A plain PoolManager's ``request`` parses the URL and looks the pool up again on every call
    (~10 % of a create's client CPU); a proxy manager is left to do its own routing."""
    host = api_client.configuration.host
    cached: tuple[str, Any, str] | None = getattr(api_client, "_pushsvc_pool", None)
    if cached is not None and cached[0] == host:
        return cached[1], cached[2]
    manager = _one_write_pools(api_client)
    if type(manager) is not urllib3.PoolManager:
        return None, ""
    url = urllib3.util.parse_url(host)
    pool = manager.connection_from_host(url.host, port=url.port, scheme=url.scheme or "https")
    prefix = (url.path or "").rstrip("/")
    api_client._pushsvc_pool = (host, pool, prefix)  # type: ignore[attr-defined]
    return pool, prefix


def _one_write_pools(api_client: ApiClient) -> Any:
    """The ApiClient's urllib3 PoolManager, set (once) to make :class:`_OneWrite` connections
    for the pools it makes from now on. A proxy manager (or anything else) is left as it is."""
    manager = api_client.rest_client.pool_manager
    if type(manager) is urllib3.PoolManager and not getattr(manager, "_pushsvc_one_write",
                                                            False):
        manager.pool_classes_by_scheme = {"http": _OneWriteHTTPPool,
                                          "https": _OneWriteHTTPSPool}
        # A pool made before this (none, usually: the first request comes here) keeps its
        # connections: closing them could cut another user's open watch.
        setattr(manager, "_pushsvc_one_write", True)  # noqa: B010
    return manager


def _lean_post(pool: Any, target: str, data: bytes, headers: dict[str, str],
               timeout: urllib3.Timeout) -> urllib3.HTTPResponse:
    """A create on one of the pool's keep-alive connections, without urllib3's and
    http.client's per-request machinery (request building, the ``email`` header parser, the
    response object's layers): about half a notification's client CPU, spent on the path of
    every Event. The connection (TLS, client certificates, reconnecting a dropped one) is
    still urllib3's, taken from and given back to its pool (its private
    ``HTTPConnectionPool._get_conn``/``_put_conn``, hash-pinned in
    tests/unit/test_engine_limits_match_the_pinned_libraries.py). The response is read whole
    (a create's reply is one small object) and returned as an unread response over it, like
    every other request's: ``read()``, ``data``, ``drain_conn()`` and ``release_conn()`` all
    work (a preloaded one read as empty from ``read()`` under urllib3 2.x).
    """
    conn = pool._get_conn()  # urllib3's own pool; resets a dropped keep-alive connection
    keep = False
    try:
        conn.timeout = timeout.connect_timeout
        if conn.sock is None:
            conn.connect()
        sock = conn.sock
        sock.settimeout(timeout.read_timeout)
        port = "" if pool.port in (None, 443 if pool.scheme == "https" else 80) else \
            f":{pool.port}"
        host = f"[{pool.host}]" if ":" in pool.host else pool.host
        head = [f"POST {target} HTTP/1.1", f"Host: {host}{port}", "Accept-Encoding: identity",
                f"Content-Length: {len(data)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        status, reason, response_headers, body, keep = _read_response(sock)
    finally:
        if keep:
            pool._put_conn(conn)
        else:
            conn.close()
            pool._put_conn(None)  # gives the pool its slot back
    return urllib3.HTTPResponse(body=io.BytesIO(body), headers=response_headers, status=status,
                                reason=reason, preload_content=False, request_method="POST")


_MAX_RESPONSE = 16 * 1024 * 1024


def _read_response(sock: Any) -> tuple[int, str, urllib3.HTTPHeaderDict, bytes, bool]:
    """(status, reason, headers, body, connection reusable) of one HTTP/1.1 response."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        _recv_into(sock, buf)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, status_reason = lines[0].partition(" ")
    code, _, reason = status_reason.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise urllib3.exceptions.ProtocolError(f"bad status line from the API server: "
                                               f"{lines[0][:80]!r}")
    headers = urllib3.HTTPHeaderDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.add(name.strip(), value.strip())
    status = int(code)
    keep = version == "HTTP/1.1" and headers.get("Connection", "").lower() != "close"
    body = bytearray(rest)
    if status in (204, 304) or status < 200:
        return status, reason, headers, b"", keep
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return status, reason, headers, _read_chunked(sock, body), keep
    length = headers.get("Content-Length")
    if length is None or not length.isdigit():
        while _recv_into(sock, body, eof_ok=True):
            pass
        return status, reason, headers, bytes(body), False
    while len(body) < int(length):
        _recv_into(sock, body)
    return status, reason, headers, bytes(body[:int(length)]), keep


def _read_chunked(sock: Any, buf: bytearray) -> bytes:
    out = bytearray()
    while True:
        while b"\r\n" not in buf:
            _recv_into(sock, buf)
        size_line, _, after = bytes(buf).partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        buf[:] = after
        if size == 0:
            while b"\r\n" not in buf:  # trailers end with an empty line
                _recv_into(sock, buf)
            return bytes(out)
        while len(buf) < size + 2:
            _recv_into(sock, buf)
        out += buf[:size]
        buf[:] = buf[size + 2:]


def _recv_into(sock: Any, buf: bytearray, *, eof_ok: bool = False) -> bool:
    chunk = sock.recv(65536)
    if not chunk:
        if eof_ok:
            return False
        raise urllib3.exceptions.ProtocolError("Connection aborted: the API server closed "
                                               "the connection before its response ended")
    buf += chunk
    if len(buf) > _MAX_RESPONSE:
        raise urllib3.exceptions.ProtocolError("the API server's response is too large")
    return True


def raw_request(
    api_client: ApiClient,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    timeout: float | tuple[float, float] | None = None,
) -> urllib3.BaseHTTPResponse:
    """One request; returns the unread urllib3 response, raises ApiException on non-2xx.

    It goes straight to the ``ApiClient``'s urllib3 pool (its TLS, client certificates and
    proxy) with cached headers: ``param_serialize`` and the refresh hook on every call were
    ~40 % of a notification's client CPU. Responses are never deserialised into models. A 401
    with a cached token refreshes the token and tries once more.
    """
    target = path + ("?" + urlencode(query) if query else "")
    data = pydantic_core.to_json(body) if body is not None else None
    if isinstance(timeout, tuple):
        urllib3_timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
    else:
        urllib3_timeout = urllib3.Timeout(total=timeout)
    while True:
        headers, fresh = _headers(api_client)
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        pool, prefix = _pool_for(api_client)
        if pool is not None and method == "POST" and data is not None:
            response = _lean_post(pool, prefix + target, data, headers, urllib3_timeout)
        elif pool is not None:
            response = pool.urlopen(method, prefix + target, body=data, headers=headers,
                                    timeout=urllib3_timeout, preload_content=False,
                                    retries=False, redirect=False, assert_same_host=False)
        else:
            response = _one_write_pools(api_client).request(
                method, api_client.configuration.host + target, body=data, headers=headers,
                timeout=urllib3_timeout, preload_content=False, retries=False)
        if 200 <= response.status <= 299:
            return response
        rest_response = RESTResponse(response)
        rest_response.read()
        if response.status == 401:
            api_client._pushsvc_headers = None  # type: ignore[attr-defined]
            if not fresh:
                continue  # the cached token may have been rotated
        raise ApiException.from_response(http_resp=rest_response, body=None, data=None)


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
