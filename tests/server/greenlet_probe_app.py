"""pushsvc plus one test-only route: how many greenlets its worker holds right now.

Served by gunicorn in tests/server/test_an_idle_websocket_parks_no_writer_greenlet.py; never
part of the server (``pushsvc.run.wsgi`` has no such route).
"""

from __future__ import annotations

import gc

import greenlet

from pushsvc.run.wsgi import build_app

app = build_app()


@app.get("/_test/greenlets")
def live_greenlets() -> dict[str, int]:
    # Greenlets holding a stack: suspended ones have a frame (the running one is this route).
    # A greenlet scheduled by a timer and not yet started has none.
    return {"alive": sum(1 for o in gc.get_objects()
                         if isinstance(o, greenlet.greenlet) and o.gr_frame is not None)}
