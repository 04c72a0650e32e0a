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
never asks which type it is.

``layout='hash'`` (an engine option) keeps counts and gauges as fields of window
hashes instead (``redis_keys.HashKeyScheme``: a hash per stat, interval and 100
buckets, a field per bucket): HINCRBY / HINCRBYFLOAT for counts, HSET for gauges, read
with one HMGET per hash. Redis then does a third of the work per point (one hash
write, one EXPIREAT per hash per batch, instead of a key write and its EXPIREAT) and
holds 100 times fewer keys. Series, histograms and sets keep one key per bucket in
that layout: their bucket is a list, hash or set of many values, which a hash field
could only hold encoded (a read, decode, merge and re-encode of the whole bucket per
write), costing the server more than the key it saves.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

from ..exceptions import ConfigError
from ..values import INT64_MAX, INT64_MIN
from .redis_bulk import Writes
from .redis_keys import count_increment, decode, encode_value, parse_number

#: ``put(bucket, key, expiry, data)``: appends one aggregated bucket's writes
Put = Callable[[Tuple, str, Any, Any], None]


#: the value types a write sends as they are: hiredis and redis-py pack an int as ``str`` and a
#: float as ``repr``, the bytes ``encode_value`` would give, without a Python call per value
PLAIN_TYPES = frozenset((float, int, str))
_INT = frozenset((int,))


def count_amounts(values: List[Any], whole: str, fractional: str
                  ) -> Tuple[List[Any], Optional[List[str]]]:
    """The arguments adding ``values`` to counts, and the op of each (``whole`` for INCRBY,
    ``fractional`` for INCRBYFLOAT; None: every one ``whole``). Raises InvalidValue."""
    # the usual batch: ints within 64 bits, checked in C (map, min, max)
    if not values or (_INT.issuperset(map(type, values))
                      and INT64_MIN <= min(values) and max(values) <= INT64_MAX):
        return values, None
    ops: List[str] = []
    amounts: List[Any] = []
    for total in values:
        if type(total) is int and INT64_MIN <= total <= INT64_MAX:
            ops.append(whole)
            amounts.append(total)
        else:
            command, amount = count_increment(total)
            ops.append(whole if command == "incrby" else fractional)
            amounts.append(amount)
    return amounts, ops


def gauge_amounts(values: List[Any]) -> List[Any]:
    """The arguments setting gauges to ``values`` (floats, ints and text as they are, see
    ``PLAIN_TYPES``); raises InvalidValue."""
    if PLAIN_TYPES.issuperset(map(type, values)):
        return values
    return [value if type(value) in PLAIN_TYPES else encode_value(value) for value in values]


def interleave(count: int, *columns: List[Any]) -> List[Any]:
    """``columns`` (each ``count`` long) as one list, row by row: filled by slice assignment."""
    width = len(columns)
    out: List[Any] = [None] * (width * count)
    for offset, column in enumerate(columns):
        out[offset::width] = column
    return out


def _append(writes: Writes, keys: List[Any], args: List[Any], sizes: List[int]) -> None:
    """Append to ``writes``; lists of an empty one are taken as they are (a batch's writes
    are built once: no copy of hundreds of thousands of references)."""
    if writes.keys:
        writes.keys.extend(keys)
        writes.args.extend(args)
        writes.sizes.extend(sizes)
    else:
        writes.keys, writes.args, writes.sizes = keys, args, sizes


def _grouped(writes: Writes, op: str, keys: List[str], runs: Sequence[Tuple[int, int, str]],
             amounts: List[Any], due: Sequence[Tuple[int, Any]]) -> None:
    """``hash_writes`` of one op as groups: each run's writes between those carrying an
    EXPIREAT (``due``) go as one group, the others alone."""
    upper = op.upper()
    pending = iter(due)
    next_due = next(pending, None)
    for start, end, field in runs:
        position = start
        while next_due is not None and next_due[0] < end:
            at, expiry = next_due
            if at > position:
                writes.add_group(op, field, keys[position:at], amounts[position:at])
            writes.add(upper, keys[at], expiry, field, amounts[at])
            position = at + 1
            next_due = next(pending, None)
        if position < end:
            writes.add_group(op, field, keys[position:end], amounts[position:end])


class RedisLayout:
    """What every layout answers; the subclasses below are the types."""

    type_name = ""
    #: one string per bucket: many keys are read with one MGET (``_fetch_flat`` too)
    scalar = False
    #: buckets are fields of window hashes (``layout='hash'``), not keys
    hashed = False
    #: the layout of this type under ``layout='hash'`` (None: it keeps a key per bucket)
    hash_layout: Optional[Type["RedisLayout"]] = None
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


class StringLayout(RedisLayout):
    """A bucket is one string: a chunk of keys is one MGET."""

    scalar = True
    #: the op of a write (``redis_bulk``)
    op = ""

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        """The arguments sending ``values`` and the op of each (None: every one ``op``);
        raises InvalidValue for a value Redis cannot store."""
        raise NotImplementedError

    def string_writes(self, writes: Writes, keys: List[str], expiries: List[Any],
                      values: List[Any]) -> None:
        """Append one write per bucket: key ``keys[i]`` takes ``values[i]`` and the EXPIREAT
        ``expiries[i]`` ("": none). ``writer``'s encoding, built list by list."""
        amounts, ops = self.amounts(values)
        count = len(keys)
        _append(writes, keys, interleave(count, [self.op] * count if ops is None else ops,
                                         expiries, amounts), [3] * count)

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


