"""The emitter reads an API server's reply to a create itself (``emitter.rawhttp._read_response``):
Content-Length, chunked (a large Event) or until close, and a reply cut short is a connection
error (retried), never a half-read success."""

from __future__ import annotations

import socket

import pytest
import urllib3

from emitter.rawhttp import _read_response


def _reply(raw: bytes, *, close: bool = True) -> tuple[int, str, dict[str, str], bytes, bool]:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(raw)
        if close:
            theirs.close()
        status, reason, headers, body, keep = _read_response(ours)
        return status, reason, dict(headers), body, keep
    finally:
        ours.close()
        theirs.close()


def test_a_content_length_reply_keeps_the_connection():
    status, reason, headers, body, keep = _reply(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        close=False)
    assert (status, reason, body, keep) == (201, "Created", b"{}", True)
    assert headers["Content-Type"] == "application/json"


def test_a_chunked_reply_is_joined_and_connection_close_is_honoured():
    status, _, _, body, keep = _reply(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n")
    assert (status, body, keep) == (201, b'{"a":1}', False)


def test_a_reply_without_length_is_read_to_the_end_and_not_reused():
    status, _, headers, body, keep = _reply(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n\r\ntoo many")
    assert (status, body, keep, headers["Retry-After"]) == (429, b"too many", False, "3")


def test_a_reply_cut_short_is_a_connection_error():
    with pytest.raises(urllib3.exceptions.ProtocolError):
        _reply(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n{}")
    with pytest.raises(urllib3.exceptions.ProtocolError):
        _reply(b"")
