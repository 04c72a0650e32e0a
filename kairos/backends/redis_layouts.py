"""How each timeseries type keeps its buckets in Redis: one layout class per type.

Every bucket is one key (``redis_keys``) holding one native structure:

=========  ==================  ===================================  ===========
type       structure           write                                read
=========  ==================  ===================================  ===========
series     list                RPUSH values                         LRANGE 0 -1
histogram  hash value->count   HINCRBY per distinct value           HGETALL
count      string (number)     INCRBY (ints) / INCRBYFLOAT (others)  GET (MGET)
gauge      string              SET                                  GET (MGET)
set        set                 SADD values                          SMEMBERS
=========  ==================  ===================================  ===========

A layout turns one aggregated bucket into ``redis_bulk`` writes and queues the
read of a chunk of keys; ``RedisTimeseries`` holds the layout of its type and
never asks which type it is. Another layout (a hash per time window, hash-tagged
keys for a cluster) plugs in here.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..exceptions import ConfigError
from ..values import INT64_MAX, INT64_MIN
from .redis_bulk import Writes
from .redis_keys import count_increment, decode, encode_value, parse_number

#: ``put(bucket, key, expiry, data)``: appends one aggregated bucket's writes
Put = Callable[[Tuple, str, Any, Any], None]


class RedisLayout:
    """What every layout answers; the subclasses below are the types."""

    type_name = ""
    #: one string per bucket: many keys are read with one MGET (``_fetch_flat`` too)
    scalar = False
    #: how a stored string reads back when the timeseries has no ``read_func`` (None: as text)
    default_read: Optional[Callable[[Any], Any]] = None

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        """A function appending the writes of one bucket to ``writes`` in ``redis_bulk``'s
        encoding (``op, expiry, arguments``) and the bucket to ``buckets`` once per write.

        A closure over the lists, not a method: the write loop calls it once per bucket.
        """
        raise NotImplementedError

    def queue_reads(self, pipe: Any, keys: Sequence[str]) -> None:
        """Queue on ``pipe`` the commands reading these keys' buckets."""
        raise NotImplementedError

    def raws(self, replies: List[Any]) -> List[Any]:
        """One raw row per key queued by ``queue_reads`` (None where the key holds nothing)."""
        raise NotImplementedError


class _StringLayout(RedisLayout):
    """A bucket is one string: a chunk of keys is one MGET."""

    scalar = True

    def queue_reads(self, pipe: Any, keys: Sequence[str]) -> None:
        pipe.mget(keys)

    def raws(self, replies: List[Any]) -> List[Any]:
        # a string, or bytes without decode_responses
        return [raw if raw is None or type(raw) is str else decode(raw) for raw in replies[0]]


class _StructureLayout(RedisLayout):
    """A bucket is a list, hash or set: one read command per key."""

    def read(self, pipe: Any, key: str) -> None:
        raise NotImplementedError

    def queue_reads(self, pipe: Any, keys: Sequence[str]) -> None:
        read = self.read
        for key in keys:
            read(pipe, key)

    def raws(self, replies: List[Any]) -> List[Any]:
        return [decode(raw) if _has_data(raw) else None for raw in replies]


class CountLayout(_StringLayout):
    """A running total: INCRBY while it is whole, INCRBYFLOAT after (``redis_bulk`` switches)."""

    type_name = "count"
    default_read = staticmethod(parse_number)  # counts are numbers (seed 002): "5" reads as 5

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        keys, args, sizes = writes.keys, writes.args, writes.sizes

        def put(bucket: Tuple, key: str, expires: Any, total: Any) -> None:
            amount: Union[int, str, bytes]
            if type(total) is int and INT64_MIN <= total <= INT64_MAX:  # the usual case, at once
                op, amount = "I", total
            else:
                command, amount = count_increment(total)
                op = "I" if command == "incrby" else "F"
            keys.append(key)
            args.extend((op, expires, amount))
            sizes.append(3)
            buckets.append(bucket)
        return put


class GaugeLayout(_StringLayout):
    """The last value written: SET."""

    type_name = "gauge"

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        keys, args, sizes = writes.keys, writes.args, writes.sizes

        def put(bucket: Tuple, key: str, expires: Any, value: Any) -> None:
            keys.append(key)
            args.extend(("S", expires, encode_value(value)))
            sizes.append(3)
            buckets.append(bucket)
        return put


class HistogramLayout(_StructureLayout):
    """A hash of value -> occurrences: one HINCRBY per distinct value."""

    type_name = "histogram"

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        keys, args, sizes = writes.keys, writes.args, writes.sizes

        def put(bucket: Tuple, key: str, expires: Any, counts: Dict[Any, int]) -> None:
            for value, count in counts.items():
                keys.append(key)
                args.extend(("H", expires, encode_value(value), count))
                sizes.append(4)
                buckets.append(bucket)
        return put

    def read(self, pipe: Any, key: str) -> None:
        pipe.hgetall(key)


class _ManyValuesLayout(_StructureLayout):
    """Every value of the bucket in one write (``op``: RPUSH or SADD in ``redis_bulk``)."""

    op = ""

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        keys, args, sizes = writes.keys, writes.args, writes.sizes
        op = self.op

        def put(bucket: Tuple, key: str, expires: Any, data: Any) -> None:
            values = [encode_value(v) for v in data]
            keys.append(key)
            args.extend((op, expires, len(values)))
            args.extend(values)
            sizes.append(3 + len(values))
            buckets.append(bucket)
        return put


class SeriesLayout(_ManyValuesLayout):
    """A list in arrival order: RPUSH."""

    type_name = "series"
    op = "L"

    def read(self, pipe: Any, key: str) -> None:
        pipe.lrange(key, 0, -1)


class SetLayout(_ManyValuesLayout):
    """A set of distinct values: SADD."""

    type_name = "set"
    op = "A"

    def read(self, pipe: Any, key: str) -> None:
        pipe.smembers(key)


def _has_data(raw: Any) -> bool:
    """Whether a native read found the key: Redis never keeps empty lists, hashes or sets."""
    if raw is None:
        return False
    if isinstance(raw, (list, dict, set)):
        return bool(raw)
    return True


LAYOUTS: Dict[str, type] = {layout.type_name: layout for layout in (
    SeriesLayout, HistogramLayout, CountLayout, GaugeLayout, SetLayout)}


def layout_for(type_name: str) -> RedisLayout:
    """The layout of a timeseries type (ConfigError for a type Redis has none for)."""
    try:
        return LAYOUTS[type_name]()
    except KeyError:
        raise ConfigError("no Redis layout for type %r" % (type_name,)) from None
