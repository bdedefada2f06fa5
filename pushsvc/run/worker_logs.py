"""What pushsvc's gunicorn worker (``pushsvc.engineio.worker``) logs, and how.

gevent's pywsgi server and its hub write straight to stderr; routed through logging they keep
pushsvc's one format (one JSON line with ``PUSHSVC_LOG_FORMAT=json``) and its redacting
request loggers. The ready line says what the worker really runs with, as gunicorn gave it.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

from gunicorn.workers.ggevent import PyWSGIServer

from pushsvc.service import find_service

#: The ready line keeps this logger's name whichever worker writes it (log queries use it).
ready_log = logging.getLogger("pushsvc.worker")


class LoggingWSGIServer(PyWSGIServer):
    """gunicorn's pywsgi server whose error lines go through logging, not raw to stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_log", logging.getLogger("gevent.pywsgi"))
        super().__init__(*args, **kwargs)


def log_greenlet_error(context: Any, kind: type[BaseException], value: BaseException,
                       tb: Any) -> None:
    """gevent's hub's ``print_exception``, as one log record."""
    logging.getLogger("gevent.hub").error("%s failed with %s", context, kind.__name__,
                                          exc_info=(kind, value, tb))


def log_ready(worker: Any) -> None:
    """The worker's ready line: its connections, graceful timeout, fd limit, push on/off."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    ready_log.info("worker %d ready: worker_connections=%d, graceful_timeout=%d s, open files "
                   "limit %s, push %s", worker.pid, worker.cfg.worker_connections,
                   worker.cfg.graceful_timeout,
                   "unlimited" if soft == resource.RLIM_INFINITY else soft,
                   "on" if find_service(worker.wsgi) is not None else "off")
