"""How each timeseries type keeps its buckets in a SQL table: one layout class per type.

Every table has the common columns of ``sql_tables`` (``name``, ``interval``,
``i_time``, ``r_time``); a layout adds its own, says how a bucket becomes rows,
what an upsert does to a row already there, and how rows read back:

=========  ==================================  =================  =======================
type       columns beyond the common four      primary key        write
=========  ==================================  =================  =======================
series     ``id`` (insertion order), ``value``  id                 INSERT, one row a value
histogram  ``value``, ``count``                 common + value     upsert: count + new
count      ``value`` (the running total)        common             upsert: value + new
gauge      ``value`` (last written)             common             upsert: value = new
set        ``value``                            common + value     insert unless there
=========  ==================================  =================  =======================

``SqlTimeseries`` holds the layout of its type and never asks which type it is.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from ..exceptions import ConfigError
from ..values import NO_RESOLUTION, value_order
from . import sql_engine
from .sql_tables import python_type_of, unkeyable_on_mysql

#: ``{name: {i_key: {r_key or None: raw}}}``: what a read fills
Raw = Dict[str, Dict[int, Dict[Optional[int], Any]]]
#: ``(name, interval, i_time, r_time, data)``: one aggregated bucket, as the write loop sorts it
Bucket = Tuple[str, str, int, int, Any]


class SqlLayout:
    """What every layout answers; the subclasses below are the types."""

    type_name = ""
    #: one value per bucket: dense reads take (key, value) pairs straight from the cursor
    scalar = False
    #: an upsert leaves a row already there alone (no merge)
    keeps_existing = False
    #: a row's value is a total the batch summed (it may pass what 64 bits hold)
    sums = False
    #: later batches update a row in place (a sum, the last value, a count per value):
    #: its table keeps room on each page for that (``sql_tables.keep_room_for_updates``)
    updates_rows = False
    #: writing a batch's rows twice in a row leaves what once does (the last value, a
    #: member): such a batch may be written in parts (``sql_parts``), since a retry cut
    #: another way writes a part already stored again
    repeatable = False
    #: the columns a written row holds, in the order of the tuples ``rows`` makes
    columns: Tuple[str, ...] = ("name", "interval", "i_time", "r_time", "value")

    def check_value_type(self, value_type: Any, column_type: sa.types.TypeEngine,
                         dialect: str) -> None:
        """Refuse a ``value_type`` option (its column: ``column_type``) this type cannot be
        stored with on ``dialect`` (ConfigError)."""

    def table(self, metadata: sa.MetaData, table_name: str, common: List[sa.Column],
              column_type: sa.types.TypeEngine) -> sa.Table:
        """The table of this type: the ``common`` columns and the layout's own."""
        raise NotImplementedError

    def merge(self, c: Any, new: Any) -> Dict[str, Any]:
        """What an upsert sets when the row exists (``c``: the table's columns, ``new``: the
        incoming row's)."""
        raise NotImplementedError

    def statement(self, dialect: str, table: sa.Table, upsert: bool) -> Any:
        """The statement writing every row of a batch (one executemany); None when each row
        goes through ``write_row`` (a dialect without upserts)."""
        if not upsert:
            return None
        return sql_engine.upsert(dialect, table, self.merge, self.keeps_existing)

    def write_row(self, conn: sa.engine.Connection, table: sa.Table, row: dict) -> None:
        """Write one row without a native upsert."""
        sql_engine.update_or_insert(conn, table, row, self.merge, self.keeps_existing)

    def rows(self, buckets: List[Bucket]) -> List[tuple]:
        """The rows of aggregated buckets ``(name, interval, i_time, r_time, data)``, as tuples
        in ``columns`` order: tuples go to the driver as they are (no dict per row, no
        reordering), the write path's largest per-point cost once it was dicts."""
        raise NotImplementedError

    def select(self, t: sa.Table) -> Any:
        """The columns (and order) a read selects: name, i_time, r_time, value first."""
        return sa.select(t.c.name, t.c.i_time, t.c.r_time, t.c.value)

    def fill(self, out: Raw, rows: Sequence[Sequence[Any]]) -> None:
        """Put the selected rows into ``out``, the raw rows of their names."""
        raise NotImplementedError


def _keyed_by_value(table_name: str, metadata: sa.MetaData, common: List[sa.Column],
                    value: sa.Column, *extra: sa.Column) -> sa.Table:
    """A table with one row per distinct value of a bucket."""
    return sa.Table(
        table_name, metadata, *common, value, *extra,
        sa.PrimaryKeyConstraint("name", "interval", "i_time", "r_time", "value"),
        sqlite_with_rowid=False,  # rows kept in their key's order: upserts touch one b-tree
    )


class _ScalarLayout(SqlLayout):
    """One row per bucket, holding its one value."""

    scalar = True
    updates_rows = True

    def table(self, metadata: sa.MetaData, table_name: str, common: List[sa.Column],
              column_type: sa.types.TypeEngine) -> sa.Table:
        return sa.Table(
            table_name, metadata, *common,
            sa.Column("value", column_type),
            sa.PrimaryKeyConstraint("name", "interval", "i_time", "r_time"),
            sqlite_with_rowid=False,  # rows kept in their key's order: upserts touch one b-tree
        )

    def rows(self, buckets: List[Bucket]) -> List[tuple]:
        return buckets  # a bucket is its row: (name, interval, i_time, r_time, value)

    def fill(self, out: Raw, rows: Sequence[Sequence[Any]]) -> None:
        for name, i_time, r_time, value in rows:
            out[name].setdefault(i_time, {})[None if r_time == NO_RESOLUTION else r_time] = value


