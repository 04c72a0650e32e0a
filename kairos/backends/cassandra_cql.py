"""What the Cassandra engine sends, built by pure functions (no driver, no I/O).

One table per timeseries type (``kairos_<type>`` unless ``table_name`` is given).
A partition holds one stat in one interval; rows are clustered by interval key,
resolution key (``-1`` without resolution: clustering columns cannot be null) and,
where a bucket holds several rows, a column of the type's layout
(``cassandra_layouts``, which says what each type adds). Tables that take a TTL
are written ``USING TTL ?`` (0, no expiry, when the interval has no ``steps``).
"""
from __future__ import annotations

import decimal
import ipaddress
import math
import re
from numbers import Number
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..exceptions import ConfigError, InvalidValue
from ..intervals import Interval
from ..values import (NO_RESOLUTION, bucket_order, checked, to_bool, to_bytes, to_decimal,
                      to_float, to_int)

DEFAULT_KEYSPACE = "kairos"
#: Cassandra refuses TTLs above 20 years; longer retention is written without TTL
MAX_TTL = 20 * 365 * 86400
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")

Bucket = Tuple[str, str, int, Optional[int]]


# -- identifiers and value types ----------------------------------------------
def identifier(value: Any, what: str) -> str:
    """A keyspace or table name: a letter then letters, digits, '_' (48 at most), lower-cased
    as Cassandra folds unquoted names."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ConfigError("%s %r must start with a letter and hold only letters, digits and '_' "
                          "(48 characters at most)" % (what, value))
    return value.lower()


def _to_inet(value: Any) -> str:
    return str(ipaddress.ip_address(value))


def _value_types() -> Dict[Any, Tuple[str, Callable[[Any], Any]]]:
    """``value_type`` names and Python types -> (CQL type, coercion before binding)."""
    text = ("text", str)
    blob = ("blob", to_bytes)
    bigint = ("bigint", to_int)
    double = ("double", to_float)
    dec = ("decimal", to_decimal)
    boolean = ("boolean", to_bool)
    inet = ("inet", _to_inet)
    return {
        "str": text, "string": text, "unicode": text, "text": text, "clob": text, str: text,
        "blob": blob, bytes: blob,
        "int": bigint, "integer": bigint, "long": bigint, "int64": bigint, int: bigint,
        "float": double, "double": double, float: double,
        "decimal": dec, decimal.Decimal: dec,
        "bool": boolean, "boolean": boolean, bool: boolean,
        "inet": inet,
    }


def value_type(option: Any) -> Tuple[str, Callable[[Any], Any]]:
    """CQL type of the ``value`` column and a coercion raising InvalidValue on bad values."""
    known = _value_types()
    key = option.lower() if isinstance(option, str) else option
    if key not in known:
        names = sorted(k for k in known if isinstance(k, str))
        raise ConfigError("unknown value_type %r for Cassandra: use one of %s or str, bytes, "
                          "int, float, bool, decimal.Decimal" % (option, ", ".join(names)))
    cql_type, coerce = known[key]
    return cql_type, checked(coerce, "Cassandra " + cql_type)


def counter_increment(value: Any) -> int:
    """A count increment for a counter column: whole numbers only (counters are 64-bit ints)."""
    if isinstance(value, bool) or not isinstance(value, Number):
        raise InvalidValue("a count increment must be a number, not %r" % (value,))
    if isinstance(value, float) and not value.is_integer():
        raise InvalidValue("Cassandra counters hold whole numbers: cannot add %r" % (value,))
    try:
        return to_int(value)
    except (TypeError, ValueError) as err:
        raise InvalidValue("Cassandra counters cannot add %r: %s" % (value, err)) from None


def replication_map(option: Any) -> Dict[str, Any]:
    """The ``replication`` option as a CQL replication map (True: SimpleStrategy, factor 1;
    an int: SimpleStrategy with that factor; a dict: as given)."""
    if option is True:
        return {"class": "SimpleStrategy", "replication_factor": 1}
    if isinstance(option, int) and not isinstance(option, bool) and option > 0:
        return {"class": "SimpleStrategy", "replication_factor": option}
    if isinstance(option, dict) and isinstance(option.get("class"), str):
        return dict(option)
    raise ConfigError("replication must be True, a replication factor or a dict such as "
                      "{'class': 'SimpleStrategy', 'replication_factor': 1}, not %r" % (option,))


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'%s'" % value.replace("'", "''")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("replication values must be strings or whole numbers, not %r" % (value,))
    return str(value)


def create_keyspace(keyspace: str, replication: Dict[str, Any]) -> str:
    """CREATE KEYSPACE IF NOT EXISTS with a replication map."""
    pairs = ", ".join("%s: %s" % (_literal(k), _literal(v)) for k, v in replication.items())
    return "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {%s}" % (keyspace, pairs)


# -- statements ------------------------------------------------------------------
#: the columns every table starts with, in the order a row binds them
KEY_COLUMNS = '"name", "interval", "i_time", "r_time"'
_WHERE_PARTITION = '"name" = ? AND "interval" = ?'


class Statements:
    """The CQL text of every statement one table needs (bind markers ``?``); what differs
    per type comes from the ``layout`` (``cassandra_layouts``)."""

    def __init__(self, layout: Any, keyspace: str, table: str):
        self.layout = layout
        self.table = "%s.%s" % (keyspace, table)

    def create_table(self) -> str:
        extra, clustered = self.layout.columns()
        columns = ['"name" text', '"interval" text', '"i_time" bigint', '"r_time" bigint'] + extra
        clustering = ['"i_time"', '"r_time"'] + clustered
        return "CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY ((\"name\", \"interval\"), %s))" % (
            self.table, ", ".join(columns), ", ".join(clustering))

    def write(self) -> str:
        """The statement one bucket write binds; parameters come from ``write_parameters``."""
        return self.layout.write(self.table)

    def select(self, single: bool) -> str:
        """Rows of one bucket (``i_time = ?``) or of a range (``i_time >= ? AND i_time <= ?``)."""
        where = '"i_time" = ?' if single else '"i_time" >= ? AND "i_time" <= ?'
        return "SELECT %s FROM %s WHERE %s AND %s" % (self.layout.selected, self.table,
                                                       _WHERE_PARTITION, where)

    def bound(self, descending: bool) -> str:
        """The first (or last) interval key of one stat's interval."""
        return 'SELECT "i_time" FROM %s WHERE %s ORDER BY "i_time" %s LIMIT 1' % (
            self.table, _WHERE_PARTITION, "DESC" if descending else "ASC")

    def names(self) -> str:
        return 'SELECT DISTINCT "name", "interval" FROM %s' % self.table

    def delete_partition(self) -> str:
        return "DELETE FROM %s WHERE %s" % (self.table, _WHERE_PARTITION)

    def delete_older(self) -> str:
        """A range delete of the buckets before an interval key (Cassandra 3.0+)."""
        return 'DELETE FROM %s WHERE %s AND "i_time" < ?' % (self.table, _WHERE_PARTITION)

    def truncate(self) -> str:
        return "TRUNCATE %s" % self.table

    def drop(self) -> str:
        return "DROP TABLE IF EXISTS %s" % self.table


