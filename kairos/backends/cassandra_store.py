"""The Cassandra storage engine (cassandra-driver 3.29+), a thin layer over ``cassandra_cql``.

Statements are prepared once per timeseries object. A ``bulk_insert`` becomes
single-partition batches (UNLOGGED, or COUNTER for count/histogram) of at most
``BATCH_ROWS`` rows, run concurrently with ``execute_concurrent``. The driver is
imported only when this engine is used; under gevent (socket patched) clusters
built from URLs use ``cassandra.io.geventreactor.GeventConnection``. The name index
is a table ``{table}_names`` (``cassandra_cql.NameStatements``), written before the
data of a batch's new names.
"""
from __future__ import annotations

import logging
import random
import uuid
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

from .. import names as name_index
from ..cooperative import sockets_patched
from ..exceptions import BackendError, ConfigError
from ..intervals import Interval
from ..timeseries import Timeseries
from . import cassandra_conn
from . import cassandra_cql as cql
from . import cassandra_layouts

log = logging.getLogger(__name__)

#: rows per single-partition batch (well under Cassandra's default 50 KiB batch limit
#: for short values)
BATCH_ROWS = 50
#: requests in flight per bulk_insert when pool_size is 0
DEFAULT_CONCURRENCY = 32

_NODE = uuid.getnode()
_CLOCK_SEQ = random.getrandbits(14)


def time_uuid() -> uuid.UUID:
    """A version-1 (time) UUID, strictly increasing within this process: series order.

    Passing node and clock_seq makes ``uuid1`` use its pure-Python path, which never
    returns the same or an earlier 100-ns timestamp twice.
    """
    return uuid.uuid1(node=_NODE, clock_seq=_CLOCK_SEQ)


def _driver_errors() -> Tuple[Type[BaseException], ...]:
    import cassandra
    from cassandra.cluster import NoHostAvailable
    from cassandra.protocol import ErrorMessage
    return (cassandra.DriverException, NoHostAvailable, ErrorMessage)