class CountLayout(_ScalarLayout):
    """The running total: an upsert adds the batch's sum to it."""

    type_name = "count"
    sums = True

    def check_value_type(self, value_type: Any, column_type: sa.types.TypeEngine,
                         dialect: str) -> None:
        if python_type_of(column_type) not in (int, float, Decimal):
            raise ConfigError("a count needs a numeric value_type, not %r" % (value_type,))

    def merge(self, c: Any, new: Any) -> Dict[str, Any]:
        return {"value": c.value + new["value"]}


class GaugeLayout(_ScalarLayout):
    """The last value written: an upsert replaces it."""

    type_name = "gauge"
    repeatable = True

    def merge(self, c: Any, new: Any) -> Dict[str, Any]:
        return {"value": new["value"]}


class _ValueRowsLayout(SqlLayout):
    """One row per value of a bucket, read back as the bucket's list of values."""

    def fill(self, out: Raw, rows: Sequence[Sequence[Any]]) -> None:
        for name, i_time, r_time, value in rows:
            r_key = None if r_time == NO_RESOLUTION else r_time
            out[name].setdefault(i_time, {}).setdefault(r_key, []).append(value)


class SeriesLayout(_ValueRowsLayout):
    """Every value in arrival order: plain INSERTs, read back in ``id`` order."""

    type_name = "series"

    def table(self, metadata: sa.MetaData, table_name: str, common: List[sa.Column],
              column_type: sa.types.TypeEngine) -> sa.Table:
        ident = sa.BigInteger().with_variant(sa.Integer, "sqlite")
        return sa.Table(
            table_name, metadata,
            sa.Column("id", ident, primary_key=True, autoincrement=True),
            *common,
            sa.Column("value", column_type),
            sa.Index("ix_%s_lookup" % table_name, "name", "interval", "i_time"),
        )

    def statement(self, dialect: str, table: sa.Table, upsert: bool) -> Any:
        return table.insert()  # every value is a new row: nothing to merge

    def rows(self, buckets: List[Bucket]) -> List[tuple]:
        return [(name, interval, i_time, r_time, v)
                for name, interval, i_time, r_time, data in buckets for v in data]

    def select(self, t: sa.Table) -> Any:
        return super().select(t).order_by(t.c.id)


class SetLayout(_ValueRowsLayout):
    """Distinct values, one row each: a value already there is left alone."""

    type_name = "set"
    keeps_existing = True
    repeatable = True

    def check_value_type(self, value_type: Any, column_type: sa.types.TypeEngine,
                         dialect: str) -> None:
        _check_keyable(self.type_name, value_type, column_type, dialect)

    def table(self, metadata: sa.MetaData, table_name: str, common: List[sa.Column],
              column_type: sa.types.TypeEngine) -> sa.Table:
        return _keyed_by_value(table_name, metadata, common,
                               sa.Column("value", column_type, nullable=False))

    def merge(self, c: Any, new: Any) -> Dict[str, Any]:
        return {"value": c.value}  # MySQL has no DO NOTHING: an update that changes nothing

    def rows(self, buckets: List[Bucket]) -> List[tuple]:
        return [(name, interval, i_time, r_time, v)
                for name, interval, i_time, r_time, data in buckets
                for v in sorted(data, key=value_order)]


class HistogramLayout(SqlLayout):
    """One row per distinct value with its ``count``: an upsert adds the batch's count."""

    type_name = "histogram"
    updates_rows = True

    def check_value_type(self, value_type: Any, column_type: sa.types.TypeEngine,
                         dialect: str) -> None:
        _check_keyable(self.type_name, value_type, column_type, dialect)

    def table(self, metadata: sa.MetaData, table_name: str, common: List[sa.Column],
              column_type: sa.types.TypeEngine) -> sa.Table:
        return _keyed_by_value(table_name, metadata, common,
                               sa.Column("value", column_type, nullable=False),
                               sa.Column("count", sa.BigInteger, nullable=False))

    def merge(self, c: Any, new: Any) -> Dict[str, Any]:
        return {"count": c["count"] + new["count"]}

    columns = ("name", "interval", "i_time", "r_time", "value", "count")

    def rows(self, buckets: List[Bucket]) -> List[tuple]:
        return [(name, interval, i_time, r_time, v, c)
                for name, interval, i_time, r_time, data in buckets
                for v, c in sorted(data.items(), key=lambda vc: value_order(vc[0]))]

    def select(self, t: sa.Table) -> Any:
        return sa.select(t.c.name, t.c.i_time, t.c.r_time, t.c.value, t.c["count"])

    def fill(self, out: Raw, rows: Sequence[Sequence[Any]]) -> None:
        for name, i_time, r_time, value, count in rows:
            r_key = None if r_time == NO_RESOLUTION else r_time
            out[name].setdefault(i_time, {}).setdefault(r_key, {})[value] = count


def _check_keyable(type_name: str, value_type: Any, column_type: sa.types.TypeEngine,
                   dialect: str) -> None:
    """A type keying rows by value cannot use a TEXT/BLOB value on MySQL."""
    if dialect in ("mysql", "mariadb") and unkeyable_on_mysql(column_type):
        raise ConfigError("a MySQL %s keys rows by value, and MySQL cannot key a TEXT/BLOB "
                          "column: use value_type='string' (VARCHAR(string_length)) instead of %r"
                          % (type_name, value_type))


LAYOUTS: Dict[str, type] = {layout.type_name: layout for layout in (
    SeriesLayout, HistogramLayout, CountLayout, GaugeLayout, SetLayout)}


def layout_for(type_name: str) -> SqlLayout:
    """The layout of a timeseries type (ConfigError for a type SQL has none for)."""
    try:
        return LAYOUTS[type_name]()
    except KeyError:
        raise ConfigError("no SQL table layout for type %r" % (type_name,)) from None
