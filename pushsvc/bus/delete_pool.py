"""The janitor's deleters: a few threads (greenlets under gevent) behind a small bounded queue.

One delete at a time, a round trip of 10 ms caps the janitor at 100 deletes/s, below what a
busy bus creates; the janitor's token bucket still sets the rate.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class DeletePool:
    """A few deleter threads (greenlets under gevent) fed through a small bounded queue."""

    def __init__(self, delete: Callable[[dict[str, Any]], str], outcomes: dict[str, int], *,
                 size: int) -> None:
        self._delete = delete
        self._outcomes = outcomes
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=size)
        self._threads = [threading.Thread(target=self._work, name=f"janitor-delete-{k}",
                                          daemon=True) for k in range(max(1, size))]
        for thread in self._threads:
            thread.start()

    def submit(self, item: dict[str, Any]) -> None:
        self._queue.put(item)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._outcomes.get("forbidden"):
                continue  # one 403 is enough: the rest of the pass would be refused too
            try:
                outcome = self._delete(item)
            except Exception:  # a bug must not leave the pass waiting for this worker
                logger.exception("janitor: delete failed unexpectedly")
                outcome = "error"
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1

    def close(self) -> None:
        """Wait for the deletes already handed over, then end the workers."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