class CassandraTimeseries(Timeseries):
    """A timeseries stored in one Cassandra table per type (see ``cassandra_cql``)."""

    engine = "cassandra"
    native_expiry = True

    def _setup(self, client: Any, table_name: Optional[str] = None, pool_size: int = 0,
               value_type: Any = float, client_config: Optional[dict] = None,
               replication: Any = None, **unknown: Any) -> None:
        try:
            import cassandra  # noqa: F401
        except ImportError as err:
            raise ImportError("the Cassandra engine needs cassandra-driver 3.29+: "
                              "pip install 'torus[cassandra]'") from err
        if unknown:
            raise ConfigError("unknown Cassandra option(s): %s (Cassandra takes table_name, "
                              "pool_size, value_type, replication, client_config)"
                              % ", ".join(sorted(unknown)))
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise ConfigError("pool_size must be a whole number >= 0, not %r" % (pool_size,))
        self.concurrency = pool_size or DEFAULT_CONCURRENCY
        self.layout = cassandra_layouts.layout_for(self.type, *cql.value_type(value_type))
        # each value is checked as it comes, before a batch merges it
        self._check_value = self.layout.check
        self.replication = None if replication is None else cql.replication_map(replication)
        self.table_name = cql.identifier(table_name or "kairos_%s" % self.type, "table_name")
        config = dict(client_config or {})
        self.cluster: Any = None
        self.session: Any = None
        self._owned_cluster = None
        if isinstance(client, str):
            self.cluster, self.keyspace = cassandra_conn.build_cluster(client, config)
            self._owned_cluster = self.cluster
        else:
            self.keyspace = self._adopt(client, config)
        self.statements = cql.Statements(self.layout, self.keyspace, self.table_name)
        self.name_statements = cql.NameStatements(self.keyspace, self.table_name)
        self._prepared: Dict[str, Any] = {}
        self._ready = False

    def _adopt(self, client: Any, config: dict) -> str:
        """Use a caller's Cluster or Session; returns the keyspace."""
        from cassandra.cluster import Cluster, Session

        extra = set(config) - {"keyspace"}
        if extra:
            raise ConfigError("client_config applies to URLs; with a Cluster or Session only "
                              "'keyspace' is used, not %s" % ", ".join(sorted(extra)))
        if isinstance(client, Session):
            self.session = client
            self.cluster = client.cluster
            keyspace = config.get("keyspace") or client.keyspace
        elif isinstance(client, Cluster):
            self.cluster = client
            keyspace = config.get("keyspace")
        else:
            raise ConfigError("the Cassandra engine takes a cassandra:// or cql:// URL, a Cluster "
                              "or a Session, not %r" % (client,))
        connection_class = getattr(self.cluster, "connection_class", None)
        if (connection_class is not None and sockets_patched()
                and connection_class.__name__ != "GeventConnection"):
            log.warning("gevent patched the socket module but this Cluster uses %s: build it with "
                        "connection_class=cassandra.io.geventreactor.GeventConnection",
                        connection_class.__name__)
        return cql.identifier(keyspace or cql.DEFAULT_KEYSPACE, "keyspace")

    def __repr__(self) -> str:
        return "CassandraTimeseries(%s, type=%r)" % (self.statements.table, self.type)

    def _release(self) -> None:
        """Shut down the Cluster this timeseries built from a URL (a passed-in one is left open)."""
        if self._owned_cluster is not None:
            self._owned_cluster.shutdown()
            self._owned_cluster = None

    # -- plumbing ---------------------------------------------------------------
    def _run(self, work: Callable[[], Any], schema: bool = True) -> Any:
        """Connect and (unless ``schema`` is false) create the schema on first use, then run
        ``work``; driver errors as BackendError."""
        errors = _driver_errors()
        try:
            if self.session is None:
                self.session = self.cluster.connect()
            if schema and not self._ready:
                self._prepare_schema()
            return work()
        except errors as err:
            raise BackendError("%s on %s: %s" % (type(err).__name__, self.statements.table,
                                                  err)) from err

    def _prepare_schema(self) -> None:
        if self.replication is not None:
            self.session.execute(cql.create_keyspace(self.keyspace, self.replication))
        elif self.keyspace not in self.cluster.metadata.keyspaces:
            raise ConfigError("Cassandra keyspace %r does not exist: create it, or pass "
                              "replication=... to let kairos create it" % (self.keyspace,))
        self.session.execute(self.statements.create_table())
        self.session.execute(self.name_statements.create_table())
        self._ready = True

    def _statement(self, text: str) -> Any:
        """The prepared form of a CQL text (prepared once per timeseries object)."""
        prepared = self._prepared.get(text)
        if prepared is None:
            prepared = self._prepared[text] = self.session.prepare(text)
        return prepared

    def _execute(self, text: str, params: Tuple = ()) -> Any:
        return self._run(lambda: self.session.execute(self._statement(text), params))

    # -- writing ------------------------------------------------------------------
    def _write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
               now: Optional[float] = None, new_names: Any = (), **kwargs: Any) -> None:
        """One round trip (two with new names: their index entries first); ``batch_id`` is not
        recorded here (no ``exactly_once``: a retry of a batch whose reply was lost may apply
        it twice)."""
        if kwargs:
            raise ConfigError("unknown Cassandra write option(s): %s" % ", ".join(sorted(kwargs)))
        if new_names:
            self._index_add(name_index.entries_of(new_names))
        rows, skipped = cql.write_parameters(self.layout, batch, self.intervals,
                                             self.clock() if now is None else now, time_uuid)
        if skipped:
            log.debug("%d bucket write(s) to %s skipped: past their retention",
                      skipped, self.statements.table)
        if rows:
            self._run(lambda: self._send(cql.group_batches(rows, BATCH_ROWS)))

    def _send(self, groups: List[List[Tuple]]) -> None:
        self._execute_many(self._requests(groups))

    def _requests(self, groups: List[List[Tuple]]) -> List[Tuple[Any, Any]]:
        """``(statement, parameters)`` per group: a bound write, or a single-partition batch."""
        from cassandra.query import BatchStatement, BatchType

        prepared = self._statement(self.statements.write())
        kind = BatchType.COUNTER if self.layout.counter else BatchType.UNLOGGED
        requests: List[Tuple[Any, Any]] = []
        for params in groups:
            if len(params) == 1:
                requests.append((prepared, params[0]))
                continue
            statement = BatchStatement(batch_type=kind)
            for row in params:
                statement.add(prepared, row)
            requests.append((statement, None))
        return requests

    def _execute_many(self, requests: List[Tuple[Any, Any]]) -> None:
        """Run requests concurrently (at most ``concurrency`` in flight), failing on the first error."""
        from cassandra.concurrent import execute_concurrent
        execute_concurrent(self.session, requests, concurrency=self.concurrency,
                           raise_on_first_error=True)

    # -- reading --------------------------------------------------------------------
    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        if fetch is not None:
            buckets = list(interval.step.iter_buckets(first, last))
            return self._run(lambda: fetch(self.session, self.statements.table, name,
                                           interval.name, buckets)) or {}
        single, params = cql.select_parameters(name, interval.name, first, last)
        rows = self._execute(self.statements.select(single), params)
        return self._run(lambda: cql.rows_to_raw(self.layout, rows))

    # -- meta data and deletion -------------------------------------------------------
    def ping(self) -> None:
        self._run(lambda: self.session.execute("SELECT release_version FROM system.local"),
                  schema=False)

    def list(self) -> List[str]:
        rows = self._execute(self.statements.names())
        return sorted(self._run(lambda: {row[0] for row in rows}))

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        out: Dict[str, Tuple[int, int]] = OrderedDict()
        for interval in self.intervals:
            first = self._execute(self.statements.bound(descending=False), (name, interval)).one()
            if first is None:
                continue
            last = self._execute(self.statements.bound(descending=True), (name, interval)).one()
            out[interval] = (first[0], last[0] if last is not None else first[0])
        return out

    def delete(self, name: str) -> None:
        """Delete ``name`` in every configured interval (one partition delete each), then its
        index entry and the branches above it left without children."""
        for interval in self.intervals:
            self._execute(self.statements.delete_partition(), (name, interval))
        own, walk = name_index.removal(name)
        if own is not None:
            self._execute(self.name_statements.delete(), own)
            for entry, depth, low, high in walk:
                if self._execute(self.name_statements.children(True), (depth, low, high)).one():
                    break
                self._execute(self.name_statements.delete(), entry)
        self._forget_names([name])

    def delete_all(self) -> None:
        """Empty the table and its name index (TRUNCATE: every node must be up); the index
        stays marked built."""
        self._run(lambda: self.session.execute(self.statements.truncate()))
        self._run(lambda: self.session.execute(self.name_statements.truncate()))
        self._index_set_built()
        self._forget_names()

    # -- the name index -----------------------------------------------------------------
    def _index_children(self, depth: int, low: str, high: Optional[str]) -> List[Tuple[str, str]]:
        if high is None:
            rows = self._execute(self.name_statements.children(False), (depth, low))
        else:
            rows = self._execute(self.name_statements.children(True), (depth, low, high))
        return [(row[0], row[1]) for row in rows]

    def _index_find(self, keys: Any) -> List[Tuple[str, str]]:
        found: List[Tuple[str, str]] = []
        for depth, path in keys:
            found.extend((row[0], row[1])
                         for row in self._execute(self.name_statements.exact(), (depth, path)))
        return found

    def _index_tagged(self) -> List[str]:
        return [row[0] for row in self._execute(self.name_statements.depth(), (0,))]

    def _index_entries(self) -> List[name_index.Entry]:
        return [(row[0], row[1], row[2]) for row in self._execute(self.name_statements.every())
                if row[0] >= 0]

    def _index_add(self, entries: Any) -> None:
        if entries:
            prepared = self._run(lambda: self._statement(self.name_statements.insert()))
            self._run(lambda: self._execute_many([(prepared, tuple(e)) for e in entries]))

    def _index_discard(self, entries: Any) -> None:
        for entry in entries:
            self._execute(self.name_statements.delete(), tuple(entry))

    def _index_built(self) -> bool:
        return self._execute(self.name_statements.depth(), (-1,)).one() is not None

    def _index_set_built(self) -> None:
        self._execute(self.name_statements.insert(), (-1, "", "M"))

    def expire(self, name: str, now: Optional[float] = None) -> None:
        """Delete buckets of ``name`` older than each interval's ``steps`` (a range delete).

        TTLs do this by themselves except on counter tables (count, histogram).
        """
        now = self.clock() if now is None else now
        for interval in self.intervals.values():
            oldest = interval.oldest_bucket(now)
            if oldest is not None:
                self._execute(self.statements.delete_older(), (name, interval.name, oldest))

    def drop(self) -> None:
        """Drop this timeseries' table (used by tests; the next use recreates it)."""
        self._run(lambda: self.session.execute(self.statements.drop()), schema=False)
        self._run(lambda: self.session.execute(self.name_statements.drop()), schema=False)
        self._ready = False
        self._prepared.clear()
