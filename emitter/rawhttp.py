"""The lean HTTP client of the Kubernetes API: one-write requests on urllib3's pools.

The generated ``CoreV1Api`` validates arguments and deserialises every response into models;
the bus needs neither. We build requests with the ``ApiClient`` (so in-cluster token refresh,
client certificates and exec plugins keep working) and read raw bytes. Non-2xx responses become
``ApiException`` here; :mod:`emitter.kube` turns them into pushsvc's own errors and retries.
"""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import urlencode

import pydantic_core
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

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
