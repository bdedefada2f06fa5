"""How a watch loop reaches the API: a paged list and a stream of raw watch lines.

:class:`KubeTransport` is the real one (raw HTTP through the kubernetes ``ApiClient``, lines
parsed by the caller with orjson, not the generated models); tests hand the loop a scripted
one with the same two methods (:class:`WatchTransport`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import urllib3
from kubernetes.client import ApiClient

from emitter.wire import raw_request

#: A list page of about this many bytes: bounded memory, few requests for small objects.
_PAGE_TARGET_BYTES = 4 * 1024 * 1024
_FIRST_PAGE = 50
_MIN_PAGE = 5


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its items and the list's resourceVersion (the same on every page)."""

    items: list[dict[str, Any]]
    resource_version: str


class WatchTransport(Protocol):
    """What a watch loop needs from the API: a paged list and a stream of raw watch lines."""

    def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]: ...

    def watch(self, resource_version: str) -> contextlib.AbstractContextManager[Iterable[bytes]]:
        ...


class WatchStream:
    """The lines of one watch response, and a way to end it from another thread."""

    def __init__(self, resp: urllib3.BaseHTTPResponse) -> None:
        self._resp = resp

    def __iter__(self) -> Iterator[bytes]:
        return lines(self._resp)

    def abort(self) -> None:
        """Shut the socket down under the reader, which then sees the stream end.

        Closing the response from another thread would race the reader's own read (a
        reentrant close; ``Watch.stop()`` from another greenlet gives a ``ProtocolError``)."""
        sock = getattr(getattr(self._resp, "_connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class KubeTransport:
    """The real transport: raw HTTP through the kubernetes ``ApiClient`` for one collection.

    :param path: the collection, e.g. ``/api/v1/namespaces/NS/events``.
    :param page_size: the largest page; with ``adaptive_pages`` the size follows the objects'
        size (about ``_PAGE_TARGET_BYTES`` a page), otherwise every page asks for this many.
    """

    def __init__(self, api_client: ApiClient, *, path: str, label_selector: str,
                 timeout_seconds: int, read_timeout_seconds: float,
                 connect_timeout_seconds: float = 10.0, page_size: int = 500,
                 adaptive_pages: bool = True,
                 list_read_timeout_seconds: float | None = None) -> None:
        self.api_client = api_client
        self.path = path
        self.label_selector = label_selector
        self.timeout_seconds = timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.page_size = page_size
        self.adaptive_pages = adaptive_pages
        self.list_read_timeout_seconds = list_read_timeout_seconds or read_timeout_seconds

    def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]:
        """Pages of the list, fetched one at a time: a namespace full of objects (up to 256 KiB
        of payload each) is never held in memory at once. Adaptive pages start small, grow
        while objects are small (the usual ~1 KB) up to ``page_size`` and shrink when they are
        large. ``limit`` fixes the size."""
        version = ""
        token = ""
        if limit:
            size = limit
        else:
            size = min(_FIRST_PAGE, self.page_size) if self.adaptive_pages else self.page_size
        while True:
            query = [("labelSelector", self.label_selector), ("limit", str(size))]
            if token:
                query.append(("continue", token))
            resp = raw_request(self.api_client, "GET", self.path, query=query,
                               timeout=(self.connect_timeout_seconds,
                                        self.list_read_timeout_seconds))
            raw = resp.data
            body = orjson.loads(raw)
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            token = meta.get("continue") or ""
            page = ListPage(body.get("items") or [], version)
            if limit is None and self.adaptive_pages and page.items:
                per_item = max(1, len(raw) // len(page.items))
                size = min(self.page_size, max(_MIN_PAGE, _PAGE_TARGET_BYTES // per_item))
            del body, resp, raw
            yield page
            del page  # not alive while the next page is read
            if not token:
                return

    @contextlib.contextmanager
    def watch(self, resource_version: str) -> Iterator[WatchStream]:
        query = [
            ("labelSelector", self.label_selector),
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(self.timeout_seconds)),
            ("allowWatchBookmarks", "true"),
        ]
        resp = raw_request(self.api_client, "GET", self.path, query=query,
                           timeout=(self.connect_timeout_seconds, self.read_timeout_seconds))
        try:
            yield WatchStream(resp)
        finally:
            # release_conn() would try to reuse a half-read stream: close it instead.
            resp.close()


def lines(resp: Any) -> Iterator[bytes]:
    """The non-empty lines of a watch response, each as soon as its chunk arrives."""
    buffer = b""
    # amt=None: hand over each chunk as soon as it arrives (one object is one chunk)
    for chunk in resp.stream(None, decode_content=False):
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer
