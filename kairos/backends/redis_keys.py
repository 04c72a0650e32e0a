"""The Redis key scheme of kairos, and how Python values become Redis strings.

Every bucket is one Redis key::

    {prefix}{name}:{interval}:{i_key}            interval without resolution
    {prefix}{name}:{interval}:{i_key}:{r_key}    interval with a resolution

``prefix`` is the ``prefix`` option with ":" appended (empty without one),
``interval`` the interval's name (never holds ":"), ``i_key``/``r_key`` the integer
bucket keys of ``kairos.intervals`` (``YYYYMMDD`` etc. for Gregorian steps). So
``stats:hits:minute:29348160`` is the ``minute`` bucket of ``hits`` under prefix
``stats``, readable with ``redis-cli``.

Stat names are stored as they are, except that "%" and ":" are percent-escaped
(``%25``, ``%3A``): Graphite and statsd names never contain either, and the escape
makes every key parse back to exactly one (name, interval, bucket), so ``list`` and
``delete`` never mistake another application's key for ours.
"""
from __future__ import annotations

import re
from decimal import Decimal
from numbers import Integral, Real
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ..exceptions import ConfigError, InvalidValue, KairosError
from ..intervals import Calendar, Interval
from ..values import INT64_MAX, INT64_MIN

#: (name, interval name, interval key, resolution key or None)
ParsedKey = Tuple[str, str, int, Optional[int]]

_ESCAPED_NAME = re.compile(r"(?:[^%:]|%25|%3A)+\Z")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def escape_name(name: str) -> str:
    """A stat name as it appears in keys: "%" and ":" percent-escaped, the rest unchanged."""
    if "%" in name or ":" in name:
        return name.replace("%", "%25").replace(":", "%3A")
    return name


def unescape_name(text: str) -> Optional[str]:
    """The stat name of an escaped key part, or None when the text is not one we could write."""
    if not _ESCAPED_NAME.match(text):
        return None
    if "%" in text:
        return text.replace("%3A", ":").replace("%25", "%")
    return text


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a SCAN MATCH pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def normalize_prefix(prefix: Optional[str]) -> str:
    """The ``prefix`` option as written in keys: "" or the prefix ending with ":"."""
    if prefix is None or prefix == "":
        return ""
    if not isinstance(prefix, str):
        raise ConfigError("prefix must be a string, not %r" % (prefix,))
    return prefix if prefix.endswith(":") else prefix + ":"


