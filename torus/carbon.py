"""The Carbon plaintext protocol, pure: framing a byte stream into lines, parsing lines into points.

A line is ``name value timestamp`` ended by ``\\n`` (a ``\\r`` before it is
ignored), fields separated by runs of whitespace (``str.split()``: spaces or tabs
in practice, other Unicode whitespace too, as carbon-cache splits a line): the
protocol carbon-cache, statsd and collectd use:

* the first field is the name, the last the timestamp, and everything between
  them is the value (the original servers allowed spaces inside a value);
* a value parses like Python's ``float()`` (``12``, ``-0.5``, ``1e3``); an
  integer stays an int. A value that is not a number is kept as text, so a
  schema with its own ``write_func`` (a set of strings, say) can take it; the
  default ``write_func`` rejects it. ``nan`` and ``+/-inf`` are dropped and
  counted (storage engines and JSON cannot hold them), like carbon drops nan;
* the timestamp is seconds since the epoch, an int or a float, from 0 to
  253402300799 (the end of year 9999: milliseconds and nanoseconds since the
  epoch, ``1e30``, are malformed); ``-1`` means "now" (the time the line was
  received); a value or timestamp with more digits than Python turns into an int
  (4,300) is malformed too;
* a tagged name ``name;tag=value;...`` (Graphite 1.1) is canonicalised with
  its tags sorted by tag name, and schemas match that canonical string.

Nothing here does I/O: ``LineFramer`` turns the reads of one connection into
blocks of whole lines, ``parse_block`` turns a block into points and counts what
it could not use. Bad lines never cost the lines around them.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple, Union

#: longest line accepted (bytes, without the line end); longer lines are counted and skipped
MAX_LINE = 16 * 1024
#: the latest timestamp accepted: 9999-12-31T23:59:59Z, the last second calendars can hold
MAX_TIMESTAMP = 253402300799

Number = Union[int, float]
Point = Tuple[str, Any, Number]


class BadLine(ValueError):
    """A line that is not ``name value timestamp``; the message says why."""


class DroppedValue(ValueError):
    """A well-formed line whose value is nan or infinite: dropped and counted, not an error."""


# -- names -------------------------------------------------------------------
_TAG_NAME_FORBIDDEN = set(";!^=")


def canonical_name(name: str) -> str:
    """The name itself, or for a tagged name ``path;k=v;...`` the path with its tags sorted.

    Follows Graphite 1.1: the path and every tag are non-empty, a tag name holds
    none of ``;!^=``, a tag value does not start with ``~``; a repeated tag keeps
    its last value. Raises BadLine otherwise.
    """
    if ";" not in name:
        return name
    path, *pairs = name.split(";")
    if not path:
        raise BadLine("tagged name without a metric path")
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise BadLine("tag %r is not tag=value" % pair)
        if _TAG_NAME_FORBIDDEN.intersection(key):
            raise BadLine("tag name %r holds one of ; ! ^ =" % key)
        if value.startswith("~"):
            raise BadLine("tag value %r starts with ~" % value)
        tags[key] = value
    return path + "".join(";%s=%s" % item for item in sorted(tags.items()))


# -- fields --------------------------------------------------------------------
def parse_value(text: str) -> Union[int, float, str]:
    """An int for integral text, a float for other numbers, the text itself otherwise.

    Raises DroppedValue for nan and infinities.
    """
    digits = text[1:] if text[:1] in "-+" else text
    if digits.isdecimal():
        try:
            return int(text)
        except ValueError:  # past Python's int conversion limit
            raise BadLine("value has %d digits, more than the %d allowed"
                          % (len(digits), sys.get_int_max_str_digits())) from None
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number):
        return number
    raise DroppedValue("value %s is not finite" % text)


def parse_timestamp(text: str, now: float) -> Number:
    """Seconds since the epoch (int or float) up to MAX_TIMESTAMP; ``-1`` is ``now``.

    Raises BadLine.
    """
    if text.isdecimal() and len(text) <= 12:
        number: float = int(text)
    else:
        try:
            number = float(text)
        except ValueError:
            raise BadLine("timestamp %r is not a number" % truncate(text, 40)) from None
        if number == -1:
            return now
        if number.is_integer() and 0 <= number <= MAX_TIMESTAMP:
            number = int(number)
    if not 0 <= number <= MAX_TIMESTAMP:  # nan fails this too
        raise BadLine("timestamp %s is not between 0 and %d (seconds since the epoch)"
                      % (truncate(text, 40), MAX_TIMESTAMP))
    return number


def parse_line(line: str, now: float) -> Point:
    """``(canonical name, value, timestamp)`` of one line (without its line end).

    Raises BadLine for a malformed line and DroppedValue for a nan/inf value.
    """
    fields = line.split()
    if len(fields) < 3:
        raise BadLine("expected 'name value timestamp', got %d field%s"
                      % (len(fields), "" if len(fields) == 1 else "s"))
    if len(fields) == 3:
        name, value, stamp = fields
    else:  # the value holds whitespace: keep it as sent
        name, rest = line.split(None, 1)
        value, stamp = rest.rsplit(None, 1)
        value = value.strip()
    return canonical_name(name), parse_value(value), parse_timestamp(stamp, now)


# -- blocks --------------------------------------------------------------------
@dataclass
class ParseStats:
    """What ``parse_block`` did with the lines it was given (accumulates over calls)."""

    lines: int = 0
    points: int = 0
    bad: int = 0
    overlong: int = 0
    dropped: int = 0


#: called with (kind, line text, reason) for each line not turned into a point
Reporter = Callable[[str, str, str], None]


def _ignore(kind: str, line: str, reason: str) -> None:
    pass


def _decode_lines(block: bytes, report: Reporter, stats: ParseStats) -> List[str]:
    if block.isascii():
        return block.decode("ascii").split("\n")
    lines = []
    for raw in block.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            stats.lines += 1
            stats.bad += 1
            report("bad", raw.decode("utf-8", "replace"), "not UTF-8: %s" % err.reason)
    return lines


def parse_block(block: bytes, now: float, stats: ParseStats,
                report: Reporter = _ignore) -> List[Point]:
    """Every point of a block of whole lines; blank lines are ignored, bad ones reported.

    ``report(kind, line, reason)`` is called with kind ``"bad"``, ``"overlong"`` or
    ``"dropped"`` for each line that yields no point; ``stats`` is updated.
    """
    points: List[Point] = []
    append = points.append
    lines = _decode_lines(block, report, stats)
    bad = overlong = dropped = 0
    # a flush's lines share their timestamp: the last one's text and number, kept
    last_stamp, last_seconds = None, 0
    for line in lines:
        fields = line.split()
        if not fields:
            continue  # blank line, or the end of the block
        # the fast path: three plain fields, an untagged name, numbers in both fields
        if len(fields) == 3 and len(line) <= MAX_LINE:  # (a line of exactly MAX_LINE + \r
            # takes the slow path, which accepts it)
            name, value, stamp = fields
            if ";" not in name:
                if value.isdecimal() and len(value) < 4000:  # past ~4,300 digits int() refuses
                    number: Any = int(value)
                else:
                    try:
                        number = float(value)
                    except ValueError:
                        number = None  # text: the slow path keeps it
                    else:
                        if number - number != 0:  # nan or inf: the slow path drops it
                            number = None
                        elif value[0] in "-+" and value[1:].isdecimal():
                            number = int(value)  # finite, so at most ~309 digits
                if number is not None:
                    if stamp == last_stamp:
                        append((name, number, last_seconds))
                        continue
                    if stamp.isdecimal() and len(stamp) <= 12:
                        seconds = int(stamp)
                        if seconds <= MAX_TIMESTAMP:
                            last_stamp, last_seconds = stamp, seconds
                            append((name, number, seconds))
                            continue
        if len(line) > MAX_LINE and not (len(line) == MAX_LINE + 1 and line.endswith("\r")):
            overlong += 1
            report("overlong", line, "longer than %d bytes" % MAX_LINE)
            continue
        try:
            append(parse_line(line, now))
        except DroppedValue as err:
            dropped += 1
            report("dropped", line, str(err))
        except BadLine as err:
            bad += 1
            report("bad", line, str(err))
    stats.lines += len(points) + bad + overlong + dropped  # every line but the blank ones
    stats.points += len(points)
    stats.bad += bad
    stats.overlong += overlong
    stats.dropped += dropped
    return points


# -- framing -------------------------------------------------------------------
@dataclass
class LineFramer:
    """Splits one connection's reads into blocks of whole lines.

    ``feed(data)`` returns the complete lines received so far (ending in ``\\n``),
    keeping a partial last line for the next read; ``finish()`` returns that
    partial line at end of stream (the last line need not be terminated). A line
    that grows past ``max_line`` without a line end is skipped up to its end and
    counted in ``overlong``.
    """

    max_line: int = MAX_LINE
    overlong: int = 0
    _tail: bytes = b""
    _skipping: bool = field(default=False, repr=False)

    def feed(self, data: bytes) -> bytes:
        end = data.rfind(b"\n")
        if end < 0:
            if self._skipping:
                return b""
            self._tail += data
            if len(self._tail) > self.max_line + 1:  # allow a trailing \r
                self._tail = b""
                self._skipping = True
                self.overlong += 1
            return b""
        if self._skipping:
            first = data.find(b"\n")
            block = data[first + 1:end + 1]
            self._skipping = False
        elif self._tail:
            block = self._tail + data[:end + 1]
        else:
            block = data[:end + 1] if end + 1 < len(data) else data
        self._tail = data[end + 1:]
        if len(self._tail) > self.max_line + 1:
            self._tail = b""
            self._skipping = True
            self.overlong += 1
        return block

    def finish(self) -> bytes:
        """The unterminated last line (b"" if none), and reset."""
        tail, self._tail, self._skipping = self._tail, b"", False
        return tail

    @property
    def pending(self) -> int:
        """Bytes held for an unterminated line."""
        return len(self._tail)


def truncate(text: str, limit: int = 200) -> str:
    """A line shortened for a log message, without its line end (collectd sends CRLF)."""
    text = text.rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + "...(%d bytes)" % len(text)


def format_line(name: str, value: Any, timestamp: Optional[Number]) -> str:
    """A point as a Carbon line (for dead letters and tests)."""
    return "%s %s %s\n" % (name, value, timestamp)
