"""Process and run: the ``pushsvc`` command, the WSGI entry point gunicorn loads, the one log
format, and ``pushsvc demo``.

- :mod:`pushsvc.run.cli`: ``pushsvc serve``, ``settings``, ``token``, ``demo`` (standard
  library only at the top, so a notifier-only install gets a clear message);
- :mod:`pushsvc.run.wsgi`: ``pushsvc.run.wsgi:app``, built in the worker after gevent's
  patching (importing it monkey-patches when nothing has yet);
- :mod:`pushsvc.run.logs`: root logging and gunicorn's logger class;
- :mod:`pushsvc.run.demo`: the local three-pod topology (the one module of the server that
  imports ``pushsvc.testing``).

Only ``main`` is offered here, and imported when called: importing this package (which
importing ``pushsvc.run.wsgi`` does before it patches) must load nothing gevent would have
to patch after the fact.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pushsvc`` command (see :func:`pushsvc.run.cli.main`)."""
    from pushsvc.run.cli import main as _main

    return _main(argv)
