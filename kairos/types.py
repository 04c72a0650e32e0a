"""What each timeseries type means, independent of where it is stored.

A type knows its empty row, how a batch of writes to the same bucket merges
(``aggregate``), how a stored row becomes Python data (``process_row``), how rows
of several buckets or names merge into one (``condense``), and its built-in
transforms. Storage engines only move the aggregated writes and raw rows.

For tools that copy data (``torus.migrate``) a type also says whether a read bucket
holds anything (``has_data``), which points would write it again (``points``),
whether writing them twice adds up (``additive``) and whether it takes counted
writes (``takes_counts``), so no caller compares type names.
"""
from __future__ import annotations

from numbers import Number
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import transforms
from .exceptions import InvalidValue

#: A bucket address: (name, interval name, interval key, resolution key or None).
BucketKey = Tuple[str, str, int, Optional[int]]


#: a gauge's ``no_data`` before ``read_func('')`` was asked
_UNASKED = object()


def _identity(value: Any) -> Any:
    return value


class TimeseriesType:
    """Behaviour shared by every type; subclasses fill in the specifics."""

    type_name = ""
    builtins: Dict[str, Callable] = {}
    #: whether writing a bucket's points again adds to it (a copy run twice doubles it)
    additive = True
    #: how a bucket merges its values when the write path folds them itself (``Timeseries
    #: ._aggregate``): "last" (the last one kept), "sum" (added, ``check_number`` first) or
    #: None (``aggregate`` does it)
    combine: Optional[str] = None
    #: whether ``Timeseries.bulk_insert_histogram`` ({value: occurrences} writes) applies
    takes_counts = False

    def __init__(self, read_func: Optional[Callable] = None):
        self.read_func = read_func
        self.read = read_func or _identity

    @staticmethod
    def check_number(value: Any) -> None:
        """Refuse a value a "sum" type cannot add (the types that sum say how)."""

    def empty(self) -> Any:
        raise NotImplementedError

    def no_data(self) -> Any:
        """What a bucket never written reads as once a read is done (``empty`` until then,
        so merging can tell it from data)."""
        return self.empty()

    def has_data(self, data: Any) -> bool:
        """Whether a read bucket holds anything (a count of 0 holds nothing)."""
        return bool(data)

    def points(self, data: Any) -> List[Tuple[Any, int]]:
        """``(value, occurrences)`` that, written into a bucket, give it ``data`` again, in
        the order to write them."""
        raise NotImplementedError

    def default_value(self) -> Any:
        """The value ``insert`` uses when none is given."""
        raise InvalidValue("a %s needs a value" % self.type_name)

    def aggregate(self, writes: Iterable[Tuple[BucketKey, Any]]) -> Dict[BucketKey, Any]:
        """Merge a batch of writes so each bucket is written once."""
        raise NotImplementedError

    def process_row(self, raw: Any) -> Any:
        raise NotImplementedError

    def process_rows(self, raws: List[Any]) -> List[Any]:
        """``process_row`` of every raw row (types holding one value per bucket do it with
        one map of ``read`` over the values)."""
        return list(map(self.process_row, raws))

    def condense(self, rows: List[Any]) -> Any:
        """Merge rows (resolutions of one interval, intervals of a range, or joined names)."""
        raise NotImplementedError


class SeriesType(TimeseriesType):
    """Every value in arrival order."""

    type_name = "series"
    builtins = transforms.SERIES

    def empty(self) -> list:
        return []

    def aggregate(self, writes):
        out: Dict[BucketKey, list] = {}
        for key, value in writes:
            bucket = out.get(key)
            if bucket is None:
                out[key] = [value]
            else:
                bucket.append(value)
        return out

    def process_row(self, raw):
        read = self.read
        return [read(v) for v in raw] if raw else []

    def points(self, data):
        return [(value, 1) for value in data]

    def condense(self, rows):
        out: list = []
        for row in rows:
            if row:
                out.extend(row)
        return out


