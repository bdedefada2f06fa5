"""One log format for everything a ``pushsvc serve`` process writes: pushsvc, gunicorn, the app.

gunicorn keeps its own handler and format on ``gunicorn.error``, and nothing configures the
root logger under a plain ``gunicorn myapp:app``: pushsvc's INFO lines were lost and two
formats interleaved. ``configure_logging`` puts one handler on the root logger (set up in
the master, inherited by the forked worker) and :class:`GunicornLogger` sends gunicorn's
lines through it.

``PUSHSVC_LOG_FORMAT=json`` writes one JSON object per line for log collectors: ``time``
(UTC, ISO 8601), ``level``, ``logger``, ``message``, ``pod``, ``pid``, and ``exception``
when there is one. The formatter adds no request data: whatever the code logs (never a
token or a payload, by rule) is all that is written.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (tracebacks become a string field)."""

    def __init__(self, pod: str) -> None:
        super().__init__()
        self.pod = pod

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pod": self.pod,
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def pod_name(configured: str | None) -> str:
    """The pod a line comes from: PUSHSVC_POD_NAME, else $HOSTNAME (the pod name in Kubernetes)."""
    return configured or os.environ.get("HOSTNAME") or socket.gethostname()


def configure_logging(level: str, log_format: str = "text", *, pod: str | None = None) -> None:
    """Root logging for this process and the worker it forks: one handler, one format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(pod_name(pod)))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(True)  # a warning is a log line too, in the same format
    # python-socketio/engineio add their own handler when their level is unset: avoid
    # duplicate lines by giving them a level and letting them propagate to ours.
    for name in ("socketio.server", "engineio.server", "socketio.client", "engineio.client"):
        logging.getLogger(name).setLevel(logging.ERROR)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger without its own handlers: its lines propagate to the root handler."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
