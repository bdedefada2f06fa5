"""The WSGI entry point gunicorn loads: ``pushsvc.run.wsgi:app``.

``pushsvc serve`` calls ``build_app(settings)`` inside the worker, after the
gevent worker has monkey-patched. Running gunicorn by hand also works::

    gunicorn -k pushsvc.engineio.worker.Worker -w 1 --no-control-socket pushsvc.run.wsgi:app

``app`` is built on first access (PEP 562), so importing this module builds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gevent import monkey

if not monkey.is_module_patched("socket"):
    # Imported outside a gevent worker: patch before Flask-SocketIO/ssl/kubernetes load.
    monkey.patch_all()

if TYPE_CHECKING:
    from flask import Flask

    from pushsvc.settings import Settings

_app: Flask | None = None


def build_app(settings: Settings | None = None) -> Flask:
    """Build (once) the pushsvc app this process serves."""
    global _app
    if _app is None:
        from pushsvc.app import create_app

        _app = create_app(settings)
    return _app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