class CountLayout(StringLayout):
    """A running total: INCRBY while it is whole, INCRBYFLOAT after (``redis_bulk`` switches)."""

    type_name = "count"
    default_read = staticmethod(parse_number)  # counts are numbers (seed 002): "5" reads as 5
    op = "I"

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        return count_amounts(values, "I", "F")

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


class GaugeLayout(StringLayout):
    """The last value written: SET."""

    type_name = "gauge"
    op = "S"

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        return gauge_amounts(values), None

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        keys, args, sizes = writes.keys, writes.args, writes.sizes

        def put(bucket: Tuple, key: str, expires: Any, value: Any) -> None:
            keys.append(key)
            # a float goes as it is: packed by its repr, encode_value's bytes (PLAIN_TYPES)
            args.extend(("S", expires, value if type(value) is float else encode_value(value)))
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


class HashFieldLayout(RedisLayout):
    """A bucket is one field of a window hash (``layout='hash'``); a "key" of the read
    path is a ``(hash key, field)`` pair, and consecutive pairs of one hash are one HMGET."""

    hashed = True
    #: the op of a write to a hash whose EXPIREAT is set (``redis_bulk``); its upper case
    #: is the same write carrying the EXPIREAT
    op = ""

    def writer(self, writes: Writes, buckets: List[Tuple]) -> Put:
        raise NotImplementedError("layout='hash' writes with hash_writes")

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        """The arguments sending ``values`` and the op of each (None: every one ``op``);
        raises InvalidValue for a value Redis cannot store."""
        raise NotImplementedError

    def hash_writes(self, writes: Writes, keys: List[str], runs: Sequence[Tuple[int, int, str]],
                    values: List[Any], due: Sequence[Tuple[int, Any]], grouped: bool = True
                    ) -> None:
        """Append one write per bucket: the writes ``start .. end - 1`` of each run
        ``(start, end, field)`` set ``field`` of hash ``keys[i]`` to ``values[i]`` (the runs
        cover every write, in order); ``due`` holds the ``(position, EXPIREAT)`` of the
        writes whose hash needs its EXPIREAT, in order.

        ``grouped``: the writes of a run with one op go as groups (``redis_bulk.GROUPS``:
        a key and an amount per write), those carrying an EXPIREAT alone. Otherwise, and for
        counts mixing whole and fractional amounts, a write is ``op, field, amount``, built
        list by list (slice assignment, ``extend``) rather than bucket by bucket.
        """
        amounts, ops = self.amounts(values)
        if grouped and ops is None:
            _grouped(writes, self.op, keys, runs, amounts, due)
            return
        count = len(keys)
        fields: List[str] = []
        for start, end, field in runs:
            fields.extend([field] * (end - start))
        if ops is None:
            ops = [self.op] * count
        if not due:
            _append(writes, keys, interleave(count, ops, fields, amounts), [3] * count)
            return
        writes.keys.extend(keys)
        expiry = dict(due)
        out, sizes = writes.args, writes.sizes
        for position, op, field, amount in zip(range(count), ops, fields, amounts):
            expires = expiry.get(position)
            if expires is None:
                out.extend((op, field, amount))
                sizes.append(3)
            else:
                out.extend((op.upper(), expires, field, amount))
                sizes.append(4)

    def queue_reads(self, pipe: Any, keys: Sequence[Any]) -> None:  # (hash key, field) pairs
        current, fields = None, []  # type: Tuple[Optional[str], List[str]]
        for hash_key, field in keys:
            if hash_key != current:
                if fields:
                    pipe.hmget(current, fields)
                current, fields = hash_key, []
            fields.append(field)
        if fields:
            pipe.hmget(current, fields)

    def raws(self, replies: List[Any]) -> List[Any]:
        return [raw if raw is None or type(raw) is str else decode(raw)
                for reply in replies for raw in reply]


class HashCountLayout(HashFieldLayout):
    """A running total in a hash field: HINCRBY while whole, HINCRBYFLOAT after."""

    type_name = "count"
    default_read = staticmethod(parse_number)
    op = "c"

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        return count_amounts(values, "c", "d")


class HashGaugeLayout(HashFieldLayout):
    """The last value written, in a hash field: HSET."""

    type_name = "gauge"
    op = "g"

    def amounts(self, values: List[Any]) -> Tuple[List[Any], Optional[List[str]]]:
        return gauge_amounts(values), None


# the types ``layout='hash'`` stores in window hashes (the others keep a key per bucket)
CountLayout.hash_layout = HashCountLayout
GaugeLayout.hash_layout = HashGaugeLayout

LAYOUTS: Dict[str, Type[RedisLayout]] = {layout.type_name: layout for layout in (
    SeriesLayout, HistogramLayout, CountLayout, GaugeLayout, SetLayout)}
#: the values of the ``layout`` engine option
LAYOUT_NAMES = ("key", "hash")


def has_hash_layout(type_name: str) -> bool:
    """Whether ``layout='hash'`` stores this type otherwise than ``'key'`` (counts, gauges)."""
    chosen = LAYOUTS.get(type_name)
    return chosen is not None and chosen.hash_layout is not None


def layout_for(type_name: str, layout: str = "key") -> RedisLayout:
    """The layout of a timeseries type under the ``layout`` option (ConfigError for a type
    Redis has none for, or an unknown option value)."""
    if layout not in LAYOUT_NAMES:
        raise ConfigError("the Redis layout must be one of %s, not %r"
                          % (", ".join(repr(name) for name in LAYOUT_NAMES), layout))
    try:
        chosen = LAYOUTS[type_name]
    except KeyError:
        raise ConfigError("no Redis layout for type %r" % (type_name,)) from None
    hashed = chosen.hash_layout if layout == "hash" else None
    return (hashed or chosen)()
