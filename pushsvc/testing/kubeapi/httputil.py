"""Request and response plumbing shared by every resource the emulator serves.

Bodies are read with kube-apiserver's 3 MiB limit (413 past it), answers are written with an
explicit ``Content-Length`` and the reason phrase a Go server sends, and the query helpers
give the apiserver's 400 texts for what they cannot parse.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from .status import ApiError, bad_request

if TYPE_CHECKING:
    from .store import Store

MAX_BODY = 3 * 1024 * 1024
StartResponse = Callable[..., Callable[[bytes], Any]]
JSON_HEADERS = [("Content-Type", "application/json")]


def json_response(start_response: StartResponse, code: int, body: Any) -> list[bytes]:
    return raw_response(start_response, code, orjson.dumps(body))


STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
               403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
               422: "Unprocessable Entity", 500: "Internal Server Error",
               504: "Gateway Timeout"}


def raw_response(start_response: StartResponse, code: int, body: bytes) -> list[bytes]:
    start_response(f"{code} {STATUS_TEXT.get(code, 'Unknown')}",
                   [*JSON_HEADERS, ("Content-Length", str(len(body)))])
    return [body]


def read_body(environ: dict[str, Any]) -> bytes:
    length_text = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length_text:
        length = int(length_text)
        if length > MAX_BODY:
            raise ApiError(413, f"Request entity too large: limit is {MAX_BODY}")
        return bytes(stream.read(length))
    data = bytes(stream.read(MAX_BODY + 1))
    if len(data) > MAX_BODY:
        raise ApiError(413, f"Request entity too large: limit is {MAX_BODY}")
    return data


def object_name(environ: dict[str, Any]) -> str:
    """The name of the object a create or update carries (read, then put back)."""
    if environ.get("REQUEST_METHOD") not in ("POST", "PUT"):
        return ""
    body = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        meta = orjson.loads(body).get("metadata") or {}
        return str(meta.get("name") or "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""


def drain(environ: dict[str, Any]) -> None:
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text and int(length_text) <= MAX_BODY:
        environ["wsgi.input"].read(int(length_text))


def delete_preconditions(environ: dict[str, Any]) -> dict[str, Any] | None:
    """``preconditions`` (uid, resourceVersion) of a DELETE's DeleteOptions body, if any."""
    body = read_body(environ)
    if not body.strip():
        return None
    try:
        options = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"couldn't get version/kind; json parse error: {err}") from None
    if not isinstance(options, dict):
        raise bad_request("couldn't get version/kind; json parse error: not an object")
    preconditions = options.get("preconditions")
    return preconditions if isinstance(preconditions, dict) else None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (good enough for strategic merge patches of Events)."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def int_param(query: dict[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"unable to parse {key}: strconv.ParseInt: parsing {text!r}: "
                          "invalid syntax") from None


def check_not_too_large(store: Store, query: dict[str, str]) -> None:
    """list/get at a resourceVersion the store does not have yet: 504 "Too large resource
    version" (the API concepts page, "Unavailable resource versions"; kubernetes#91073).
    The real server first waits up to ~3 s for it; the emulator answers at once."""
    text = query.get("resourceVersion", "")
    if text.isdigit() and int(text) > store.rv:
        raise ApiError(504, f"Too large resource version: {text}, current: {store.rv}",
                       reason="Timeout", details={
                           "causes": [{"reason": "ResourceVersionTooLarge",
                                       "message": "Too large resource version"}],
                           "retryAfterSeconds": 1})


def query_of(environ: dict[str, Any]) -> dict[str, str]:
    """The query string, the last value of each repeated key (as the apiserver reads it)."""
    return {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""),
                                          keep_blank_values=True).items()}


def watch_requested(query: dict[str, str]) -> bool:
    """``?watch=true`` (or 1) on a collection: a watch, as the ``/watch/`` path prefix is."""
    return query.get("watch", "").lower() in ("1", "true")


def wants_table(environ: dict[str, Any]) -> bool:
    """kubectl asks for a server-side Table with ``Accept: ...;as=Table;...``."""
    return "as=Table" in environ.get("HTTP_ACCEPT", "")


def start_stream(start_response: StartResponse) -> None:
    """A watch's 200 and headers, sent now: clients wait for them before reading the stream."""
    write = start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Cache-Control", "no-cache, private")])
    write(b"")
