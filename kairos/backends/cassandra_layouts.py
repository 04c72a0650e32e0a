"""How each timeseries type keeps its buckets in a Cassandra table: one layout class per type.

A partition holds one stat in one interval; rows are clustered by ``i_time``,
``r_time`` and, where a bucket holds several rows, a column of the layout's:

=========  ==================================================  ===========================
type       columns beyond name, interval, i_time, r_time        clustering after r_time
=========  ==================================================  ===========================
count      ``value counter``                                    -
histogram  ``value <value_type>``, ``count counter``            value
series     ``seq timeuuid``, ``value <value_type>``             seq (insertion order)
set        ``value <value_type>``                               value
gauge      ``value <value_type>`` (last write wins)             -
=========  ==================================================  ===========================

Counter tables (count, histogram) cannot take a TTL; the others are written
``USING TTL ?``. A layout holds the value column's CQL type and coercion;
``cassandra_cql`` builds the statements around it and ``CassandraTimeseries``
never asks which type it is.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..exceptions import ConfigError
from ..values import value_order
from .cassandra_cql import KEY_COLUMNS, counter_increment

#: ``((name, interval), parameters)``: one row to bind, with the partition it goes to
Row = Tuple[Tuple[str, str], Tuple]
_ROW = '"name" = ? AND "interval" = ? AND "i_time" = ? AND "r_time" = ?'


class CassandraLayout:
    """What every layout answers; the subclasses below are the types."""

    type_name = ""
    #: a counter table: written in COUNTER batches, without TTL
    counter = False
    #: columns a read selects
    selected = '"i_time", "r_time", "value"'

    def __init__(self, cql_type: str, coerce: Callable[[Any], Any]):
        self.cql_type = cql_type
        self.coerce = coerce

    @property
    def check(self) -> Callable[[Any], Any]:
        """How each written value is checked before a batch merges it (InvalidValue)."""
        return self.coerce

    def columns(self) -> Tuple[List[str], List[str]]:
        """Column definitions beyond the key, and clustering columns after ``r_time``."""
        return ['"value" %s' % self.cql_type], []

    def write(self, table: str) -> str:
        """The statement one row binds (parameters from ``add_rows``)."""
        return 'INSERT INTO %s (%s, "value") VALUES (?, ?, ?, ?, ?) USING TTL ?' % (
            table, KEY_COLUMNS)

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        """Append the rows of one aggregated bucket (``key``: name, interval, i_time, r_time)."""
        raise NotImplementedError

    def place(self, bucket: Dict[Optional[int], Any], r_key: Optional[int],
              row: Sequence[Any]) -> None:
        """Put one selected row (i_time, r_time, value[, count]) into its bucket."""
        bucket[r_key] = row[2]


class CountLayout(CassandraLayout):
    """A counter column: increments only, whole numbers."""

    type_name = "count"
    counter = True

    @property
    def check(self) -> Callable[[Any], Any]:
        # each increment must be whole on its own, not only once a batch summed it
        return counter_increment

    def columns(self) -> Tuple[List[str], List[str]]:
        return ['"value" counter'], []

    def write(self, table: str) -> str:
        return 'UPDATE %s SET "value" = "value" + ? WHERE %s' % (table, _ROW)

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        rows.append((partition, (counter_increment(data),) + key))


class GaugeLayout(CassandraLayout):
    """One row per bucket: the last write wins."""

    type_name = "gauge"

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        rows.append((partition, key + (self.coerce(data), ttl)))


class HistogramLayout(CassandraLayout):
    """A counter row per distinct value (values equal once coerced count as one)."""

    type_name = "histogram"
    counter = True
    selected = '"i_time", "r_time", "value", "count"'

    def columns(self) -> Tuple[List[str], List[str]]:
        return ['"value" %s' % self.cql_type, '"count" counter'], ['"value"']

    def write(self, table: str) -> str:
        return 'UPDATE %s SET "count" = "count" + ? WHERE %s AND "value" = ?' % (table, _ROW)

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        coerce = self.coerce
        counts: Dict[Any, int] = {}
        for value, count in data.items():
            value = coerce(value)
            counts[value] = counts.get(value, 0) + count
        for value, count in sorted(counts.items(), key=lambda pair: value_order(pair[0])):
            rows.append((partition, (count,) + key + (value,)))

    def place(self, bucket: Dict[Optional[int], Any], r_key: Optional[int],
              row: Sequence[Any]) -> None:
        bucket.setdefault(r_key, {})[row[2]] = row[3]


class SeriesLayout(CassandraLayout):
    """A row per value, clustered by a time UUID: arrival order."""

    type_name = "series"

    def columns(self) -> Tuple[List[str], List[str]]:
        return ['"seq" timeuuid', '"value" %s' % self.cql_type], ['"seq"']

    def write(self, table: str) -> str:
        return ('INSERT INTO %s (%s, "seq", "value") VALUES (?, ?, ?, ?, ?, ?) USING TTL ?'
                % (table, KEY_COLUMNS))

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        coerce = self.coerce
        for value in data:
            rows.append((partition, key + (make_seq(), coerce(value), ttl)))

    def place(self, bucket: Dict[Optional[int], Any], r_key: Optional[int],
              row: Sequence[Any]) -> None:
        bucket.setdefault(r_key, []).append(row[2])


class SetLayout(CassandraLayout):
    """A row per distinct value (distinct once coerced), clustered by value."""

    type_name = "set"

    def columns(self) -> Tuple[List[str], List[str]]:
        return ['"value" %s' % self.cql_type], ['"value"']

    def add_rows(self, rows: List[Row], partition: Tuple[str, str], key: Tuple, ttl: int,
                 data: Any, make_seq: Callable[[], Any]) -> None:
        coerce = self.coerce
        for value in sorted({coerce(v) for v in data}, key=value_order):
            rows.append((partition, key + (value, ttl)))

    def place(self, bucket: Dict[Optional[int], Any], r_key: Optional[int],
              row: Sequence[Any]) -> None:
        bucket.setdefault(r_key, []).append(row[2])


LAYOUTS: Dict[str, type] = {layout.type_name: layout for layout in (
    CountLayout, HistogramLayout, SeriesLayout, SetLayout, GaugeLayout)}


def layout_for(type_name: str, cql_type: str, coerce: Callable[[Any], Any]) -> CassandraLayout:
    """The layout of a timeseries type, its value column of ``cql_type`` (ConfigError for a
    type Cassandra has none for)."""
    try:
        layout = LAYOUTS[type_name]
    except KeyError:
        raise ConfigError("no Cassandra layout for type %r" % (type_name,)) from None
    return layout(cql_type, coerce)

