"""The two message-size limits, and one log line when the hard one closes a connection.

- Soft limit, ``max_message_bytes``: checked in the handlers on the decoded
  arguments; the client gets an ``error`` event (code ``too_large``) and stays
  connected.
- Hard limit, 4 x ``max_message_bytes``: python-engineio's
  ``max_http_buffer_size``. Past it Engine.IO closes the connection (WebSocket:
  the frame is refused; long-polling: the POST gets 400 and the session ends),
  without a word in the default logs. The JS client v4 also reads it as
  ``maxPayload`` and never batches past it.

This module makes that second case visible: one warning line per closed
connection, without the payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

_ENGINEIO_TOO_LARGE = "packet is too large"
_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _EngineIOFilter(logging.Filter):
    """Drop two expected Engine.IO warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A long-poll arriving just after the server closed its session: expected during a
        # drain or a disconnect_request, not an error. A refused origin is logged by
        # pushsvc.origins, naming the setting to change.
        text = str(record.msg)
        return not (
            text.startswith("'Session is disconnected'") or "is not an accepted origin" in text
        )


class _EngineIOLogger(logging.Logger):
    """python-engineio's logger: its INFO calls cost nothing, except the one we want.

    Engine.IO logs every packet sent and received at INFO. Enabling INFO so that a filter
    could pick out "packet is too large" built a LogRecord per delivery (+6-9 µs, a quarter
    of the server's CPU per delivered message); this checks the arguments instead.
    """

    hard_limit = 0

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 2 and args[1] == _ENGINEIO_TOO_LARGE:
            log.warning(
                "closed connection (engine.io sid %s): a WebSocket message exceeded the hard "
                "limit of %d bytes (4 x PUSHSVC_MAX_MESSAGE_BYTES)", args[0], self.hard_limit,
            )


def engineio_logger(hard_limit: int) -> logging.Logger:
    """The logger handed to python-engineio: its warnings and errors, and the hard limit."""
    logger = _EngineIOLogger("pushsvc.engineio", logging.WARNING)
    logger.parent = logging.getLogger("pushsvc")
    logger.hard_limit = hard_limit
    logger.addFilter(_EngineIOFilter())
    return logger


def log_oversized_polls(wsgi_app: _WSGIApp, *, hard_limit: int, path: str = "/socket.io/"
                        ) -> _WSGIApp:
    """Wrap the WSGI app: log one line when a long-polling POST is over the hard limit."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and str(environ.get("PATH_INFO", "")).startswith(
            path
        ):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > hard_limit:
                sid = parse_qs(str(environ.get("QUERY_STRING", ""))).get("sid", ["?"])[0][:40]
                log.warning(
                    "closed connection (engine.io sid %s): a long-polling POST of %d bytes "
                    "exceeded the hard limit of %d bytes (4 x PUSHSVC_MAX_MESSAGE_BYTES)",
                    sid,
                    length,
                    hard_limit,
                )
        return wsgi_app(environ, start_response)

    return middleware
