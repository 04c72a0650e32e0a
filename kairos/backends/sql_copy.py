"""PostgreSQL batches through COPY: rows into a temporary stage, then one INSERT ... SELECT.

psycopg's ``COPY ... FROM STDIN`` formats row tuples in C, where binding a batch as
parameters (one array per column, or one statement per row) costs Python per value
and, under gevent, a wait on the socket per statement. The stage is a temporary
table of the data table's written columns (``ON COMMIT DELETE ROWS``: empty at each
transaction's start, private to the connection), created when missing; the
statement moving its rows is the batch's own insert or upsert, its ``VALUES``
replaced by ``SELECT ... FROM`` the stage, in the same transaction as the batch
marker. A value the column refuses fails the COPY (or the insert) and rolls the
whole transaction back, as the one statement did.

When every written column is an integer, a double or a string, rows go in COPY's
binary format: psycopg packs numbers in C where the text format prints each float,
and the server reads them without parsing (karbon's CPU per point on PostgreSQL fell
by about a sixth). Integer columns are staged as ``bigint``: psycopg packs an
``integer`` without a range check, so a value past it would be stored wrapped; from
a ``bigint`` stage the insert casts with the check. Any other column type keeps the
text format.
"""
from __future__ import annotations

import hashlib
import struct
from typing import List, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from .sql_values import split_values


def stage_name(table_name: str, types: Sequence[str] = ()) -> str:
    """The temporary table staging rows of ``table_name`` (at most 63 characters);
    ``types``: its columns and their types in binary format (none: the text format)."""
    key = table_name if not types else "%s|binary|%s" % (table_name, ",".join(types))
    return "kairos_stage_%s" % hashlib.sha256(key.encode()).hexdigest()[:16]


#: PostgreSQL type oids a binary COPY writes, and the type each is staged as: integers
#: as ``int8`` (packed with a range check: ``int2``/``int4`` are not), ``float8``, text
BINARY_STAGED = {21: "int8", 23: "int8", 20: "int8", 701: "float8", 25: "text", 1043: "varchar"}
#: Python errors packing a value in binary: it does not fit its column (as the server
#: refuses it in text); ``struct.error`` from psycopg's pure-Python implementation
PACKING_ERRORS = (OverflowError, TypeError, ValueError, struct.error)


class Copy:
    """What writes a batch through a stage: create it, COPY into it, move its rows."""

    def __init__(self, create: str, copy: str, move: str, types: Sequence[str] = ()):
        self.create = create
        self.copy = copy
        self.move = move
        #: the staged columns' types, in binary format (empty: the text format)
        self.types = list(types)


def statements(conn: sa.engine.Connection, table: sa.Table, sql: str,
               columns: Sequence[str]) -> Copy:
    """The stage's statements for the compiled write ``sql`` (binary when the columns
    allow it: one query of the table's column types, once).

    ``sql`` is the batch's ``INSERT INTO t (cols) VALUES (...) [ON CONFLICT ...]``; the
    columns are in ``columns`` order, as the row tuples are.
    """
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    listed = ", ".join(quote(name) for name in columns)
    head, _, tail = split_values(sql)
    if not head.rstrip().endswith("(%s)" % listed):
        raise ValueError("unexpected write statement: %s" % sql)
    described = conn.exec_driver_sql("SELECT %s FROM %s LIMIT 0" % (listed, target))
    oids = [int(column[1]) for column in described.cursor.description]  # type: ignore[call-overload]
    described.close()
    if all(oid in BINARY_STAGED for oid in oids):
        types = [BINARY_STAGED[oid] for oid in oids]
        staged = ", ".join("%s::int8 AS %s" % (quote(name), quote(name)) if kind == "int8"
                           else quote(name) for name, kind in zip(columns, types))
        copy_format = " (FORMAT BINARY)"
    else:
        types, staged, copy_format = [], listed, ""
    # a connection keeps its stage as long as it lives: a table dropped and made again with
    # other types must not meet the old stage (binary values are read as the stage's types)
    stage = "pg_temp.%s" % stage_name(table.name, [
        "%s %s" % (name, kind) for name, kind in zip(columns, types)])
    move = "%s SELECT %s FROM %s%s" % (head, listed, stage, tail)
    create = ("CREATE TEMPORARY TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS "
              "SELECT %s FROM %s WITH NO DATA" % (stage, staged, target))
    copy = "COPY %s (%s) FROM STDIN%s" % (stage, listed, copy_format)
    return Copy(create, copy, move, types)


def write(conn: sa.engine.Connection, prepared: Copy, rows: List[tuple]) -> None:
    """Stage ``rows`` with COPY and move them with one statement, in the caller's transaction."""
    conn.exec_driver_sql(prepared.create)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(prepared.copy) as staging:
            if prepared.types:
                staging.set_types(prepared.types)
            write_row = staging.write_row
            for row in rows:
                write_row(row)
    except Exception as err:
        import psycopg
        if isinstance(err, psycopg.Error):  # as SQLAlchemy reports the driver's errors
            raise sa_exc.DBAPIError.instance(prepared.copy, None, err, psycopg.Error) from err
        if isinstance(err, PACKING_ERRORS) and prepared.types:
            raise sa_exc.DataError(prepared.copy, None, err) from err
        raise
    finally:
        cursor.close()
    conn.exec_driver_sql(prepared.move)