class NameStatements:
    """The CQL of a table's name index (``kairos.names``): ``{table}_names``, one partition
    per depth, rows clustered by path, so a node's children are one clustering range
    (text compares as UTF-8 bytes). Depth 0 holds tagged names, depth -1 the marker."""

    def __init__(self, keyspace: str, table: str):
        self.table = "%s.%s_names" % (keyspace, table)

    def create_table(self) -> str:
        return ('CREATE TABLE IF NOT EXISTS %s ("depth" int, "path" text, "kind" text, '
                'PRIMARY KEY (("depth"), "path", "kind"))' % self.table)

    def insert(self) -> str:
        return 'INSERT INTO %s ("depth", "path", "kind") VALUES (?, ?, ?)' % self.table

    def children(self, bounded: bool) -> str:
        """Entries of one depth from a path on (and before another when ``bounded``)."""
        upper = ' AND "path" < ?' if bounded else ""
        return 'SELECT "path", "kind" FROM %s WHERE "depth" = ? AND "path" >= ?%s' % (
            self.table, upper)

    def exact(self) -> str:
        return 'SELECT "path", "kind" FROM %s WHERE "depth" = ? AND "path" = ?' % self.table

    def depth(self) -> str:
        return 'SELECT "path", "kind" FROM %s WHERE "depth" = ?' % self.table

    def every(self) -> str:
        return 'SELECT "depth", "path", "kind" FROM %s' % self.table

    def delete(self) -> str:
        return 'DELETE FROM %s WHERE "depth" = ? AND "path" = ? AND "kind" = ?' % self.table

    def truncate(self) -> str:
        return "TRUNCATE %s" % self.table

    def drop(self) -> str:
        return "DROP TABLE IF EXISTS %s" % self.table