class HistogramType(TimeseriesType):
    """Occurrences of each distinct value."""

    type_name = "histogram"
    builtins = transforms.HISTOGRAM
    takes_counts = True

    def empty(self) -> dict:
        return {}

    def aggregate(self, writes):
        out: Dict[BucketKey, Dict[Any, int]] = {}
        for key, value in writes:
            bucket = out.get(key)
            if bucket is None:
                out[key] = {value: 1}
            else:
                bucket[value] = bucket.get(value, 0) + 1
        return out

    def process_row(self, raw):
        read = self.read
        out: dict = {}
        for value, count in (raw or {}).items():
            key = read(value)
            out[key] = out.get(key, 0) + int(count)
        return out

    def points(self, data):
        return [(value, int(count)) for value, count in data.items() if count]

    def condense(self, rows):
        out: dict = {}
        for row in rows:
            if row:
                for value, count in row.items():
                    out[value] = out.get(value, 0) + count
        return out


class CountType(TimeseriesType):
    """A running total per bucket."""

    type_name = "count"
    builtins = transforms.COUNT

    def empty(self) -> int:
        return 0

    def default_value(self) -> int:
        return 1

    combine = "sum"

    @staticmethod
    def check_number(value: Any) -> None:
        """Refuse an increment that is not a number (InvalidValue)."""
        if isinstance(value, bool) or not isinstance(value, Number):
            raise InvalidValue("a count increment must be a number, not %r" % (value,))

    def aggregate(self, writes):
        out: Dict[BucketKey, Any] = {}  # Numbers (Decimal too); typeshed's Number has no +
        check = self.check_number
        for key, value in writes:
            check(value)
            out[key] = out.get(key, 0) + value
        return out

    def process_row(self, raw):
        if raw is None or raw == "":
            return 0
        return self.read(raw)

    def process_rows(self, raws):
        if None in raws or "" in raws:
            return list(map(self.process_row, raws))
        return list(map(self.read, raws))

    def points(self, data):
        return [(data, 1)]

    def condense(self, rows):
        return sum(row for row in rows if row)


class GaugeType(TimeseriesType):
    """The last value written per bucket."""

    type_name = "gauge"
    builtins = transforms.GAUGE
    additive = False
    _no_data: Any = _UNASKED  # set on the instance once read_func("") was asked

    def empty(self) -> None:
        return None

    def no_data(self) -> Any:
        """``read_func('')``: seed 002 (and the original on Redis) hands a read_func the
        empty string for no data, so ``lambda v: int(v or 0)`` reads an empty bucket as
        0. None without a read_func, or when it cannot read ``''`` (``float``): a gap,
        where the original raised on Redis. Asked once per type object."""
        if self._no_data is _UNASKED:
            self._no_data = None
            if self.read_func is not None:
                try:
                    self._no_data = self.read_func("")
                except Exception:  # noqa: BLE001 (whatever a user's function raises on '': no value)
                    pass
        return self._no_data

    def has_data(self, data):
        return data is not None

    combine = "last"

    def aggregate(self, writes):
        out: Dict[BucketKey, Any] = {}
        for key, value in writes:
            out[key] = value
        return out

    def process_row(self, raw):
        if raw is None:
            return None
        return self.read(raw)

    def process_rows(self, raws):
        if None in raws:
            return list(map(self.process_row, raws))
        return list(map(self.read, raws))

    def points(self, data):
        return [(data, 1)]

    def condense(self, rows):
        last = None
        for row in rows:
            if row is not None:
                last = row
        return last


class SetType(TimeseriesType):
    """The distinct values seen per bucket."""

    type_name = "set"
    builtins = transforms.SET
    additive = False

    def empty(self) -> set:
        return set()

    def aggregate(self, writes):
        out: Dict[BucketKey, set] = {}
        for key, value in writes:
            bucket = out.get(key)
            if bucket is None:
                out[key] = {value}
            else:
                bucket.add(value)
        return out

    def process_row(self, raw):
        read = self.read
        return {read(v) for v in raw} if raw else set()

    def points(self, data):
        return [(member, 1) for member in data]

    def condense(self, rows):
        out: set = set()
        for row in rows:
            if row:
                out.update(row)
        return out


TYPES = {cls.type_name: cls for cls in (SeriesType, HistogramType, CountType, GaugeType, SetType)}
