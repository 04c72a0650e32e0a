"""The SQL storage engine (SQLite, PostgreSQL, MySQL/MariaDB through SQLAlchemy 2).

Writes are one transaction per ``bulk_insert``: one ``executemany`` per statement,
using each dialect's upsert (``ON CONFLICT`` on SQLite/PostgreSQL,
``ON DUPLICATE KEY UPDATE`` on MySQL), rows sorted so concurrent writers lock in
the same order. Other dialects fall back to update-then-insert per row.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..exceptions import BackendError, ConfigError
from ..intervals import Interval
from ..timeseries import Timeseries
from . import sql_engine
from .sql_tables import (DEFAULT_STRING_LENGTH, DEFAULT_TEXT_LENGTH, NO_RESOLUTION, build_table,
                         make_coercer, value_column_type)

log = logging.getLogger(__name__)

UPSERT_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


class SqlTimeseries(Timeseries):
    """A timeseries stored in one SQL table per type (see ``sql_tables``)."""

    engine = "sql"

    def _setup(self, client: Any, string_length: int = DEFAULT_STRING_LENGTH,
               text_length: int = DEFAULT_TEXT_LENGTH, table_name: Optional[str] = None,
               value_type: Any = float, client_config: Optional[dict] = None,
               upsert: Optional[bool] = None, **unknown: Any) -> None:
        if unknown:
            raise ConfigError("unknown SQL option(s): %s (SQL takes string_length, text_length, "
                              "table_name, value_type, client_config)" % ", ".join(sorted(unknown)))
        if isinstance(client, str):
            self.db = sql_engine.create(client, client_config or {})
        elif isinstance(client, sa.engine.Engine):
            self.db = client
        else:
            raise ConfigError("the SQL engine takes a URL or a SQLAlchemy Engine, not %r" % (client,))
        column_type, coerce = value_column_type(value_type, string_length, text_length)
        if self.type == "count" and column_type.python_type not in (int, float):
            raise ConfigError("a count needs a numeric value_type, not %r" % (value_type,))
        self._coerce = make_coercer(str(column_type), coerce)
        self.table = build_table(sa.MetaData(), self.type, table_name or "kairos_%s" % self.type,
                                 column_type, string_length)
        self._upsert = self.db.dialect.name in UPSERT_DIALECTS if upsert is None else upsert
        self._ready = False

    def __repr__(self) -> str:
        return "SqlTimeseries(%s, type=%r, table=%r)" % (
            self.db.url.render_as_string(hide_password=True), self.type, self.table.name)

    # -- plumbing ---------------------------------------------------------
    def _run(self, work: Callable[[sa.engine.Connection], Any], write: bool = False) -> Any:
        """Run ``work`` on a connection (in a transaction when writing), errors as BackendError."""
        try:
            if not self._ready:
                sql_engine.create_table(self.db, self.table)
                self._ready = True
            if write:
                with self.db.begin() as conn:
                    return work(conn)
            with self.db.connect() as conn:
                return work(conn)
        except sa_exc.SQLAlchemyError as err:
            raise BackendError("%s on %s: %s" % (
                type(err).__name__, self.db.url.render_as_string(hide_password=True),
                getattr(err, "orig", None) or err)) from err

    def _where(self, name: Optional[str] = None, interval: Optional[str] = None):
        clauses = []
        if name is not None:
            clauses.append(self.table.c.name == name)
        if interval is not None:
            clauses.append(self.table.c.interval == interval)
        return sa.and_(*clauses) if clauses else sa.true()

    # -- writing ----------------------------------------------------------
    def _write(self, batch: Dict[Tuple, Any], **kwargs: Any) -> None:
        if kwargs:
            raise ConfigError("unknown SQL write option(s): %s" % ", ".join(sorted(kwargs)))
        rows = self._rows(batch)
        if self.type == "series":
            statement = self.table.insert()
        elif self._upsert:
            statement = sql_engine.upsert(self.db.dialect.name, self.table, self.type)
        else:
            def each_row(conn: sa.engine.Connection) -> None:
                for row in rows:
                    sql_engine.update_or_insert(conn, self.table, self.type, row)
            self._run(each_row, write=True)
            return
        self._run(lambda conn: conn.execute(statement, rows), write=True)

    def _rows(self, batch: Dict[Tuple, Any]) -> List[dict]:
        """Aggregated batch -> parameter dicts, sorted by key so writers lock rows in one order."""
        rows = []
        for (name, interval, i_key, r_key), data in sorted(batch.items(), key=_batch_order):
            base = {"name": name, "interval": interval, "i_time": i_key,
                    "r_time": NO_RESOLUTION if r_key is None else r_key}
            if self.type == "series":
                rows.extend(dict(base, value=v) for v in data)
            elif self.type == "histogram":
                rows.extend(dict(base, value=v, count=c) for v, c in sorted(data.items(), key=lambda vc: _value_order(vc[0])))
            elif self.type == "set":
                rows.extend(dict(base, value=v) for v in sorted(data, key=_value_order))
            else:
                rows.append(dict(base, value=data))
        return rows

    def _bucket_writes(self, inserts, copies):
        coerce = self._coerce
        for key, value in super()._bucket_writes(inserts, copies):
            yield key, coerce(value)

    # -- reading ----------------------------------------------------------
    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        if fetch is not None:
            end = None if first == last else last
            return self._run(lambda conn: fetch(conn, self.table, name, interval.name, first, end)) or {}
        return self._run(lambda conn: self._native_fetch(conn, name, interval.name, first, last))

    def _native_fetch(self, conn: sa.engine.Connection, name: str, interval: str,
                      first: int, last: int) -> Dict[int, Dict[Optional[int], Any]]:
        t = self.table
        query = sa.select(t).where(self._where(name, interval), t.c.i_time >= first, t.c.i_time <= last)
        if self.type == "series":
            query = query.order_by(t.c.id)
        out: Dict[int, Dict[Optional[int], Any]] = {}
        for row in conn.execute(query):
            r_key = None if row.r_time == NO_RESOLUTION else row.r_time
            bucket = out.setdefault(row.i_time, {})
            if self.type == "series":
                bucket.setdefault(r_key, []).append(row.value)
            elif self.type == "histogram":
                bucket.setdefault(r_key, {})[row.value] = row.count
            elif self.type == "set":
                bucket.setdefault(r_key, []).append(row.value)
            else:
                bucket[r_key] = row.value
        return out

    # -- meta data and deletion --------------------------------------------
    def list(self) -> List[str]:
        t = self.table
        query = sa.select(t.c.name).distinct().order_by(t.c.name)
        return self._run(lambda conn: [row[0] for row in conn.execute(query)])

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        t = self.table
        query = (sa.select(t.c.interval, sa.func.min(t.c.i_time), sa.func.max(t.c.i_time))
                 .where(t.c.name == name).group_by(t.c.interval))
        return self._run(lambda conn: OrderedDict(
            (row[0], (row[1], row[2])) for row in conn.execute(query)))

    def delete(self, name: str) -> None:
        self._run(lambda conn: conn.execute(self.table.delete().where(self._where(name))), write=True)

    def delete_all(self) -> None:
        self._run(lambda conn: conn.execute(self.table.delete()), write=True)

    def expire(self, name: str, now: Optional[float] = None) -> None:
        """Delete buckets of ``name`` that fell out of each interval's ``steps`` (SQL has no TTL)."""
        import time
        now = time.time() if now is None else now

        def work(conn: sa.engine.Connection) -> None:
            for interval in self.intervals.values():
                oldest = interval.oldest_bucket(now)
                if oldest is not None:
                    conn.execute(self.table.delete().where(
                        self._where(name, interval.name), self.table.c.i_time < oldest))
        self._run(work, write=True)


def _batch_order(item: Tuple[Tuple, Any]) -> Tuple:
    name, interval, i_key, r_key = item[0]
    return name, interval, i_key, NO_RESOLUTION if r_key is None else r_key


def _value_order(value: Any) -> Tuple[str, Any]:
    """Sort key for values of mixed types (sorting only makes lock order deterministic)."""
    return (type(value).__name__, value)
