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
"""
from __future__ import annotations

import hashlib
from typing import List, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc


def stage_name(table_name: str) -> str:
    """The temporary table staging rows of ``table_name`` (at most 63 characters)."""
    return "kairos_stage_%s" % hashlib.sha256(table_name.encode()).hexdigest()[:16]


def statements(conn: sa.engine.Connection, table: sa.Table, sql: str,
               columns: Sequence[str]) -> Tuple[str, str, str]:
    """(create the stage, COPY into it, move its rows) for the compiled write ``sql``.

    ``sql`` is the batch's ``INSERT INTO t (cols) VALUES (...) [ON CONFLICT ...]``; the
    columns are in ``columns`` order, as the row tuples are.
    """
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    stage = "pg_temp.%s" % stage_name(table.name)
    listed = ", ".join(quote(name) for name in columns)
    create = ("CREATE TEMPORARY TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS "
              "SELECT %s FROM %s WITH NO DATA" % (stage, listed, target))
    copy = "COPY %s (%s) FROM STDIN" % (stage, listed)
    start = sql.index(" VALUES (")
    depth, end = 0, start + len(" VALUES ")
    for end in range(end, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            break
    head = sql[:start]
    if not head.rstrip().endswith("(%s)" % listed):
        raise ValueError("unexpected write statement: %s" % sql)
    move = "%s SELECT %s FROM %s%s" % (head, listed, stage, sql[end + 1:])
    return create, copy, move


def write(conn: sa.engine.Connection, prepared: Tuple[str, str, str], rows: List[tuple]) -> None:
    """Stage ``rows`` with COPY and move them with one statement, in the caller's transaction."""
    create, copy, move = prepared
    conn.exec_driver_sql(create)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(copy) as staging:
            write_row = staging.write_row
            for row in rows:
                write_row(row)
    except Exception as err:
        import psycopg
        if isinstance(err, psycopg.Error):  # as SQLAlchemy reports the driver's errors
            raise sa_exc.DBAPIError.instance(copy, None, err, psycopg.Error) from err
        raise
    finally:
        cursor.close()
    conn.exec_driver_sql(move)
