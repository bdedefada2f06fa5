"""Tokens never reach a request log line: ``?token=...`` is redacted in the request loggers."""

from __future__ import annotations

import logging
import re
from typing import Any

from pushsvc.identity.tokens import QUERY_PARAMETER

_TOKEN_IN_TEXT = re.compile(r"([?&]" + QUERY_PARAMETER + r"=)[^&\s\"']*")
#: Loggers that write request lines (with their query strings): gunicorn's access log and
#: gevent's server errors (a malformed request line is quoted; pushsvc.run.worker_logs logs
#: them).
REQUEST_LOGGERS = ("gunicorn.access", "gevent.pywsgi")


class RedactTokens(logging.Filter):
    """Replace ``token=...`` in request lines: a client that cannot send ``auth`` puts its
    JWT in the query string, and access logs print the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and QUERY_PARAMETER + "=" in record.msg:
            record.msg = _TOKEN_IN_TEXT.sub(r"\1REDACTED", record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(v) for v in record.args)
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str) and QUERY_PARAMETER + "=" in value:
        return _TOKEN_IN_TEXT.sub(r"\1REDACTED", value)
    return value


def install_log_redaction() -> None:
    """Put :class:`RedactTokens` on the request loggers (once; init_app calls it)."""
    for name in REQUEST_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())
