"""SQL schema for kairos: one table per timeseries type, and the value types of seed 002.

Every table has ``name``, ``interval``, ``i_time`` (interval bucket key) and
``r_time`` (resolution bucket key, ``-1`` when the interval has no resolution: a
real value keeps the primary keys usable by upserts, where NULL would not); the
columns each type adds are its layout's (``sql_layouts``).

Each data table has a name index ``{table}_names`` (``build_names_table``).
"""
from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Callable, List, Tuple

import sqlalchemy as sa

from ..exceptions import ConfigError
from ..values import to_bool, to_bytes, to_decimal, to_float, to_int

DEFAULT_STRING_LENGTH = 255
DEFAULT_TEXT_LENGTH = 32 * 1024
INTERVAL_LENGTH = 64
#: the table recording applied batch ids, shared by every timeseries of a database
BATCHES_TABLE = "kairos_batches"
#: longest batch marker (MySQL keys a VARCHAR primary key of at most 191 utf8mb4 characters)
MARKER_LENGTH = 190
#: how full PostgreSQL fills the pages of a table whose rows later batches update (counts,
#: gauges, histograms): the room left lets an update stay on its row's page (a HOT update,
#: no new index entry), which cut the server's CPU per upserted row by about a fifth
UPDATED_FILLFACTOR = 80