def _int_part(text: str) -> Optional[int]:
    """The integer of a key part written by ``str(int)``; None for anything else ("05", "1.0")."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if str(number) == text else None


def _canonical(calendar: Calendar, bucket: int) -> bool:
    """Whether ``bucket`` is a key ``calendar`` produces (Gregorian keys must be real dates)."""
    if not calendar.gregorian:
        return True
    try:
        return calendar.to_bucket(calendar.from_bucket(bucket)) == bucket
    except (KairosError, ValueError, OverflowError):
        return False


class KeyScheme:
    """Builds and parses the keys of one timeseries (its prefix and intervals)."""

    def __init__(self, prefix: Optional[str], intervals: Dict[str, Interval]):
        self.prefix = normalize_prefix(prefix)
        self.intervals = intervals

    def key(self, name: str, interval: str, i_key: int, r_key: Optional[int] = None) -> str:
        """The key of one bucket (``r_key`` for intervals with a resolution)."""
        if r_key is None:
            return "%s%s:%s:%d" % (self.prefix, escape_name(name), interval, i_key)
        return "%s%s:%s:%d:%d" % (self.prefix, escape_name(name), interval, i_key, r_key)

    def key_base(self, name: str, interval: str) -> str:
        """What every bucket key of ``name`` in ``interval`` starts with (``key`` = this +
        ``i_key`` [+ ``:r_key``]): dense reads build tens of thousands of keys from it."""
        return "%s%s:%s:" % (self.prefix, escape_name(name), interval)

    def marker(self, batch_id: str) -> str:
        """The key recording which chunks of a batch were applied (``!`` keeps it out of
        ``parse``: no stat name part of a bucket key is followed by "!batch:")."""
        if not isinstance(batch_id, str) or not batch_id:
            raise InvalidValue("batch_id must be a non-empty string, not %r" % (batch_id,))
        return "%s!batch:%s" % (self.prefix, escape_name(batch_id))  # never three ":" parts

    def bucket_keys(self, name: str, interval: Interval,
                    i_keys: Iterable[int]) -> Iterable[Tuple[int, Optional[int], str]]:
        """``(i_key, r_key, key)`` of every key a read of ``i_keys`` must look at."""
        for i_key in i_keys:
            if interval.has_resolution:
                for r_key in interval.resolution_buckets(i_key):
                    yield i_key, r_key, self.key(name, interval.name, i_key, r_key)
            else:
                yield i_key, None, self.key(name, interval.name, i_key)

    def all_pattern(self) -> str:
        """SCAN MATCH pattern covering every key of this timeseries (and maybe foreign ones)."""
        return glob_escape(self.prefix) + "*"

    def name_pattern(self, name: str) -> str:
        """SCAN MATCH pattern covering every key of ``name``."""
        return glob_escape(self.prefix + escape_name(name)) + ":*"

    def _own_parts(self, key: Union[str, bytes]) -> Optional[List[str]]:
        """The ``:``-separated parts of a key after this timeseries' prefix, or None for a
        key of someone else (another prefix, or bytes that are not UTF-8)."""
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if not key.startswith(self.prefix):
            return None
        return key[len(self.prefix):].split(":")

    def parse(self, key: Union[str, bytes]) -> Optional[ParsedKey]:
        """``(name, interval, i_key, r_key)`` of a key this timeseries writes, else None.

        Strict on purpose: the prefix, an interval of this timeseries, the right
        number of parts for that interval, canonical bucket numbers, a real calendar
        date for Gregorian steps and a resolution bucket inside its interval bucket.
        """
        parts = self._own_parts(key)
        if parts is None:
            return None
        if len(parts) not in (3, 4):
            return None
        config = self.intervals.get(parts[1])
        if config is None or config.has_resolution != (len(parts) == 4):
            return None
        name = unescape_name(parts[0])
        i_key = _int_part(parts[2])
        if name is None or i_key is None or not _canonical(config.step, i_key):
            return None
        if len(parts) == 3:
            return name, config.name, i_key, None
        r_key = _int_part(parts[3])
        if r_key is None or not _canonical(config.resolution, r_key):
            return None
        try:
            if config.step.to_bucket(config.resolution.from_bucket(r_key)) != i_key:
                return None
        except (KairosError, ValueError, OverflowError):
            return None
        return name, config.name, i_key, r_key


# -- values ------------------------------------------------------------------
def encode_value(value: Any) -> Union[str, bytes]:
    """A value as the Redis string kairos stores: ints as "5", floats by ``repr``, text as is.

    Booleans, None and containers are refused (a ``write_func`` can turn them into
    strings) instead of being stored as something that reads back differently.
    """
    kind = type(value)  # exact types first: the abstract checks below are slow on hot paths
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise InvalidValue("Redis stores strings and numbers, not %r; convert it with write_func"
                           % (value,))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Real):
        return repr(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidValue("Redis stores strings and numbers, not %s %r; convert it with write_func"
                       % (type(value).__name__, value))


def count_increment(value: Any) -> Tuple[str, Union[int, str, bytes]]:
    """The Redis command and argument adding ``value`` to a count: INCRBY for ints, else INCRBYFLOAT."""
    if type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool)):
        number = int(value)
        if INT64_MIN <= number <= INT64_MAX:  # INCRBY takes signed 64-bit integers
            return "incrby", number
        try:  # past 64 bits a count goes on as a float, as a stored total does (redis_bulk)
            float(number)
        except OverflowError:
            raise InvalidValue("a Redis count increment must be a finite number, not %d"
                               % number) from None
        # its exact digits: Redis reads INCRBYFLOAT's argument as a long double, which holds
        # 2**63 exactly where the shortest text of the double (9.223372036854776e+18) does not
        return "incrbyfloat", str(number)
    text = encode_value(value)
    try:
        finite = float(value) not in (float("inf"), float("-inf")) and float(value) == float(value)
    except (TypeError, ValueError, OverflowError):
        finite = False
    if not finite:
        raise InvalidValue("a Redis count increment must be a finite number, not %r" % (value,))
    return "incrbyfloat", text


def parse_number(raw: Any) -> Any:
    """How counts read back without a read_func: "5" -> 5, "2.5" -> 2.5 (others unchanged)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        return raw
    if raw == "":
        return 0
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def decode(raw: Any) -> Any:
    """A reply with bytes turned into str (UTF-8), whatever the client's decode_responses."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8")
    if isinstance(raw, list):
        return [decode(item) for item in raw]
    if isinstance(raw, set):
        return {decode(item) for item in raw}
    if isinstance(raw, dict):
        return {decode(k): decode(v) for k, v in raw.items()}
    return raw


# -- the hash layout (``layout='hash'``) ----------------------------------------
#: buckets per window hash. 100 keeps a hash under Redis's default
#: ``hash-max-listpack-entries`` (128), so it stays in the compact encoding, and cuts
#: Gregorian keys at natural boundaries: YYYYMMDD // 100 is a month of days, YYYYMM // 100
#: a year of months, YYYYWW // 100 a year of weeks.
WINDOW = 100

#: (name, interval name, first fine key of the window) of a window hash
ParsedHash = Tuple[str, str, int]


class HashKeyScheme(KeyScheme):
    """Keys of the hash layout: the buckets of a stat and interval, grouped by window.

    The "fine" key of a bucket is its resolution key where the interval has a resolution,
    else its interval key. Fine keys ``w .. w + WINDOW - 1`` (``w`` a multiple of
    ``WINDOW``) share one hash, a field per bucket named by its fine key::

        {prefix}{name}:{interval}:#{w}      field "{fine key}"

    "#" keeps these keys apart from the one-key-per-bucket keys, which the types without
    a hash encoding still use in this layout (their bucket parts are plain integers).
    """

    def window(self, fine: int) -> int:
        """The first fine key of the window holding ``fine``."""
        return fine - fine % WINDOW

    def hash_key(self, name: str, interval: str, window: int) -> str:
        return "%s%s:%s:#%d" % (self.prefix, escape_name(name), interval, window)

    def window_end(self, config: Interval, window: int) -> int:
        """The last fine key a calendar produces in the window (Gregorian keys skip numbers)."""
        calendar = config.resolution
        if not calendar.gregorian:
            return window + WINDOW - 1
        last = fine = window
        while not _canonical(calendar, last):  # the window's first real date
            last += 1
            if last >= window + WINDOW:
                return window
        while True:
            try:
                fine = calendar.shift(last, 1)
            except (ValueError, OverflowError):  # ``last`` is the calendar's last (year 9999)
                return last
            if fine >= window + WINDOW:
                return last
            last = fine

    def interval_key(self, config: Interval, fine: int) -> int:
        """The interval key of a fine key."""
        if not config.has_resolution:
            return fine
        return config.step.to_bucket(config.resolution.from_bucket(fine))

    def parse_hash(self, key: Union[str, bytes]) -> Optional[ParsedHash]:
        """``(name, interval, window)`` of a window hash this timeseries writes, else None."""
        parts = self._own_parts(key)
        if parts is None:
            return None
        if len(parts) != 3 or not parts[2].startswith("#"):
            return None
        config = self.intervals.get(parts[1])
        name = unescape_name(parts[0])
        window = _int_part(parts[2][1:])
        if config is None or name is None or window is None or window % WINDOW:
            return None
        return name, config.name, window

    def bucket_keys(self, name: str, interval: Interval,  # type: ignore[override]
                    i_keys: Iterable[int]) -> Iterable[Tuple[int, Optional[int], Tuple[str, str]]]:
        """``(i_key, r_key, (hash key, field))`` of every bucket a read of ``i_keys`` looks at."""
        for i_key in i_keys:
            if interval.has_resolution:
                for r_key in interval.resolution_buckets(i_key):
                    yield i_key, r_key, (self.hash_key(name, interval.name, r_key - r_key % WINDOW),
                                         str(r_key))
            else:
                yield i_key, None, (self.hash_key(name, interval.name, i_key - i_key % WINDOW),
                                    str(i_key))

    def parse(self, key: Union[str, bytes]) -> Optional[ParsedKey]:
        """A window hash as ``(name, interval, window, None)``; a key of one bucket as
        ``KeyScheme.parse`` does (left by another layout under the same prefix)."""
        parsed = self.parse_hash(key)
        if parsed is not None:
            return parsed[0], parsed[1], parsed[2], None
        return super().parse(key)
