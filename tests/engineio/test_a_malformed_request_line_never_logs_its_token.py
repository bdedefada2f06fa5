"""Defect (c) of issue 21: a malformed request line is answered 400 and logged without
its token — it may carry ``?token=`` (a JWT). gevent's pywsgi wrote the whole line, token
included, to the error log; pushsvc's worker logs the refusal without the line."""

from __future__ import annotations

import socket
from collections.abc import Callable

import requests

from tests.support import PushsvcProcess, wait_until

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.never-logged"


def test_the_token_of_a_bad_request_line_is_not_logged(
    serve_with: Callable[..., PushsvcProcess]
) -> None:
    server = serve_with()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET /socket.io/?EIO=4&token={SECRET} HTTP/9.9\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes, after its log lines
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
    # The refused request's greenlet has ended (and logged) before the next one is served.
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    wait_until(lambda: "invalid request" in server.read_log(), what="the refusal's log line")
    log = server.read_log()
    assert SECRET not in log and "never-logged" not in log
    assert "Traceback" not in log  # the handler had no environ for that request
