"""Stats no schema matches: counted per top-level prefix, logged at a bounded rate, optionally kept.

A point whose name (and every aggregate of it) matches no schema cannot be
stored. karbon drops it, but never silently: ``Unmatched.record`` counts it under
the first dotted component of its name (``servers.web1.cpu`` -> ``servers``; a
tagged name by its path), logs a ``NOMATCH`` warning at most ``Throttle.limit``
times a minute naming the prefixes and an example, and, with a file, appends the
points as Carbon lines (``name value timestamp``), so that once the missing schema
is added they can be sent again (``nc localhost 2003 < FILE``). The file is
bounded: a batch that would take it past ``max_bytes`` is not written (counted and
logged instead) until the file is moved away or emptied.

``counts()`` is the per-prefix total since start, for metrics exporters; at most
``max_prefixes`` prefixes are told apart (a flood of random names cannot grow
memory), later ones are counted under ``OTHER``.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any, Dict, Optional, Sequence, Tuple

from .carbon import format_line, truncate
from .dead_letter import Throttle, append_whole

log = logging.getLogger(__name__)

#: the prefix under which names are counted once ``max_prefixes`` are known
OTHER = "_other"
MAX_PREFIXES = 1000
#: the default bound of the unmatched file
DEFAULT_FILE_BYTES = 64 * 1024 * 1024
#: prefixes named in one log line
SHOWN = 5

Point = Tuple[str, Any, Any]


def prefix_of(stat: str) -> str:
    """The first dotted component of a stat's path (tags left out)."""
    return stat.split(";", 1)[0].split(".", 1)[0]


class Unmatched:
    """What karbon knows about the points it could not route (see the module's docstring)."""

    def __init__(self, path: Optional[str] = None, max_bytes: int = DEFAULT_FILE_BYTES,
                 throttle: Optional[Throttle] = None, max_prefixes: int = MAX_PREFIXES):
        self.path = path
        self.max_bytes = max_bytes
        self.throttle = throttle or Throttle()
        self.max_prefixes = max_prefixes
        self._counts: Dict[str, int] = {}
        #: points recorded since start
        self.total = 0
        #: points appended to the file, and points the file could not take (full or unwritable)
        self.written = 0
        self.unwritten = 0

    def counts(self) -> Dict[str, int]:
        """``{prefix: points}`` since start (a copy: safe to read from another greenlet)."""
        return dict(self._counts)

    def record(self, points: Sequence[Point]) -> Dict[str, int]:
        """Count, log (rate-limited) and keep (with a file) points no schema matched; the
        batch's ``{prefix: points}`` (what the Prometheus counter adds)."""
        if not points:
            return {}
        batch = Counter(prefix_of(stat) for stat, _, _ in points)
        counts = self._counts
        for prefix, number in batch.items():
            if prefix not in counts and len(counts) >= self.max_prefixes:
                prefix = OTHER
            counts[prefix] = counts.get(prefix, 0) + number
        self.total += len(points)
        if self.throttle.allow("unmatched"):
            shown = ", ".join("%s (%d, %d since start)" % (prefix, number, counts.get(prefix, 0))
                              for prefix, number in batch.most_common(SHOWN))
            more = len(batch) - SHOWN
            log.warning("NOMATCH %d point(s) match no schema, by prefix: %s%s; e.g. %r",
                        len(points), shown,
                        " and %d more prefixes" % more if more > 0 else "",
                        truncate(points[0][0]))
        if self.path:
            self._write(self.path, points)
        return dict(batch)

    def _write(self, path: str, points: Sequence[Point]) -> None:
        text = "".join(format_line(stat, value, timestamp) for stat, value, timestamp in points)
        size = len(text.encode("utf-8"))
        try:
            held = os.path.getsize(path) if os.path.exists(path) else 0
            if held + size > self.max_bytes:
                self.unwritten += len(points)
                if self.throttle.allow("unmatched-file"):
                    log.warning("NOMATCH %s holds %d bytes, the limit is %d: %d point(s) not "
                                "written (%d so far); move it away to record again", self.path,
                                held, self.max_bytes, len(points), self.unwritten)
                return
            append_whole(path, text)
        except OSError as err:
            self.unwritten += len(points)
            if self.throttle.allow("unmatched-file"):
                log.error("NOMATCH cannot write to %s (%s): %d point(s) not written",
                          self.path, err, len(points))
            return
        self.written += len(points)
