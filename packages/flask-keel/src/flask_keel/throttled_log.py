"""Logging a dependency's outage: once when it starts, at most every 30 s while it
lasts, once when it ends; never a line per failed request.

Used for the session store, the cache, the login rate-limit store and the
database, each under its own logger.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class ThrottledLog:
    """Logs a failing dependency without one line per request."""

    def __init__(self, name: str, logger: logging.Logger, interval: float = 30.0, counter: Any = None):
        self.log = logger
        # A Prometheus counter (flask_keel/metrics.py) bumped at every failure, logged or not.
        self.counter = counter
        self.name = name
        self.interval = interval
        self.failures = 0
        self.last_logged = 0.0
        self._lock = threading.Lock()

    def failure(self, exc: BaseException) -> None:
        if self.counter is not None:
            self.counter.inc()
        with self._lock:
            self.failures += 1
            now = time.monotonic()
            first = self.failures == 1
            if not first and now - self.last_logged < self.interval:
                return
            self.last_logged = now
            count = self.failures
        if first:
            self.log.error("%s is unavailable: %s", self.name, exc)
        else:
            self.log.error("%s is still unavailable (%d failures so far): %s", self.name, count, exc)

    def success(self) -> None:
        if not self.failures:
            return
        with self._lock:
            count, self.failures = self.failures, 0
        if count:
            self.log.warning("%s is reachable again after %d failures", self.name, count)
