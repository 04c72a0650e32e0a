"""The SQL storage engine (SQLite, PostgreSQL, MySQL/MariaDB through SQLAlchemy 2).

Each type's table, rows, upsert and read are its layout's (``sql_layouts``).
Writes are one transaction per ``bulk_insert``: one ``executemany`` per statement,
using each dialect's upsert (``ON CONFLICT`` on SQLite/PostgreSQL,
``ON DUPLICATE KEY UPDATE`` on MySQL), rows sorted so concurrent writers lock in
the same order (on PostgreSQL, COPY into a temporary stage then one INSERT ... SELECT:
``sql_copy``). Other dialects fall back to update-then-insert per row.

A batch with a ``batch_id`` first inserts its marker into ``kairos_batches`` in the
same transaction: a batch already applied finds its marker and changes nothing, so
retrying after a lost reply never counts twice. The name index entries of the
batch's new names (``kairos.names``, table ``{table}_names``) go in the same
transaction, ``INSERT ... ON CONFLICT DO NOTHING`` / ``INSERT IGNORE``. A value the
database refuses (a total past the column's range, a name too long) rolls the whole
transaction back and raises InvalidValue: nothing of the batch is stored, and the
caller can retry without the bad value. A large gauge or set batch on a database
server is written as several transactions at once (``write_parts``, ``sql_parts``):
a refused value then leaves the other parts' rows stored, their markers deleted, so
the batch sent again under its id writes them again, to the same values.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import operator
import os
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from .. import names as name_index
from ..exceptions import BackendError, ConfigError, InvalidValue
from ..values import INT64_MAX, INT64_MIN
from ..intervals import Interval
from ..registry import redact_url
from ..slot_batch import names_of, slots_of
from ..timeseries import Timeseries
from . import sql_copy, sql_engine, sql_ids, sql_layouts, sql_parts, sql_values
from ..values import NO_RESOLUTION, checked, to_float
from .sql_tables import (DEFAULT_STRING_LENGTH, DEFAULT_TEXT_LENGTH, MARKER_LENGTH,
                         build_batches_table, build_names_table, common_columns,
                         build_ids_table, id_columns, keep_room_for_updates,
                         value_column_type)

log = logging.getLogger(__name__)

UPSERT_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
#: servers a large batch is written to in 2 parts at once by default (``write_parts``,
#: measured on PostgreSQL; MySQL takes the option too)
PARTED_DIALECTS = ("postgresql",)
#: seconds a batch marker is kept (``batch_ttl``): a retry or a replay of dead letters of a
#: batch whose reply was lost is recognised for this long
DEFAULT_BATCH_TTL = 86400
#: seconds a database server may take to answer one read or write (``timeout``; 0: no limit)
DEFAULT_TIMEOUT = 30.0
#: what the ``layout`` option takes: rows keyed by the stat's name, or by its id
ROW_KEYS = ("name", "id")
#: the layout of a new table when the option is not given (a table that exists keeps its own)
DEFAULT_ROW_KEY = "id"
#: the columns of a two-column row (``_fetch_flat``)
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)


#: a batch's rows: tuples in ``layout.columns`` order, or a scalar type's slots on SQLite
Rows = Union[List[tuple], sql_values.SlotGroups]

#: the exact types each value coercion returns unchanged (their values skip it)
_UNCHANGED_BY: Dict[Any, Tuple[type, ...]] = {to_float: (float,), str: (str,)}


class _Refused(Exception):
    """The database refused a value: the transaction was rolled back (InvalidValue outside)."""


class SqlTimeseries(Timeseries):
    """A timeseries stored in one SQL table per type (see ``sql_layouts``)."""

    engine = "sql"
    exactly_once = True

    def _setup(self, client: Any, string_length: int = DEFAULT_STRING_LENGTH,
               text_length: int = DEFAULT_TEXT_LENGTH, table_name: Optional[str] = None,
               value_type: Any = float, client_config: Optional[dict] = None,
               upsert: Optional[bool] = None, batch_ttl: int = DEFAULT_BATCH_TTL,
               timeout: float = DEFAULT_TIMEOUT, prefix: Optional[str] = None,
               layout: Optional[str] = None, write_parts: Optional[int] = None,
               **unknown: Any) -> None:
        if unknown:
            raise ConfigError("unknown SQL option(s): %s (SQL takes string_length, text_length, "
                              "table_name, prefix, value_type, client_config, upsert, batch_ttl, "
                              "timeout, layout, write_parts)"
                              % ", ".join(sorted(unknown)))
        if layout is not None and layout not in ROW_KEYS:
            raise ConfigError("layout must be one of %s, not %r"
                              % (", ".join(repr(k) for k in ROW_KEYS), layout))
        #: the layout was given: a table of the other one is refused, not adopted
        self._layout_given = layout is not None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise ConfigError("timeout must be a number of seconds (0: none), not %r" % (timeout,))
        self.timeout = float(timeout)
        if isinstance(batch_ttl, bool) or not isinstance(batch_ttl, int) or batch_ttl < 1:
            raise ConfigError("batch_ttl must be a whole number of seconds, not %r" % (batch_ttl,))
        self.batch_ttl = batch_ttl
        self.string_length = string_length
        if isinstance(client, str):
            try:
                self.db = sql_engine.create(client, client_config or {})
            except (sa_exc.ArgumentError, ImportError, ValueError, TypeError) as err:
                # a bad URL, an uninstalled driver, a bad client_config keyword
                raise ConfigError("cannot use SQL URL %s: %s: %s" % (
                    redact_url(client), type(err).__name__, err)) from err
        elif isinstance(client, sa.engine.Engine):
            if client_config:
                raise ConfigError("client_config only applies when the client is a URL")
            self.db = client
        else:
            raise ConfigError("the SQL engine takes a URL or a SQLAlchemy Engine, not %r" % (client,))
        self.layout = sql_layouts.layout_for(self.type)
        column_type, coerce = value_column_type(value_type, string_length, text_length)
        self.layout.check_value_type(value_type, column_type, self.db.dialect.name)
        self._check_value = checked(coerce, str(column_type))
        self._unchecked_types = _UNCHANGED_BY.get(coerce, ())
        self._ints_as_floats = coerce is to_float
        table_name = table_name or "kairos_%s" % self.type
        if prefix is not None and not isinstance(prefix, str):
            raise ConfigError("prefix must be a string, not %r" % (prefix,))
        if prefix and prefix.rstrip(":"):  # the original's Redis-only key prefix: here the table's
            table_name = "%s_%s" % (prefix.rstrip(":"), table_name)
        self._column_type = column_type
        self._build_tables(table_name, layout or DEFAULT_ROW_KEY)
        self._upsert = self.db.dialect.name in UPSERT_DIALECTS if upsert is None else upsert
        dialect = self.db.dialect.name
        if write_parts is None:
            write_parts = 2 if dialect in PARTED_DIALECTS else 1
        most = 1 if dialect == "sqlite" else sql_parts.MAX_PARTS
        if (isinstance(write_parts, bool) or not isinstance(write_parts, int)
                or not 1 <= write_parts <= most):
            raise ConfigError("write_parts must be a whole number from 1 to %d%s, not %r" % (
                most, " (SQLite writes one transaction at a time)" if most == 1 else "",
                write_parts))
        #: transactions a large batch is written in at once (``sql_parts``)
        self.write_parts = write_parts
        self._parts: Optional[int] = None  # what the pool and gevent allow of it, on first use
        self._ready = False

    def _build_tables(self, table_name: str, row_key: str) -> None:
        """The tables of ``row_key``'s layout (not created yet), and no statement built on
        other ones."""
        metadata = sa.MetaData()
        #: rows keyed by the stat's name ('name') or by its number in ``{table}_ids`` ('id')
        self.row_key = row_key
        common = (id_columns if row_key == "id" else common_columns)(self.string_length)
        self.table = self.layout.table(metadata, table_name, common, self._column_type)
        if self.layout.updates_rows:
            keep_room_for_updates(self.table)
        self.batches = build_batches_table(metadata)
        self.names = build_names_table(metadata, self.table.name, self.string_length)
        #: layout='id': the names' ids (None: rows keyed by name)
        self.ids: Optional[sa.Table] = None
        self._name_ids: Optional[sql_ids.NameIds] = None
        #: what a custom fetch and properties select from: the table, or (layout='id') the
        #: table joined to its ids, names in place of ids (the other reads look ids up first)
        self.readable: Any = self.table
        if row_key == "id":
            self.ids = build_ids_table(metadata, self.table.name, self.string_length)
            self._name_ids = sql_ids.NameIds(
                self.ids, keep_reads=not sql_engine.shares_one_connection(self.db),
                in_order=self.db.dialect.name == "sqlite")
            self.readable = sql_ids.view(self.table, self.ids)
        self._fast_write: Optional[tuple] = None  # the write statement, compiled for executemany
        self._read_query: Any = None  # the statement of _native_fetch, built on first use
        self._flat_queries: Dict[bool, Any] = {}  # _fetch_flat's, by "has a resolution"

    # a property where the base has a class attribute (mypy: read-only where it was writable)
    @property
    def blocking(self) -> bool:  # type: ignore[override]
        """SQLite's driver holds the whole process while it waits for the file (not :memory:)."""
        return self.db.dialect.name == "sqlite" and self.db.url.database not in (None, "", ":memory:")

    @property
    def storage_file(self) -> Optional[str]:  # type: ignore[override]
        """The SQLite file's absolute path (its writers take turns on one lock)."""
        database = self.db.url.database
        return os.path.realpath(database) if database and self.blocking else None

    def _release(self) -> None:
        """Close the pooled connections of the SQLAlchemy engine built from the URL."""
        self.db.dispose()

    def __repr__(self) -> str:
        return "SqlTimeseries(%s, type=%r, table=%r)" % (
            self.db.url.render_as_string(hide_password=True), self.type, self.table.name)

    # -- plumbing ---------------------------------------------------------
    def _run(self, work: Callable[[sa.engine.Connection], Any], write: bool = False) -> Any:
        """Run ``work`` on a connection (in a transaction when writing), errors as BackendError.

        SQLite answers "database is locked" at once, without its busy wait, when waiting
        could deadlock two processes; the transaction was rolled back, so it is retried.
        """
        for attempt in range(1, sql_engine.LOCKED_ATTEMPTS + 1):
            started = time.monotonic()
            try:
                with sql_engine.deadline(self.db, self.timeout):
                    if not self._ready:
                        self._create_tables()
                        self._ready = True
                    if write:
                        with sql_engine.writer_turn(self.db), self.db.begin() as conn:
                            return work(conn)
                    with self.db.connect() as conn:
                        return work(conn)
            except sql_engine.Expired:
                raise BackendError("%s did not answer within %g s (timeout)" % (
                    self.db.url.render_as_string(hide_password=True), self.timeout)) from None
            except sa_exc.SQLAlchemyError as err:
                if self.timeout and time.monotonic() - started >= self.timeout:
                    # the deadline broke the connection; cleaning up reported that instead
                    raise BackendError("%s did not answer within %g s (timeout)" % (
                        self.db.url.render_as_string(hide_password=True), self.timeout)) from err
                if write and sql_engine.is_refused_value(err):
                    # the value, not the database, is at fault; the transaction was rolled back
                    raise InvalidValue("%s refused a value of the batch (nothing of it stored): %s"
                                       % (self._where_name(), getattr(err, "orig", None) or err)
                                       ) from err
                if attempt < sql_engine.LOCKED_ATTEMPTS and sql_engine.is_locked(self.db, err):
                    time.sleep(0.1 * attempt)  # at most 2.8 s in all
                    continue
                raise self._backend_error(err) from err

    def _create_tables(self) -> None:
        """Create the tables that are missing. A data table that exists keeps its layout:
        without a ``layout`` option it is adopted, the other layout is refused."""
        self._adopt(self._existing_row_key())
        if self.ids is not None:
            sql_engine.create_table(self.db, self.ids)
        sql_engine.create_table(self.db, self.table)
        # another process may have created the table between the check and the CREATE
        self._adopt(self._existing_row_key())
        if self.ids is not None:
            sql_engine.create_table(self.db, self.ids)
        sql_engine.create_table(self.db, self.batches)
        sql_engine.create_table(self.db, self.names)

    def _adopt(self, existing: Optional[str]) -> None:
        """Take the layout of the table in the database (``existing``) when the ``layout``
        option was not given; refuse it when the option names the other one."""
        if existing is None or existing == self.row_key:
            return
        if self._layout_given:
            raise ConfigError(
                "%s holds rows keyed by %s, and this timeseries has layout=%r: give it the "
                "table's layout, or another table_name and copy the data over with migrate"
                % (self._where_name(), "name id (layout='id')" if existing == "id"
                   else "name (layout='name')", self.row_key))
        self._build_tables(self.table.name, existing)

    def _settle_tables(self) -> None:
        """Create the tables now (or adopt the existing one's layout), before building a
        statement on them: statements built earlier could name the other layout's."""
        if not self._ready:
            self._run(_nothing)

    def _existing_row_key(self) -> Optional[str]:
        """The layout of the data table in the database ('name' or 'id'), or None."""
        inspector = sa.inspect(self.db)
        if not inspector.has_table(self.table.name):
            return None
        name = next((c for c in inspector.get_columns(self.table.name) if c["name"] == "name"),
                    None)
        return "id" if name is not None and isinstance(name["type"], sa.Integer) else "name"

    def _where_name(self) -> str:
        return "%s table %s" % (self.db.url.render_as_string(hide_password=True), self.table.name)

    def _backend_error(self, err: Exception) -> BackendError:
        return BackendError("%s on %s: %s" % (
            type(err).__name__, self.db.url.render_as_string(hide_password=True),
            getattr(err, "orig", None) or err))

    def _where(self, name: Optional[str] = None, interval: Optional[str] = None):
        clauses = []
        if name is not None:
            clauses.append(self.table.c.name == name if self.ids is None
                           else sql_ids.id_of(self.table, self.ids, name))
        if interval is not None:
            clauses.append(self.table.c.interval == interval)
        return sa.and_(*clauses) if clauses else sa.true()

    # -- writing ----------------------------------------------------------
    def _write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
               now: Optional[float] = None, new_names: Sequence[str] = (),
               **kwargs: Any) -> None:
        self._settle_tables()
        self._write_call(batch, batch_id, now, new_names, **kwargs)()

    def _prepare_write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
                       now: Optional[float] = None, new_names: Sequence[str] = (),
                       **kwargs: Any) -> Callable[[], None]:
        """The batch's rows, made now, and the write of them, returned (see ``prepare_bulk``)."""
        if not self._ready:  # the tables may have to be made: all of it in the write (karbon's
            # SQLite thread), which waits for the file's lock where gevent's loop must not
            return functools.partial(self._write, batch, batch_id=batch_id, now=now,
                                     new_names=new_names, **kwargs)
        return self._write_call(batch, batch_id, now, new_names, **kwargs)

    def _write_call(self, batch: Mapping[Tuple, Any], batch_id: Optional[str],
                    now: Optional[float], new_names: Sequence[str],
                    **kwargs: Any) -> Callable[[], None]:
        """The rows of a batch whose tables exist, made now, and the write of them."""
        if kwargs:
            raise ConfigError("unknown SQL write option(s): %s" % ", ".join(sorted(kwargs)))
        name_ids = self._name_ids
        names: Dict[str, None] = {}
        if name_ids is not None:
            names = names_of(batch)  # in order: new ones are numbered in it on SQLite
            self._check_names(names)
        # layout='id': a batch with a name this writer has no id for gets its rows in the
        # transaction, once every name has one; else (the steady state) they are made
        # before it, out of SQLite's write lock, which other writers of the file wait for
        known = None if name_ids is None else name_ids.known
        prebuilt = known is None or known.keys() >= names.keys()  # a loop over names only
        rows = self._rows(batch, known) if prebuilt else []
        index_rows = self._index_rows(name_index.entries_of(new_names))
        at = int(self.clock() if now is None else now)
        statement = self.layout.statement(self.db.dialect.name, self.table, self._upsert)
        if (self.write_parts > 1 and prebuilt and self.layout.repeatable and isinstance(rows, list)
                and len(rows) >= sql_parts.PART_MIN_ROWS):  # (SlotGroups: SQLite, one part)
            # a large batch whose rows come out the same if written twice: in parts at once
            if self._parts is None:
                self._parts = sql_parts.parts_for(self.db, self.write_parts)
            chunks = sql_parts.cut(rows, self._parts)
            if len(chunks) > 1:
                return functools.partial(self._write_parts, batch, batch_id, chunks,
                                         index_rows, at, statement)
        return functools.partial(self._write_rows, batch, rows, batch_id, index_rows, at,
                                 statement, None if prebuilt else names)

    def _write_rows(self, batch: Mapping[Tuple, Any], rows: Rows, batch_id: Optional[str],
                    index_rows: List[dict], at: int, statement: Any,
                    unknown: Optional[Dict[str, None]]) -> None:
        """Write a batch's rows in one transaction (``unknown``: its names without an id:
        their rows are made in it, once they have one)."""
        resolved = self._run(self._transaction(batch, rows, batch_id, index_rows, at, statement,
                                               unknown), write=True)
        if self._name_ids is not None and resolved is not None:
            self._name_ids.remember(resolved)

    def _write_parts(self, batch: Mapping[Tuple, Any], batch_id: Optional[str],
                     chunks: List[List[tuple]], index_rows: List[dict], at: int,
                     statement: Any) -> None:
        """Write ``chunks`` at once, each a transaction under its part's id (``sql_parts``)."""
        ids = [sql_parts.part_id(batch_id, k, len(chunks)) for k in range(len(chunks))]
        try:
            sql_parts.run_all([functools.partial(self._run, self._transaction(
                batch, chunk, part, index_rows if k == 0 else [], at, statement), write=True)
                for k, (chunk, part) in enumerate(zip(chunks, ids))])
        except InvalidValue as err:
            if batch_id is not None:  # sent again under its id, the batch is written whole
                self._forget([self._marker(part) for part in ids if part is not None])
            raise InvalidValue("%s (written in %d parts: the others may be stored, and are "
                               "written again, alike, when the batch is sent again)"
                               % (err, len(chunks))) from err

    def _transaction(self, batch: Mapping[Tuple, Any], rows: Rows,
                     batch_id: Optional[str], index_rows: List[dict], at: int, statement: Any,
                     unknown: Optional[Dict[str, None]] = None
                     ) -> Callable[[sa.engine.Connection], Optional[Dict[str, int]]]:
        """The work of one write transaction: claim ``batch_id``'s marker (the batch is
        there already when another holds it), index the new names, write ``rows`` (or,
        ``unknown`` given, resolve those names' ids first and make the rows of ``batch``).
        It returns the ids it resolved."""
        marker = None if batch_id is None else self._marker(batch_id)

        def work(conn: sa.engine.Connection) -> Optional[Dict[str, int]]:
            if marker is not None and not sql_engine.claim_marker(conn, self.batches, marker, at):
                log.debug("batch %s is already in %s", batch_id, self.table.name)
                return None
            sql_engine.insert_ignore(conn, self.names, index_rows)
            resolved = None
            written = rows
            if unknown is not None and self._name_ids is not None:
                resolved = self._name_ids.resolve(conn, unknown)
                written = self._rows(batch, resolved)
            if statement is not None:
                self._executemany(conn, statement, written)
            else:
                for row in self._dicts(written):
                    self.layout.write_row(conn, self.table, row)
            return resolved
        return work

    def _forget(self, markers: List[str]) -> None:
        """Delete batch markers: those batches, sent again, are written again."""
        def work(conn: sa.engine.Connection) -> None:
            conn.execute(self.batches.delete().where(self.batches.c.marker.in_(markers)))
        self._run(work, write=True)

    def _marker(self, batch_id: str) -> str:
        """The batch's row in ``kairos_batches``: table name and id (hashed when too long)."""
        if not isinstance(batch_id, str) or not batch_id:
            raise InvalidValue("batch_id must be a non-empty string, not %r" % (batch_id,))
        marker = "%s:%s" % (self.table.name, batch_id)
        if len(marker) > MARKER_LENGTH:
            marker = "%s:#%s" % (self.table.name[:100], hashlib.sha256(marker.encode()).hexdigest())
        return marker

    def _executemany(self, conn: sa.engine.Connection, statement: Any, rows: Rows) -> None:
        """One executemany of row tuples; straight to the driver when no column needs a bind
        processor.

        SQLAlchemy's per-row parameter processing costs more than the database itself on
        large batches, and these columns (names, integers, floats) need none; a value type
        that does (dates, decimals on SQLite...) keeps the ordinary path, with dicts.
        """
        fast = self._fast_write  # one timeseries always writes with the same statement
        columns = self.layout.columns
        if fast is None:
            # only the columns the rows carry: a series' id is the database's to fill
            compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
            plain = all(_plain_bind(bind.type, conn.dialect) for bind in compiled.binds.values())
            order = tuple(compiled.positiontup) if conn.dialect.positional else None
            # the driver's parameter order as positions in the row tuples (None: as they are)
            picks = None if order is None or order == columns else [columns.index(c) for c in order]
            sql: Any = compiled.string
            if plain and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
                sql = sql_copy.statements(conn, self.table, sql, columns)
            elif plain and conn.dialect.name == "sqlite" and picks is None:
                sql = sql_values.ManyRows(sql, len(columns), sql_engine.sqlite_parameters(conn))
            fast = self._fast_write = (plain, sql, order, picks)
        plain, sql, order, picks = fast
        if isinstance(rows, sql_values.SlotGroups):  # made for ManyRows (``_rows``)
            if isinstance(sql, sql_values.ManyRows):
                for text, parameters in sql.grouped_statements(rows):
                    conn.exec_driver_sql(text, parameters)
                return
            rows = list(rows)
        if not plain:
            conn.execute(statement, self._dicts(rows))
        elif isinstance(sql, sql_copy.Copy):
            sql_copy.write(conn, sql, rows)
        elif isinstance(sql, sql_values.ManyRows):
            for text, parameters in sql.statements(rows):
                conn.exec_driver_sql(text, parameters)
        elif order is None:
            conn.exec_driver_sql(sql, self._dicts(rows))
        elif picks is None:
            conn.exec_driver_sql(sql, rows)
        else:
            getter = operator.itemgetter(*picks)
            conn.exec_driver_sql(sql, [getter(row) for row in rows])

    def _dicts(self, rows: Iterable[tuple]) -> List[dict]:
        """Row tuples as ``{column: value}``, for the paths that bind by name."""
        columns = self.layout.columns
        return [dict(zip(columns, row)) for row in rows]

    def _rows(self, batch: Mapping[Tuple, Any], ids: Optional[Dict[str, int]] = None) -> Rows:
        """Aggregated batch -> row tuples (``layout.columns``), built slot by slot
        (``slot_batch``), sorted by key so writers lock rows in one order; ``ids``: each
        name's id (``layout='id'``), written in its place.

        The buckets are sorted as plain tuples, at C speed: their first four fields are
        unique in a batch (an interval's buckets all have a resolution key or none), so the
        data is never compared. A scalar type on SQLite, once its first write compiled the
        statement, gets ``SlotGroups`` instead: no tuple per row (``sql_values``).
        """
        fast = self._fast_write
        if fast is not None and self.layout.scalar and isinstance(fast[1], sql_values.ManyRows):
            return self._slot_groups(batch, ids, fast[1])  # SQLite, once its statement is known
        slots = [(interval, i_key, NO_RESOLUTION if r_key is None else r_key, names)
                 for (interval, i_key, r_key), names in slots_of(batch).items()]
        buckets: List[Tuple[Any, str, int, int, Any]]
        if ids is None:
            buckets = sorted([(name, interval, i_key, r_key, data)
                              for interval, i_key, r_key, names in slots
                              for name, data in names.items()])
            if buckets:
                self._check_names(map(_FIRST, buckets))
        else:
            buckets = sorted([(ids[name], interval, i_key, r_key, data)
                              for interval, i_key, r_key, names in slots
                              for name, data in names.items()])
        if buckets and self.layout.sums and self.db.dialect.name == "sqlite":
            buckets = [bucket if _binds_on_sqlite(bucket[4]) else bucket[:4] + (float(bucket[4]),)
                       for bucket in buckets]
        return self.layout.rows(buckets)

    def _slot_groups(self, batch: Mapping[Tuple, Any], ids: Optional[Dict[str, int]],
                     many: sql_values.ManyRows) -> Rows:
        """``_rows`` of a scalar type on SQLite, for its grouped statements (``SlotGroups``),
        unless these would be many more than the plain ones."""
        sums = self.layout.sums
        slots = []
        for (interval, i_key, r_key), names in slots_of(batch).items():
            keys = list(names) if ids is None else list(map(ids.__getitem__, names))
            values = list(names.values())
            # (a NaN could hide a wide int from max and min, but a count's column takes
            # floats, ints or decimals, never both NaN and ints past 64 bits)
            if sums and values and (max(values) > INT64_MAX or min(values) < INT64_MIN):
                values = [v if _binds_on_sqlite(v) else float(v) for v in values]
            slots.append(((interval, i_key, NO_RESOLUTION if r_key is None else r_key),
                          keys, values))
        if ids is None:
            for _, keys, _ in slots:
                self._check_names(keys)
        groups = sql_values.SlotGroups(slots)
        if not many.pays_to_group(groups):  # scattered names: rows as tuples,
            return sorted(groups)  # in fewer and longer statements
        return groups

    def _check_names(self, names: Any) -> None:
        """InvalidValue for a name longer than its column, before anything is sent."""
        longest = self.string_length
        names = list(names)
        if names and max(map(len, names)) > longest:
            name = next(name for name in names if len(name) > longest)
            raise InvalidValue("stat name %r is too long: more than the %d characters of its "
                               "column (string_length)" % (name[:40] + "...", longest))

    # -- reading ----------------------------------------------------------
    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        if fetch is not None:
            end = None if first == last else last
            return self._run(lambda conn: fetch(conn, self.readable, name, interval.name, first,
                                                end)) or {}
        return self._fetch_many([name], interval, first, last, None)[name]

    def _fetch_many(self, names: Sequence[str], interval: Interval, first: int, last: int,
                    fetch: Optional[Callable]) -> Dict[str, Dict[int, Dict[Optional[int], Any]]]:
        """Every name in one query (``name IN (...)``), unless a custom ``fetch`` reads them."""
        if fetch is not None:
            return super()._fetch_many(names, interval, first, last, fetch)
        return self._run(lambda conn: self._native_fetch(conn, names, interval.name, first, last))

    def _native_fetch(self, conn: sa.engine.Connection, names: Sequence[str], interval: str,
                      first: int, last: int) -> Dict[str, Dict[int, Dict[Optional[int], Any]]]:
        query = self._read_query
        if query is None:
            # built once: every read runs the same statement (SQLAlchemy caches its compiled
            # form, but building the expression and its cache key cost as much as a small read)
            t = self.table  # layout='id': the names' ids are looked up first, not joined
            query = self._read_query = self.layout.select(t).where(
                t.c.name.in_(sa.bindparam("names", expanding=True)),
                t.c.interval == sa.bindparam("interval"), t.c.i_time >= sa.bindparam("first"),
                t.c.i_time <= sa.bindparam("last"))
        params = {"interval": interval, "first": first, "last": last}
        if self._name_ids is not None:  # rows keyed by id: filled by id, then named
            ids = self._name_ids.existing(conn, names)
            by_id: Dict[Any, Dict[int, Dict[Optional[int], Any]]] = {
                ids[name]: {} for name in names if name in ids}
            if by_id:
                self.layout.fill(by_id, conn.execute(query, dict(params, names=list(by_id)))
                                 .fetchall())
            return {name: by_id[ids[name]] if name in ids else {} for name in names}
        out: Dict[str, Dict[int, Dict[Optional[int], Any]]] = {name: {} for name in names}
        rows: Sequence[Sequence[Any]] = conn.execute(query, dict(params, names=list(names))
                                                     ).fetchall()  # plain tuples: no per-row fetch
        if rows and conn.dialect.name in ("mysql", "mariadb"):
            rows = _as_asked(rows, names)
        self.layout.fill(out, rows)
        return out

    def _fetch_flat(self, names: Sequence[str], interval: Interval, first: int, last: int
                    ) -> Dict[str, Tuple[Sequence[int], Sequence[Any]]]:
        """Counts and gauges (one value per bucket): one two-column query per name on one
        connection, its rows taken from the driver's cursor as they come (no SQLAlchemy
        row objects, no name column to read back) and split in two at C speed."""
        if not self.layout.scalar:
            return super()._fetch_flat(names, interval, first, last)
        self._settle_tables()
        query = self._flat_queries.get(interval.has_resolution)
        if query is None:  # built once per key column, as _native_fetch's statement
            t = self.table  # layout='id': the name's id is looked up first, not joined
            key = t.c.r_time if interval.has_resolution else t.c.i_time
            query = self._flat_queries[interval.has_resolution] = sa.select(key, t.c.value).where(
                t.c.name == sa.bindparam("name"), t.c.interval == sa.bindparam("interval"),
                t.c.i_time >= sa.bindparam("first"), t.c.i_time <= sa.bindparam("last"))
        params = {"interval": interval.name, "first": first, "last": last}
        name_ids = self._name_ids

        def read(conn: sa.engine.Connection) -> Dict[str, Tuple[Sequence[int], Sequence[Any]]]:
            out: Dict[str, Tuple[Sequence[int], Sequence[Any]]] = {}
            ids = None if name_ids is None else name_ids.existing(conn, names)
            for name in names:
                key = name if ids is None else ids.get(name)
                if key is None:  # no id: never written
                    out[name] = ((), ())
                    continue
                result = conn.execute(query, dict(params, name=key))
                try:
                    rows = result.cursor.fetchall() if result.cursor is not None else []
                finally:
                    result.close()
                # the two columns, split in C (a third faster than zip(*rows))
                out[name] = (list(map(_FIRST, rows)), list(map(_SECOND, rows))) if rows else ((), ())
            return out

        return self._run(read)

    # -- meta data and deletion --------------------------------------------
    def ping(self) -> None:
        self._run(lambda conn: conn.execute(sa.text("SELECT 1")))

    def list(self) -> List[str]:
        self._settle_tables()
        t = self.table
        if self.ids is None:
            query = sa.select(t.c.name).distinct().order_by(t.c.name)
        else:  # ids are never deleted: the names with rows
            ids = self.ids
            query = (sa.select(ids.c.name).where(sa.exists().where(t.c.name == ids.c.id))
                     .order_by(ids.c.name))
        return self._run(lambda conn: [row[0] for row in conn.execute(query)])

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        self._settle_tables()
        t = self.readable
        query = (sa.select(t.c.interval, sa.func.min(t.c.i_time), sa.func.max(t.c.i_time))
                 .where(t.c.name == name).group_by(t.c.interval))
        return self._run(lambda conn: OrderedDict(
            (row[0], (row[1], row[2])) for row in conn.execute(query)))

    def delete(self, name: str) -> None:
        """Delete the data of ``name`` and its index entries, in one transaction."""
        def work(conn: sa.engine.Connection) -> None:
            conn.execute(self.table.delete().where(self._where(name)))
            self._unindex(conn, name)
        self._run(work, write=True)
        self._forget_names([name])

    def delete_all(self) -> None:
        """Delete every row of the table and every index entry (the index stays built)."""
        def work(conn: sa.engine.Connection) -> None:
            conn.execute(self.table.delete())
            conn.execute(self.names.delete().where(self.names.c.depth >= 0))
        self._run(work, write=True)
        self._forget_names()

    # -- the name index ------------------------------------------------------
    @staticmethod
    def _index_rows(entries: Sequence[name_index.Entry]) -> List[dict]:
        return [{"depth": depth, "path": path, "kind": kind} for depth, path, kind in entries]

    def _unindex(self, conn: sa.engine.Connection, name: str) -> None:
        """Remove the entry of ``name`` and the branches above it left without children.

        A writer adding a new sibling at the same moment may see its branch removed
        (its insert found the branch there, ours did not see its uncommitted child);
        ``rebuild_index`` restores it. Deletes are rare; the race needs a brand new
        name under the very branch being emptied.
        """
        n = self.names.c
        own, walk = name_index.removal(name)
        if own is None:
            return
        conn.execute(self.names.delete().where(n.depth == own[0], n.path == own[1],
                                               n.kind == own[2]))
        for (depth, path, kind), child_depth, low, high in walk:
            child = sa.select(n.path).where(n.depth == child_depth, n.path >= low,
                                            n.path < high).limit(1)
            if conn.execute(child).first() is not None:
                break
            conn.execute(self.names.delete().where(n.depth == depth, n.path == path,
                                                   n.kind == kind))

    def _index_children(self, depth: int, low: str, high: Optional[str]) -> List[Tuple[str, str]]:
        n = self.names.c
        query = sa.select(n.path, n.kind).where(n.depth == depth, n.path >= low)
        if high is not None:
            query = query.where(n.path < high)
        return self._run(lambda conn: [tuple(row) for row in conn.execute(query)])

    def _index_find(self, keys: Sequence[Tuple[int, str]]) -> List[Tuple[str, str]]:
        n = self.names.c
        by_depth: Dict[int, List[str]] = {}
        for depth, path in keys:
            by_depth.setdefault(depth, []).append(path)
        found: List[Tuple[str, str]] = []

        def work(conn: sa.engine.Connection) -> None:
            for depth, paths in sorted(by_depth.items()):
                for start in range(0, len(paths), 500):
                    query = sa.select(n.path, n.kind).where(
                        n.depth == depth, n.path.in_(paths[start:start + 500]))
                    found.extend(tuple(row) for row in conn.execute(query))
        self._run(work)
        return found

    def _index_tagged(self) -> List[str]:
        n = self.names.c
        query = sa.select(n.path).where(n.depth == 0, n.kind == name_index.TAGGED)
        return self._run(lambda conn: [row[0] for row in conn.execute(query)])

    def _index_entries(self) -> List[name_index.Entry]:
        n = self.names.c
        query = sa.select(n.depth, n.path, n.kind).where(n.depth >= 0)
        return self._run(lambda conn: [tuple(row) for row in conn.execute(query)])

    def _index_add(self, entries: Sequence[name_index.Entry]) -> None:
        rows = self._index_rows(entries)
        for start in range(0, len(rows), 10000):  # bounded transactions on a backfill
            chunk = rows[start:start + 10000]
            # _run calls it at once (retries included), so the closure sees this chunk
            self._run(lambda conn: sql_engine.insert_ignore(conn, self.names, chunk), write=True)

    def _index_discard(self, entries: Sequence[name_index.Entry]) -> None:
        n = self.names.c

        def work(conn: sa.engine.Connection) -> None:
            for depth, path, kind in entries:
                conn.execute(self.names.delete().where(n.depth == depth, n.path == path,
                                                       n.kind == kind))
        self._run(work, write=True)

    def _index_built(self) -> bool:
        n = self.names.c
        query = sa.select(n.kind).where(n.depth == -1).limit(1)
        return self._run(lambda conn: conn.execute(query).first() is not None)

    def _index_set_built(self) -> None:
        self._run(lambda conn: sql_engine.insert_ignore(
            conn, self.names, [{"depth": -1, "path": "", "kind": "M"}]), write=True)

    def expire(self, name: str, now: Optional[float] = None) -> None:
        """Delete buckets of ``name`` that fell out of each interval's ``steps`` (SQL has no TTL)."""
        self._expire(name, now)

    def expire_all(self, now: Optional[float] = None) -> None:
        """Delete the old buckets of every stat: one DELETE per interval with ``steps``."""
        self._expire(None, now)

    def _expire(self, name: Optional[str], now: Optional[float]) -> None:
        now = self.clock() if now is None else now

        def work(conn: sa.engine.Connection) -> None:
            for interval in self.intervals.values():
                oldest = interval.oldest_bucket(now)
                if oldest is not None:
                    conn.execute(self.table.delete().where(
                        self._where(name, interval.name), self.table.c.i_time < oldest))
            # markers of batches long applied: a retry that late is not expected
            conn.execute(self.batches.delete().where(self.batches.c.at < int(now) - self.batch_ttl))
        self._run(work, write=True)




