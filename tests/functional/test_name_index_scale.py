"""A million names: ``nodes()`` reads one level of one subtree, never the whole index.

The index is filled server-side (SQL: one INSERT ... SELECT over a cross join of digits;
Redis: pipelined ZADDs) with ``dc{0-9}.host{0-999}.metric{0-99}`` and its branches. Each
engine then proves it does not read every name: the statement ``nodes()`` really sends
is explained (SQL: an index range on the primary key, a row estimate near the 100
children), SQLite also counts its virtual machine steps against a full count, and Redis
shows the one ZRANGEBYLEX ``nodes()`` sends and the size of its reply.
"""
import uuid

import pytest
import sqlalchemy as sa

from kairos import Timeseries
from kairos.names import Node
from tests.conftest import require

MINUTE = {"minute": {"step": 60}}
LEAVES = 1000000
_DIGITS = " UNION ALL ".join("SELECT %d AS n" % n for n in range(10))


def _concat(dialect, *parts):
    if dialect in ("mysql", "mariadb"):
        return "CONCAT(%s)" % ", ".join(parts)
    return " || ".join("CAST(%s AS TEXT)" % p if not p.startswith("'") else p for p in parts)


def _fill_sql(ts):
    """Insert the million leaves and their branches in three statements."""
    dialect = ts.db.dialect.name
    table = ts.names.name
    host = "(b.n * 100 + c.n * 10 + d.n)"
    metric = "(e.n * 10 + f.n)"
    dc_path = _concat(dialect, "'dc'", "a.n")
    host_path = _concat(dialect, "'dc'", "a.n", "'.host'", host)
    leaf_path = _concat(dialect, "'dc'", "a.n", "'.host'", host, "'.metric'", metric)
    statements = [
        "INSERT INTO %s (depth, path, kind) WITH d AS (%s) SELECT 1, %s, 'B' FROM d a"
        % (table, _DIGITS, dc_path),
        "INSERT INTO %s (depth, path, kind) WITH d AS (%s) SELECT 2, %s, 'B' "
        "FROM d a, d b, d c, d d" % (table, _DIGITS, host_path),
        "INSERT INTO %s (depth, path, kind) WITH d AS (%s) SELECT 3, %s, 'L' "
        "FROM d a, d b, d c, d d, d e, d f" % (table, _DIGITS, leaf_path),
    ]
    if dialect == "postgresql":  # PostgreSQL wants the CTE before INSERT
        statements = [s.replace("INSERT INTO %s (depth, path, kind) WITH d AS (%s) "
                                % (table, _DIGITS),
                                "WITH d AS (%s) INSERT INTO %s (depth, path, kind) "
                                % (_DIGITS, table)) for s in statements]
    with ts.db.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        if dialect == "postgresql":
            conn.exec_driver_sql("ANALYZE %s" % table)
        elif dialect in ("mysql", "mariadb"):
            conn.exec_driver_sql("ANALYZE TABLE %s" % table)
    ts._index_set_built()
    ts.nodes("")  # this object has seen the marker: nodes() sends only its range read now