def _instance_of(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise TypeError("expected %s" % kind.__name__)
        return value
    return check


def _value_types(string_length: int, text_length: int) -> dict:
    """name or Python type -> (SQLAlchemy type, coercion applied before writing)."""
    text = (sa.Text(text_length), str)
    string = (sa.String(string_length), str)
    floating: Tuple[sa.Double[float], Callable[[Any], float]] = (sa.Double(), to_float)
    integer = (sa.BigInteger(), to_int)
    boolean = (sa.Boolean(), to_bool)
    decimal_ = (sa.Numeric(36, 12), to_decimal)
    date = (sa.Date(), _instance_of(_dt.date))
    datetime = (sa.DateTime(), _instance_of(_dt.datetime))
    time = (sa.Time(), _instance_of(_dt.time))
    blob = (sa.LargeBinary(text_length), to_bytes)
    return {
        "blob": blob, bytes: blob,
        "bool": boolean, "boolean": boolean, bool: boolean,
        "clob": text, "text": text,
        "date": date, _dt.date: date,
        "datetime": datetime, _dt.datetime: datetime,
        "decimal": decimal_, decimal.Decimal: decimal_,
        "float": floating, "double": floating, float: floating,
        "int": integer, "int64": integer, "integer": integer, "long": integer, int: integer,
        "str": string, "string": string, "unicode": string, str: string,
        "time": time, _dt.time: time,
    }


def value_column_type(value_type: Any, string_length: int, text_length: int
                      ) -> Tuple[sa.types.TypeEngine, Callable[[Any], Any]]:
    """The column type and write-time coercion for a ``value_type`` option."""
    known = _value_types(string_length, text_length)
    key = value_type.lower() if isinstance(value_type, str) else value_type
    try:
        found = known.get(key)
    except TypeError:  # unhashable: certainly not a known name or type
        found = None
    if found is not None:
        return _portable(found[0]), found[1]
    if isinstance(value_type, type) and issubclass(value_type, sa.types.TypeEngine):
        value_type = value_type()
    if isinstance(value_type, sa.types.TypeEngine):
        python_type = python_type_of(value_type)
        for name_or_type, (column, coerce) in known.items():
            if name_or_type is python_type:
                return _portable(value_type), coerce
        return _portable(value_type), lambda v: v
    names = sorted(k for k in known if isinstance(k, str))
    raise ConfigError("unknown value_type %r: use one of %s, a Python type or a SQLAlchemy type"
                      % (value_type, ", ".join(names)))


def python_type_of(column_type: sa.types.TypeEngine) -> Any:
    """The Python type a column holds, or None when SQLAlchemy does not say."""
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


def _portable(column_type: sa.types.TypeEngine) -> sa.types.TypeEngine:
    """PostgreSQL rejects ``TEXT(n)``: keep the length for the dialects that use it."""
    if isinstance(column_type, sa.Text) and column_type.length:
        return column_type.with_variant(type(column_type)(), "postgresql")
    return column_type


def unkeyable_on_mysql(column_type: sa.types.TypeEngine) -> bool:
    """MySQL cannot put a TEXT/BLOB column in a primary key without a prefix length."""
    return isinstance(column_type, (sa.Text, sa.LargeBinary))


def common_columns(string_length: int) -> List[sa.Column]:
    """The columns every data table starts with (new Column objects for each table)."""
    return [
        sa.Column("name", sa.String(string_length), nullable=False),
        sa.Column("interval", sa.String(INTERVAL_LENGTH), nullable=False),
        sa.Column("i_time", sa.BigInteger, nullable=False),
        sa.Column("r_time", sa.BigInteger, nullable=False),
    ]


def keep_room_for_updates(table: sa.Table) -> sa.Table:
    """Create ``table`` with ``UPDATED_FILLFACTOR`` on PostgreSQL (other dialects have no
    such setting, or not per table); an existing table is left as it is (see the upgrade
    notes: ``ALTER TABLE ... SET (fillfactor = 80)``)."""
    sa.event.listen(table, "after_create", sa.DDL(
        "ALTER TABLE %%(fullname)s SET (fillfactor = %d)" % UPDATED_FILLFACTOR
    ).execute_if(dialect="postgresql"))
    return table


def id_columns(string_length: int) -> List[sa.Column]:
    """``common_columns`` of ``layout='id'``: ``name`` holds the name's id in ``{table}_ids``.

    An integer key makes rows a third of the size, so a batch, which adds a row to every
    stat, rewrites a third of the pages (``benchmarks/sql_upsert_floor.py --layout id``).
    """
    columns = common_columns(string_length)
    columns[0] = sa.Column("name", sa.Integer, nullable=False)
    return columns


def ids_table_name(table_name: str) -> str:
    """The table numbering the names of a ``layout='id'`` data table: ``{table}_ids``."""
    return _suffixed(table_name, "ids")


def build_ids_table(metadata: sa.MetaData, table_name: str, string_length: int) -> sa.Table:
    """The names of a ``layout='id'`` data table and their ids (``id`` from the database).

    Rows are never deleted: a process that cached an id keeps writing under it, and a
    deleted and renumbered name would leave its later rows under an id no name maps to.
    """
    return sa.Table(
        ids_table_name(table_name), metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", BinaryName(string_length), nullable=False, unique=True),
    )


def build_batches_table(metadata: sa.MetaData) -> sa.Table:
    """The ids of applied batches (``marker``: table name and batch id) and when (``at``)."""
    return sa.Table(
        BATCHES_TABLE, metadata,
        sa.Column("marker", sa.String(MARKER_LENGTH), primary_key=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Index("ix_%s_at" % BATCHES_TABLE, "at"),
    )


class BinaryName(sa.types.TypeDecorator):
    """A name compared byte by byte, case-sensitive and without padding, on every dialect.

    The name index ranges over paths (``'a.b.' <= path < 'a.b/'``), which only works
    in binary order: PostgreSQL gets ``COLLATE "C"`` (a database's default collation
    may order punctuation by other rules), MySQL/MariaDB a VARBINARY of the UTF-8 text
    (their default collations ignore case and trailing spaces), SQLite compares binary
    already.
    """

    impl: Any = sa.String  # a class here; TypeDecorator's __init__ makes self.impl an instance
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import VARBINARY
            return dialect.type_descriptor(VARBINARY(4 * (self.impl.length or 255)))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.String(self.impl.length, collation="C"))
        return dialect.type_descriptor(sa.String(self.impl.length))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is not None and dialect.name in ("mysql", "mariadb"):
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("utf-8")
        return value


def names_table_name(table_name: str) -> str:
    """The name index table of a data table: ``{table}_names``."""
    return _suffixed(table_name, "names")


def _suffixed(table_name: str, suffix: str) -> str:
    """``{table}_{suffix}``, shortened past 60 characters (PostgreSQL's identifier limit
    being 63)."""
    name = "%s_%s" % (table_name, suffix)
    if len(name) <= 60:
        return name
    import hashlib
    return "%s_%s_%s" % (table_name[:40], hashlib.sha256(table_name.encode()).hexdigest()[:12],
                         suffix)


def build_names_table(metadata: sa.MetaData, table_name: str, string_length: int) -> sa.Table:
    """The name index of a data table (``kairos.names``): ``depth``, ``path``, ``kind``.

    The primary key (depth, path, kind) is the index serving
    ``depth = ? AND path >= 'p.' AND path < 'p/'``. Depth 0 holds tagged names,
    depth -1 the marker that the index was built.
    """
    return sa.Table(
        names_table_name(table_name), metadata,
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("path", BinaryName(string_length), nullable=False),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.PrimaryKeyConstraint("depth", "path", "kind"),
        sqlite_with_rowid=False,
    )
