"""Points storage refused for good, kept as Carbon lines so they can be replayed; rate-limited logs.

With a dead-letter directory, the points of a batch that could not be stored
after every retry are appended to ``DIR/<schema>.carbon`` as ``name value
timestamp`` lines: the names and values as the schema would have stored them
(after aggregates, ``transform`` and ``write_func``). Without one, the same
lines go to the log at ERROR level, one record per batch.
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Dict, Optional

from .carbon import format_line
from .processing import Batch

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class DeadLetter:
    """Writes what could not be stored where an operator can find and replay it."""

    def __init__(self, directory: Optional[str] = None):
        self.directory = directory
        if directory:
            os.makedirs(directory, exist_ok=True)

    def path_for(self, schema: str) -> Optional[str]:
        if not self.directory:
            return None
        return os.path.join(self.directory, _UNSAFE.sub("_", schema) + ".carbon")

    def write(self, batch: Batch, why: str) -> None:
        """Record every point of ``batch`` and log one error naming the schema and the cause."""
        lines = "".join(format_line(stat, value, ts) for stat, value, ts in batch.items())
        path = self.path_for(batch.schema.name)
        if path:
            try:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(lines)
            except OSError as err:
                log.error("schema %s: cannot write dead letters to %s (%s)", batch.schema.name, path, err)
            else:
                log.error("schema %s: %d points not stored (%s); appended to %s",
                          batch.schema.name, batch.points, why, path)
                return
        log.error("schema %s: %d points not stored (%s); as Carbon lines:\n%s",
                  batch.schema.name, batch.points, why, lines.rstrip("\n"))


class Throttle:
    """Lets at most ``limit`` messages per key through in each ``period`` seconds, counts the rest."""

    def __init__(self, limit: int = 10, period: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: Dict[str, list] = {}  # key -> [window start, sent, suppressed]

    def allow(self, key: str) -> bool:
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.period:
            if window is not None and window[2]:
                log.warning("%d more %s message(s) suppressed in the last %.0f s",
                            window[2], key, now - window[0])
            window = self._windows[key] = [now, 0, 0]
        if window[1] < self.limit:
            window[1] += 1
            return True
        window[2] += 1
        return False