def _sent(ts, call):
    """``(result, [(statement, parameters)])`` of the SQL ``call()`` sends."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    sa.event.listen(ts.db, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        sa.event.remove(ts.db, "before_cursor_execute", record)
    return result, seen


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def million_sql(request, tmp_path):
    token = "big" + uuid.uuid4().hex[:8]
    url = ("sqlite:///%s" % (tmp_path / "big.db") if request.param == "sqlite"
           else require(request.param))
    ts = Timeseries(url, type="gauge", intervals=MINUTE, table_name=token)
    ts.list()  # creates the tables
    _fill_sql(ts)
    yield ts
    ts.names.drop(ts.db, checkfirst=True)
    ts.table.drop(ts.db, checkfirst=True)
    ts.db.dispose()


def _children(ts):
    nodes = ts.nodes("dc3.host42")
    assert len(nodes) == 100
    assert nodes[0] == Node("metric0", "dc3.host42.metric0", True, False)
    return nodes


def test_sql_nodes_is_one_index_range(million_sql):
    ts = million_sql
    _, sent = _sent(ts, lambda: _children(ts))
    (statement, parameters), = [s for s in sent if s[0].lstrip().upper().startswith("SELECT")]
    dialect = ts.db.dialect.name
    with ts.db.connect() as conn:
        if dialect == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SEARCH" in plan and "PRIMARY KEY (depth=? AND path>? AND path<?)" in plan
        elif dialect == "postgresql":
            plan = " ".join(row[0] for row in conn.exec_driver_sql(
                "EXPLAIN " + statement, parameters))
            assert "Index" in plan and "_pkey" in plan and "Seq Scan" not in plan, plan
        else:
            columns = None
            result = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            columns = list(result.keys())
            (row,) = [dict(zip(columns, r)) for r in result]
            assert row["key"] == "PRIMARY" and row["type"] == "range", row
            assert int(row["rows"]) < 10000, row   # an estimate: about the 100 children
    assert len(ts.nodes("dc3")) == 1000
    assert [n.path for n in ts.nodes()] == ["dc%d" % n for n in range(10)]


def test_sqlite_nodes_runs_a_tiny_fraction_of_a_full_read(tmp_path):
    ts = Timeseries("sqlite:///%s" % (tmp_path / "steps.db"), type="gauge", intervals=MINUTE)
    ts.list()
    _fill_sql(ts)
    raw = ts.db.raw_connection()
    try:
        steps = []
        raw.driver_connection.set_progress_handler(lambda: steps.append(1) and 0, 100)
        # the engine's pool gives this same connection back only with StaticPool; read
        # through the raw connection the very statement nodes() sends
        _, sent = _sent(ts, lambda: _children(ts))
        (statement, parameters), = [s for s in sent if s[0].lstrip().startswith("SELECT")]
        rows = raw.driver_connection.execute(statement, parameters).fetchall()
        assert len(rows) == 100
        children = len(steps)
        del steps[:]
        raw.driver_connection.execute("SELECT sum(length(path)) FROM %s" % ts.names.name).fetchall()
        full = len(steps)
        assert full > 5000           # the whole index: a million rows and more
        assert children * 100 < full, (children, full)  # nodes(): under 1% of that
    finally:
        raw.close()
        ts.db.dispose()


def test_redis_nodes_is_one_zrangebylex_of_one_level():
    url = require("redis")
    ts = Timeseries(url, type="gauge", intervals=MINUTE, prefix="big" + uuid.uuid4().hex[:8])
    try:
        pipe = ts.client.pipeline(transaction=False)
        batch = {}
        for dc in range(10):
            batch["%06ddc%d B" % (1, dc)] = 0
            for host in range(1000):
                batch["%06ddc%d.host%d B" % (2, dc, host)] = 0
                for metric in range(100):
                    batch["%06ddc%d.host%d.metric%d L" % (3, dc, host, metric)] = 0
                if len(batch) > 20000:
                    pipe.zadd(ts._names_key, batch)
                    batch = {}
        pipe.zadd(ts._names_key, batch)
        pipe.execute()
        ts._index_set_built()
        ts.nodes("")
        assert ts.client.zcard(ts._names_key) == 1 + 10 + 10000 + LEAVES
        sent = []
        original = ts._call

        def spy(command, *args):
            reply = original(command, *args)
            sent.append((command, args, len(reply) if isinstance(reply, list) else reply))
            return reply
        ts._call = spy
        _children(ts)
        # ZRANGEBYLEX is O(log N + M): it returns (and reads) only the M members in range
        assert sent == [("ZRANGEBYLEX", (ts._names_key, "[000003dc3.host42.",
                                         "(000003dc3.host42/"), 100)]
    finally:
        ts.client.delete(ts._names_key)
