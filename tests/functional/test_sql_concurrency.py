"""SQL under concurrency: racing table creation, and gevent-friendly drivers.

Greenlets (tests/conftest.py monkey-patches with gevent) give real concurrency on
PostgreSQL and MySQL: each holds its own pooled connection and yields while the
server works. SQLite is in-process and blocking: its races are between processes
(karbon writing while torus reads the same file), so its test uses processes.
"""
import logging
import subprocess
import sys
import textwrap
import time

import gevent
import gevent.event
import pytest
import sqlalchemy as sa

from kairos import Timeseries
from kairos.backends import sql_engine
from tests.conftest import ROOT, require

MINUTE = {"minute": {"step": 60}}
SLOW_QUERY = {"postgresql": "SELECT pg_sleep(0.5)", "mysql": "SELECT SLEEP(0.5)"}


@pytest.fixture(params=["postgresql", "mysql"])
def server(request):
    """A fresh engine (its own pool) on each networked SQL server."""
    engine = sql_engine.create(require(request.param), {"pool_size": 10})
    yield request.param, engine
    engine.dispose()


@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
def test_racing_greenlets_create_one_table(server, unique_name, caplog, type_):
    kind, engine = server
    caplog.set_level(logging.DEBUG, logger="kairos.backends.sql_engine")
    writers = 8
    for round_ in range(3):
        table = "%s_race%d_%s" % (unique_name, round_, type_)
        go = gevent.event.Event()

        def write(value):
            ts = Timeseries(engine, type=type_, intervals=MINUTE, table_name=table, read_func=float)
            go.wait()
            ts.insert("a", value, timestamp=0)
        try:
            greenlets = [gevent.spawn(write, value) for value in range(1, writers + 1)]
            gevent.sleep(0.05)
            go.set()
            gevent.joinall(greenlets)
            assert [g.exception for g in greenlets] == [None] * writers
            ts = Timeseries(engine, type=type_, intervals=MINUTE, table_name=table, read_func=float)
            data = ts.get("a", "minute", timestamp=0)[0]
            expected = {"series": sorted(range(1, 9)), "histogram": dict.fromkeys(range(1, 9), 1),
                        "count": 36, "set": set(range(1, 9))}
            if type_ == "series":
                data = sorted(data)
            if type_ == "gauge":
                assert data in range(1, 9)
            else:
                assert data == expected[type_]
        finally:
            sa.Table(table, sa.MetaData()).drop(engine, checkfirst=True)
    if kind == "postgresql":   # the race was really run: some greenlets lost the CREATE TABLE
        assert any("created concurrently" in r.getMessage() for r in caplog.records)


def test_a_slow_query_does_not_block_other_greenlets(server, unique_name):
    kind, engine = server
    ts = Timeseries(engine, type="count", intervals=MINUTE, table_name=unique_name + "_slow")
    ticks = []
    running = True

    def ticker():
        while running:
            gevent.sleep(0.01)
            ticks.append(1)

    def sleepy_fetch(connection, table, name, interval, i_start, i_end):
        connection.execute(sa.text(SLOW_QUERY[kind]))
        return {}

    assert ts.get("a", "minute", timestamp=0) == {0: 0}    # table and connection made first
    tick = gevent.spawn(ticker)
    try:
        assert ts.get("a", "minute", timestamp=0, fetch=sleepy_fetch) == {0: 0}
    finally:
        running = False
        tick.join()
        ts.table.drop(engine, checkfirst=True)
    # 0.5 s of server-side sleep at 0.01 s per tick is ~50 ticks; a blocking driver gives 0-1
    assert len(ticks) >= 20


SQLITE_RACER = textwrap.dedent("""
    import sys, time
    from kairos import Timeseries
    path, types, start = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    for type_ in types:
        series = Timeseries("sqlite:///" + path, type=type_, intervals={"m": {"step": 60}})
        series.insert("x", 1, timestamp=60)
        assert series.list() == ["x"]
""")


def test_processes_creating_tables_in_a_new_sqlite_file(tmp_path):
    """Two processes opening a new file and creating different tables at the same instant.

    This is karbon and torus starting together on a fresh SQLite file. Before
    create_table retried, about one round in eight failed with "database is locked".
    """
    failures = []
    for round_ in range(8):
        path = str(tmp_path / ("race%d.db" % round_))
        start = "%.3f" % (time.time() + 0.5)
        procs = [subprocess.Popen([sys.executable, "-c", SQLITE_RACER, path, types, start],
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for types in ("count,gauge,set", "series,histogram,gauge")]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            if proc.returncode:
                failures.append(err.strip().splitlines()[-1])
    assert failures == []


def _locked_for(engine, times):
    """Make the next ``times`` statements on ``engine`` fail as SQLite does when it refuses to wait."""
    import sqlite3
    left = {"n": times}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if left["n"] > 0:
            left["n"] -= 1
            raise sqlite3.OperationalError("database is locked")
    sa.event.listen(engine, "before_cursor_execute", refuse)
    return left


def test_sqlite_statements_refused_as_locked_are_retried(tmp_path):
    series = Timeseries("sqlite:///%s" % (tmp_path / "l.db"), type="count", intervals=MINUTE)
    series.insert("x", 1, timestamp=60)
    left = _locked_for(series.db, 3)
    series.insert("x", 2, timestamp=60)  # rolled back and retried: counted once
    assert left["n"] == 0
    assert series.get("x", "minute", timestamp=60) == {60: 3}


def test_sqlite_lock_that_never_clears_is_a_backend_error(tmp_path):
    from kairos import BackendError
    series = Timeseries("sqlite:///%s" % (tmp_path / "l.db"), type="count", intervals=MINUTE)
    series.insert("x", 1, timestamp=60)
    _locked_for(series.db, 100)
    with pytest.raises(BackendError, match="database is locked"):
        series.get("x", "minute", timestamp=60)
