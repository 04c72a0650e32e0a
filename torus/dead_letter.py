"""Points storage did not take, kept as Carbon lines with their batch ids; rate-limited logs.

With a dead-letter directory, the parts of a batch that were not stored after
every retry are appended to ``DIR/<schema>.carbon``: one header line per part,

    # karbon-dead-letter {"schema": "counts", "batch": "3f2a9c1e0b7d4a55.17", "now": 1700000000.5,
                          "points": 2, "reason": "BackendError: ..."}

then its points as ``name value timestamp`` lines: the names and values as the
schema would have stored them (after aggregates, ``transform`` and ``write_func``).
Only parts not known to be stored are written. A part whose last attempt timed out
may still have been applied by the database: ``karbon_replay`` sends each part under
its batch id and ``now``, so the engine applies it only if it was not (exactly once,
within the engine's ``batch_ttl``). Without a directory, the same text goes to the
log at ERROR level, one record per batch.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, TextIO

from .carbon import BadLine, DroppedValue, format_line, parse_value
from .processing import Batch, Inserts

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
HEADER = "# karbon-dead-letter "
SUFFIX = ".carbon"


@dataclass
class Part:
    """One part of a batch read back from a dead-letter file."""

    schema: str
    batch: Optional[str]
    now: Optional[float]
    inserts: Inserts
    points: int
    reason: str = ""
    line: int = 0  # where its header is, for messages
    text: str = ""  # its lines as read (to keep it as it was)


def render(batch: Batch, why: str) -> str:
    """The dead-letter text of every part of ``batch`` that is not stored."""
    reason = " ".join(why.split())  # one line
    out = []
    for unit in batch.unstored():
        header = {"schema": batch.schema.name, "batch": unit.id, "now": batch.created,
                  "points": unit.points, "reason": reason}
        out.append(HEADER + json.dumps(header) + "\n")
        out.extend(format_line(stat, value, ts) for stat, value, ts in unit.items())
    return "".join(out)


class DeadLetter:
    """Writes what could not be stored where an operator can find and replay it."""

    def __init__(self, directory: Optional[str] = None):
        self.directory = directory
        if directory:
            os.makedirs(directory, exist_ok=True)

    def path_for(self, schema: str) -> Optional[str]:
        if not self.directory:
            return None
        return os.path.join(self.directory, _UNSAFE.sub("_", schema) + SUFFIX)

    def write(self, batch: Batch, why: str) -> int:
        """Record every unstored point of ``batch``, log one error naming the schema and the
        cause; returns how many points were recorded."""
        text = render(batch, why)
        points = sum(unit.points for unit in batch.unstored())
        path = self.path_for(batch.schema.name)
        if path:
            try:
                append_whole(path, text)
            except OSError as err:
                log.error("schema %s: cannot write dead letters to %s (%s)", batch.schema.name, path, err)
            else:
                log.error("schema %s: %d points not stored (%s); appended to %s",
                          batch.schema.name, points, why, path)
                return points
        log.error("schema %s: %d points not stored (%s); as Carbon lines:\n%s",
                  batch.schema.name, points, why, text.rstrip("\n"))
        return points


def append_whole(path: str, text: str) -> None:
    """Append ``text`` with one write (O_APPEND): what several karbon workers append to one
    file never interleaves."""
    data = text.encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, data)
        while written < len(data):  # a regular file takes it whole; just in case
            written += os.write(descriptor, data[written:])
    finally:
        os.close(descriptor)


def read_parts(handle: TextIO, default_schema: Optional[str] = None) -> Iterator[Part]:
    """The parts of a dead-letter file; lines before any header (a file written by hand)
    form a part of ``default_schema`` without a batch id. Raises ValueError on a bad line."""
    part: Optional[Part] = None
    lines: List[str] = []
    for number, line in enumerate(handle, 1):
        if line.startswith(HEADER):
            if part is not None and part.points:
                part.text = "".join(lines)
                yield part
            lines = [line]
            try:
                header = json.loads(line[len(HEADER):])
                part = Part(str(header["schema"]), header.get("batch") or None, header.get("now"),
                            {}, 0, str(header.get("reason", "")), number)
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError("line %d: a header that cannot be read (%s)" % (number, err)) from None
            continue
        lines.append(line)
        fields = line.split()
        if not fields:
            continue
        if part is None:
            if default_schema is None:
                raise ValueError("line %d: a point before any header, and no schema named" % number)
            part = Part(default_schema, None, None, {}, 0, "", number)
        if len(fields) < 3:
            raise ValueError("line %d: expected 'name value timestamp'" % number)
        name, stamp = fields[0], fields[-1]
        try:
            value = parse_value(line.split(None, 1)[1].rsplit(None, 1)[0].strip())
            timestamp: float = float(stamp) if not stamp.lstrip("-").isdigit() else int(stamp)
        except (BadLine, DroppedValue, ValueError) as err:
            raise ValueError("line %d: %s" % (number, err)) from None
        part.inserts.setdefault(timestamp, {}).setdefault(name, []).append(value)
        part.points += 1
    if part is not None and part.points:
        part.text = "".join(lines)
        yield part


class Throttle:
    """Lets at most ``limit`` messages per key through in each ``period`` seconds, counts the rest."""

    def __init__(self, limit: int = 10, period: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: Dict[str, List] = {}  # key -> [window start, sent, suppressed]

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
