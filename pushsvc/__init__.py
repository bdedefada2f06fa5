"""pushsvc: Kubernetes-native Socket.IO push for Flask.

``create_app()`` builds a pushsvc-only app (the classic demo protocol and page on);
``init_app(app)`` adds push to an existing Flask app and returns its ``SocketIO``
(``classic=True`` adds the classic protocol there too). Both are imported lazily: a
gunicorn gevent worker must monkey-patch before Flask-SocketIO, ssl, urllib3 or
kubernetes are imported, and importing this package must not get in the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from pushsvc.presence import Presence
    from pushsvc.settings import Settings

#: The package's version: the one place it is written. pyproject.toml reads it (setuptools
#: parses this file for the literal, importing nothing); ``emitter.__version__`` equals it.
__version__ = "0.1.0"

__all__ = ["__version__", "create_app", "init_app", "presence_of"]


def create_app(settings: Settings | None = None, *, classic: bool = True) -> Flask:
    """A Flask app serving pushsvc (see :func:`pushsvc.app.create_app`)."""
    from pushsvc.app import create_app as _create_app

    return _create_app(settings, classic=classic)


def init_app(app: Flask, settings: Settings | None = None, *, classic: bool = False
             ) -> SocketIO:
    """Add pushsvc to an existing Flask app (see :func:`pushsvc.app.init_app`)."""
    from pushsvc.app import init_app as _init_app

    return _init_app(app, settings, classic=classic)


def presence_of(app: Flask) -> Presence:
    """Who is in a room on every pod (see :func:`pushsvc.presence.presence_of`)."""
    from pushsvc.presence import presence_of as _presence_of

    return _presence_of(app)