def _as_asked(rows: Sequence[Sequence[Any]], names: Sequence[str]) -> List[Sequence[Any]]:
    """Rows of a MySQL ``layout='name'`` table under the names asked for: its ``VARCHAR``
    name compares by the database's collation, so ``WHERE name IN ('stat.a')`` also finds
    the row a batch wrote as ``Stat.a`` (the same row to MySQL). A row no name asked for
    as written goes to the one asked that matches it case-blind and without trailing
    spaces (the usual collations' rules), or, with one name asked, to that name."""
    asked = set(names)
    if all(row[0] in asked for row in rows):
        return list(rows)
    folded = {name.casefold().rstrip(" "): name for name in names}
    only = names[0] if len(names) == 1 else None
    out = []
    for row in rows:
        name = row[0]
        if name not in asked:
            name = only or folded.get(name.casefold().rstrip(" "))
            if name is None:
                continue
            row = (name,) + tuple(row[1:])
        out.append(row)
    return out


def _nothing(conn: sa.engine.Connection) -> None:
    """The work of a ``_run`` that only creates the tables."""


def _binds_on_sqlite(total: Any) -> bool:
    """False for an int past 64 bits, which SQLite's driver cannot bind: a total a batch
    summed before it reaches SQLite then goes as a float, SQLite's own rule for such sums."""
    return type(total) is not int or INT64_MIN <= total <= INT64_MAX


def _plain_bind(column_type: Any, dialect: Any) -> bool:
    """Whether a value reaches the driver unchanged: no bind processor, or one that only
    re-casts ints, floats and strings (values are coerced to those before writing)."""
    if column_type.dialect_impl(dialect).bind_processor(dialect) is None:
        return True
    try:
        return column_type.python_type in (int, float, str)
    except NotImplementedError:
        return False