# -- writes ------------------------------------------------------------------------
def ttl_of(interval: Interval, i_key: int, now: float) -> Optional[int]:
    """Seconds a bucket still has to live: 0 for no expiry, None when already expired."""
    expires = interval.expires_at(i_key)
    if expires is None:
        return 0
    ttl = int(math.ceil(expires - now))
    if ttl <= 0:
        return None
    return ttl if ttl <= MAX_TTL else 0


def write_parameters(layout: Any, batch: Mapping[Bucket, Any], intervals: Dict[str, Interval],
                     now: float, make_seq: Callable[[], Any]
                     ) -> Tuple[List[Tuple[Tuple[str, str], Tuple]], int]:
    """``((name, interval), parameters)`` for every row to write, in bucket order, and how many
    buckets were skipped because their retention had ended at ``now``; the ``layout`` of the
    type makes each bucket's rows.

    Counter tables ignore retention in what they bind (no TTL) but still skip expired buckets.
    """
    rows: List[Tuple[Tuple[str, str], Tuple]] = []
    skipped = 0
    add = layout.add_rows
    for bucket, data in sorted(batch.items(), key=bucket_order):
        name, interval, i_key, r_key = bucket
        ttl = ttl_of(intervals[interval], i_key, now)
        if ttl is None:
            skipped += 1
            continue
        r_time = NO_RESOLUTION if r_key is None else r_key
        add(rows, (name, interval), (name, interval, i_key, r_time), ttl, data, make_seq)
    return rows, skipped


def group_batches(rows: Sequence[Tuple[Tuple[str, str], Tuple]], size: int) -> List[List[Tuple]]:
    """Parameters grouped per partition in chunks of at most ``size`` (single-partition batches
    are applied by Cassandra as one mutation)."""
    groups: Dict[Tuple[str, str], List[Tuple]] = {}
    for partition, params in rows:
        groups.setdefault(partition, []).append(params)
    batches = []
    for group in groups.values():
        for start in range(0, len(group), size):
            batches.append(group[start:start + size])
    return batches


# -- reads ---------------------------------------------------------------------------
def select_parameters(name: str, interval: str, first: int, last: int) -> Tuple[bool, Tuple]:
    """``(single, parameters)`` for ``Statements.select``."""
    if first == last:
        return True, (name, interval, first)
    return False, (name, interval, first, last)


def rows_to_raw(layout: Any, rows: Iterable[Sequence[Any]]) -> Dict[int, Dict[Optional[int], Any]]:
    """``{i_key: {r_key or None: raw}}`` from selected rows (i_time, r_time, value[, count]),
    each placed in its bucket by the type's ``layout``."""
    out: Dict[int, Dict[Optional[int], Any]] = {}
    place = layout.place
    for row in rows:
        i_key, r_time = row[0], row[1]
        place(out.setdefault(i_key, {}), None if r_time == NO_RESOLUTION else r_time, row)
    return out
