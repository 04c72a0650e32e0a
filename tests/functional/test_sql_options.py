"""SQL engine options: value_type (every name of seed 002, Python and SQLAlchemy types),
string_length, text_length, table_name, client_config, URLs and drivers, the table layout.

Runs on every SQL backend (SQLite memory and file, PostgreSQL, MySQL/MariaDB).
"""
import calendar
import datetime as dt
import decimal
import sqlite3

import pytest
import sqlalchemy as sa

from kairos import Timeseries
from kairos.exceptions import ConfigError, InvalidValue
from tests.conftest import require
from tests.functional.conftest import SQL_BACKENDS

MINUTE = {"minute": {"step": 60}}


@pytest.fixture(params=SQL_BACKENDS)
def backend(request):
    """Only the SQL engines (overrides the all-backend parameter of make_timeseries)."""
    return request.param


def utc(*fields):
    return calendar.timegm(tuple(fields) + (0,) * (6 - len(fields)) + (0, 0, 0))


def columns(ts):
    return {c["name"]: c for c in sa.inspect(ts.db).get_columns(ts.table.name)}


LONG_TEXT = "kairos " * 200
VALUE_TYPES = [
    # (value_type, a value, whether MySQL can key it: histogram and set rows are keyed by value)
    ("blob", b"\x00\xffab", False), (bytes, b"\x01\x02", False),
    ("bool", True, True), ("boolean", False, True), (bool, True, True),
    ("clob", LONG_TEXT, False), ("text", LONG_TEXT, False),
    ("date", dt.date(2024, 2, 29), True), (dt.date, dt.date(2100, 3, 1), True),
    ("datetime", dt.datetime(1999, 12, 31, 23, 59, 59), True),
    (dt.datetime, dt.datetime(2024, 2, 29, 12, 0, 1), True),
    ("decimal", decimal.Decimal("1.25"), True), (decimal.Decimal, decimal.Decimal("-2.5"), True),
    ("float", 2.5, True), ("double", -0.125, True), (float, 1e300, True),
    ("int", 7, True), ("int64", 2 ** 40, True), ("integer", -3, True), ("long", 2 ** 62, True),
    (int, 5, True),
    ("str", "héllo ✓", True), ("string", "b", True), ("unicode", "ünï", True), (str, "x y", True),
    ("time", dt.time(1, 2, 3), True), (dt.time, dt.time(23, 59, 59), True),
    ("FLOAT", 0.5, True),
    (sa.Float, 0.75, True), (sa.Integer(), 9, True), (sa.BigInteger, 2 ** 50, True),
    (sa.String(40), "forty", True), (sa.Unicode(20), "ü", True), (sa.Text(1000), LONG_TEXT, False),
    (sa.Numeric(10, 2), decimal.Decimal("3.14"), True), (sa.Boolean, False, True),
    (sa.LargeBinary, b"\x00", False),
]


@pytest.mark.parametrize("value_type, value, keyable", VALUE_TYPES,
                         ids=[repr(v[0]) for v in VALUE_TYPES])
def test_value_types_round_trip(make_timeseries, backend, value_type, value, keyable):
    gauge = make_timeseries("gauge", MINUTE, value_type=value_type)
    gauge.insert("g", value, timestamp=0)
    got = gauge.get("g", "minute", timestamp=0)[0]
    assert got == value and type(got) is type(value)
    if backend == "mysql" and not keyable:
        with pytest.raises(ConfigError, match="MySQL cannot key a TEXT/BLOB"):
            make_timeseries("set", MINUTE, value_type=value_type)
        return
    keyed = make_timeseries("set", MINUTE, value_type=value_type)
    keyed.insert("s", [value, value], timestamp=0)
    assert keyed.get("s", "minute", timestamp=0) == {0: {value}}


def test_numeric_value_types_for_counts(make_timeseries):
    as_int = make_timeseries("count", MINUTE, value_type="integer")
    as_int.insert("a", [2, 5, -1], timestamp=0)
    assert as_int.get("a", "minute", timestamp=0) == {0: 6}
    assert type(as_int.get("a", "minute", timestamp=0)[0]) is int
    as_decimal = make_timeseries("count", MINUTE, value_type="decimal")
    as_decimal.insert("a", [decimal.Decimal("0.1")] * 3, timestamp=0)
    assert as_decimal.get("a", "minute", timestamp=0) == {0: decimal.Decimal("0.3")}
    with pytest.raises(ConfigError, match="count needs a numeric value_type"):
        make_timeseries("count", MINUTE, value_type="string")


@pytest.mark.parametrize("value_type, value, fragment", [
    ("float", "abc", "'abc' cannot be stored in a"),
    ("float", True, "True cannot be stored"),
    ("integer", "abc", "'abc' cannot be stored"),
    ("integer", 2.5, "2.5 cannot be stored"),
    ("integer", 2 ** 63, "cannot be stored .*out of the 64-bit range"),  # BIGINT is 64-bit
    ("boolean", "maybe", "'maybe' cannot be stored"),
    ("date", "2024-02-29", "'2024-02-29' cannot be stored"),
    ("datetime", 1234, "1234 cannot be stored"),
    ("decimal", "x", "'x' cannot be stored"),
])
def test_values_of_the_wrong_type_raise_naming_value_and_column(
        make_timeseries, value_type, value, fragment):
    ts = make_timeseries("series", MINUTE, value_type=value_type)
    with pytest.raises(InvalidValue, match=fragment):
        ts.insert("a", value, timestamp=0)
    assert ts.list() == []


@pytest.mark.parametrize("type_", ["count", "gauge"])
def test_a_lone_int_goes_in_a_float_column_as_a_float_or_is_refused_past_its_range(
        make_timeseries, type_):
    """A stat's one value at a timestamp, an int, is made a float without the column's
    check (one call per point saved); an int no float can hold still gets its error."""
    ts = make_timeseries(type_, MINUTE)
    ts.bulk_insert({0: {"a": 3, "b": -(2 ** 1022)}})
    assert ts.get("a", "minute", timestamp=0) == {0: 3.0}
    assert type(ts.get("a", "minute", timestamp=0)[0]) is float
    assert ts.get("b", "minute", timestamp=0) == {0: float(-(2 ** 1022))}
    with pytest.raises(InvalidValue, match="cannot be stored in a"):
        ts.bulk_insert({60: {"a": 1, "b": 2 ** 1100}})
    # nothing of the batch: "a" reads as a stat never written
    assert ts.get("a", "minute", timestamp=60) == ts.get("none", "minute", timestamp=60)


def test_values_are_coerced_to_the_column(make_timeseries):
    floats = make_timeseries("series", MINUTE)            # value_type defaults to float
    floats.insert("a", ["12", 3, "0.5"], timestamp=0)
    assert floats.get("a", "minute", timestamp=0) == {0: [12.0, 3.0, 0.5]}
    assert all(type(v) is float for v in floats.get("a", "minute", timestamp=0)[0])
    flags = make_timeseries("series", MINUTE, value_type=bool)
    flags.insert("a", ["yes", "off", 1, 0], timestamp=0)
    assert flags.get("a", "minute", timestamp=0) == {0: [True, False, True, False]}
    texts = make_timeseries("histogram", MINUTE, value_type="string")
    texts.insert("a", [5, "5", 2.5], timestamp=0)
    assert texts.get("a", "minute", timestamp=0) == {0: {"5": 2, "2.5": 1}}


@pytest.mark.parametrize("value_type", ["varchar2", "complex", complex, sa, ["float"], 3])
def test_unknown_value_type_lists_the_known_ones(make_timeseries, value_type):
    with pytest.raises(ConfigError, match="unknown value_type .*blob, bool, boolean"):
        make_timeseries("gauge", MINUTE, value_type=value_type)


def test_string_length_sizes_the_name_and_string_columns(make_timeseries, backend):
    ts = make_timeseries("set", MINUTE, value_type="string", string_length=40)
    ts.insert("a", "x", timestamp=0)
    found = columns(ts)
    assert found["name"]["type"].length == 40
    assert found["value"]["type"].length == 40
    assert found["interval"]["type"].length == 64
    if backend in ("postgresql", "mysql"):      # SQLite does not enforce VARCHAR lengths
        with pytest.raises(Exception, match="too long"):
            ts.insert("n" * 41, "x", timestamp=0)


def test_text_length_sizes_text_columns(make_timeseries, backend):
    ts = make_timeseries("gauge", MINUTE, value_type="text", text_length=100000)
    big = "z" * 70000
    ts.insert("a", big, timestamp=0)
    assert ts.get("a", "minute", timestamp=0) == {0: big}
    value_type = columns(ts)["value"]["type"]
    if backend == "mysql":
        assert type(value_type).__name__ == "MEDIUMTEXT"     # TEXT holds only 65535 bytes
    elif backend == "postgresql":
        assert type(value_type).__name__ == "TEXT" and value_type.length is None
    else:
        assert value_type.length == 100000


def test_table_name_option_and_default(make_timeseries, backend):
    ts = make_timeseries("histogram", MINUTE)
    assert ts.table.name.endswith("_histogram_0")
    if backend == "sqlite-memory":        # private database: the default name cannot collide
        for type_ in ("series", "histogram", "count", "gauge", "set"):
            default = make_timeseries(type_, MINUTE, table_name=None)
            assert default.table.name == "kairos_%s" % type_


def test_tables_are_created_on_first_use(make_timeseries):
    ts = make_timeseries("count", MINUTE)
    inspector = sa.inspect(ts.db)
    assert not inspector.has_table(ts.table.name)
    assert ts.get("a", "minute", timestamp=0) == {0: 0}      # reading creates it too
    assert sa.inspect(ts.db).has_table(ts.table.name)
    ts.insert("a", timestamp=0)
    assert ts.get("a", "minute", timestamp=0) == {0: 1}


@pytest.mark.parametrize("type_, extra, key", [
    ("series", ["id", "value"], ["id"]),
    ("histogram", ["value", "count"], ["name", "interval", "i_time", "r_time", "value"]),
    ("count", ["value"], ["name", "interval", "i_time", "r_time"]),
    ("gauge", ["value"], ["name", "interval", "i_time", "r_time"]),
    ("set", ["value"], ["name", "interval", "i_time", "r_time", "value"]),
])
def test_table_layout(make_timeseries, type_, extra, key):
    ts = make_timeseries(type_, MINUTE)
    ts.insert("a", 1, timestamp=0)
    assert set(columns(ts)) == {"name", "interval", "i_time", "r_time"} | set(extra)
    pk = sa.inspect(ts.db).get_pk_constraint(ts.table.name)["constrained_columns"]
    assert sorted(pk) == sorted(key)


def test_raw_keys_are_gregorian_numbers_and_resolution_buckets(make_timeseries):
    ts = make_timeseries("count", {
        "minute": {"step": 60}, "day": {"step": "daily", "resolution": "1h"},
        "week": {"step": "weekly"}, "month": {"step": "monthly"}, "year": {"step": "yearly"}})
    ts.insert("a", timestamp=utc(1999, 12, 31, 5, 30))
    ts.insert("b", timestamp=utc(2020, 12, 31))
    ts.insert("c", timestamp=utc(2024, 2, 29, 12))
    t = ts.table
    with ts.db.connect() as conn:
        rows = set(conn.execute(sa.select(t.c.name, t.c.interval, t.c.i_time, t.c.r_time)))
    assert rows == {
        # 1999-12-31 05:30 is 946618200: minute 15776970, hour 262949
        ("a", "minute", 15776970, -1), ("a", "day", 19991231, 262949),
        ("a", "week", 199952, -1), ("a", "month", 199912, -1), ("a", "year", 1999, -1),
        ("b", "minute", 1609372800 // 60, -1), ("b", "day", 20201231, 1609372800 // 3600),
        ("b", "week", 202053, -1), ("b", "month", 202012, -1), ("b", "year", 2020, -1),
        ("c", "minute", 1709208000 // 60, -1), ("c", "day", 20240229, 1709208000 // 3600),
        ("c", "week", 202409, -1), ("c", "month", 202402, -1), ("c", "year", 2024, -1),
    }


def test_engine_handle_and_unknown_options(make_timeseries):
    ts = make_timeseries("count", MINUTE)
    again = Timeseries(ts.db, type="count", intervals=MINUTE, table_name=ts.table.name)
    ts.insert("a", 2, timestamp=0)
    assert again.get("a", "minute", timestamp=0) == {0: 2}
    with pytest.raises(ConfigError, match="client_config only applies when the client is a URL"):
        Timeseries(ts.db, type="count", intervals=MINUTE, client_config={"echo": True})
    with pytest.raises(ConfigError, match="unknown SQL option.*prefx"):
        Timeseries(ts.db, type="count", intervals=MINUTE, prefx="x")  # prefix= is an option
    with pytest.raises(ConfigError, match="SQL engine takes a URL or a SQLAlchemy Engine"):
        Timeseries.__new__(type(ts)).__init__(42, type="count", intervals=MINUTE)
    with pytest.raises(ConfigError, match="unknown SQL write option.*pipeline"):
        ts.insert("a", 1, timestamp=0, pipeline=object())


# -- URLs, drivers, client_config (not parametrised: each builds its own engine) ----------
@pytest.fixture
def own_engines():
    made = []
    yield made
    for ts in made:
        ts.db.dispose()


@pytest.mark.parametrize("kind, scheme, driver", [
    ("postgresql", "postgresql", "psycopg"), ("postgresql", "postgres", "psycopg"),
    ("mysql", "mysql", "pymysql"), ("mysql", "mariadb", "pymysql"),
    ("mysql", "mysql+pymysql", "pymysql"),
])
def test_driverless_urls_get_gevent_friendly_drivers(own_engines, kind, scheme, driver):
    url = require(kind)
    url = scheme + "://" + url.split("://", 1)[1]
    ts = Timeseries(url, type="count", intervals=MINUTE, client_config={"pool_size": 2})
    own_engines.append(ts)
    assert ts.db.dialect.driver == driver
    assert ts.db.pool.size() == 2
    with ts.db.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_sqlite_file_uses_wal(own_engines, tmp_path):
    ts = Timeseries("sqlite:///%s" % (tmp_path / "wal.db"), type="gauge", intervals=MINUTE)
    own_engines.append(ts)
    ts.insert("a", 1.5, timestamp=0)
    with ts.db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    reader = Timeseries("sqlite:///%s" % (tmp_path / "wal.db"), type="gauge", intervals=MINUTE)
    own_engines.append(reader)
    assert reader.get("a", "minute", timestamp=0) == {0: 1.5}


def pragma(ts, name):
    with ts.db.connect() as conn:
        return conn.exec_driver_sql("PRAGMA %s" % name).scalar()


def file_with_small_pages(path, *statements):
    """A SQLite file made before kairos chose its pages: 4 KiB, then ``statements``."""
    made = sqlite3.connect(path)
    for statement in ("PRAGMA page_size=4096",) + statements:
        made.execute(statement)
    made.commit()
    made.close()


def test_a_new_sqlite_file_gets_large_pages(own_engines, tmp_path):
    """16 KiB pages: a batch of upserts rewrites fewer, fuller pages
    (``benchmarks/sql_upsert_floor.py --page-size``)."""
    ts = Timeseries("sqlite:///%s" % (tmp_path / "pages.db"), type="count", intervals=MINUTE)
    own_engines.append(ts)
    ts.insert("a", 2, timestamp=0)
    assert pragma(ts, "page_size") == 16384
    assert ts.get("a", "minute", timestamp=0) == {0: 2}


def test_an_existing_sqlite_file_keeps_its_pages(own_engines, tmp_path):
    """A file made before keeps its page size (changing it takes a VACUUM) and its rows."""
    path = tmp_path / "old.db"
    file_with_small_pages(path, "CREATE TABLE other (x INTEGER)")
    ts = Timeseries("sqlite:///%s" % path, type="count", intervals=MINUTE)
    own_engines.append(ts)
    ts.insert("a", 3, timestamp=0)
    assert pragma(ts, "page_size") == 4096 and pragma(ts, "journal_mode") == "wal"
    assert ts.get("a", "minute", timestamp=0) == {0: 3}


def test_the_documented_vacuum_gives_an_existing_file_large_pages(own_engines, tmp_path):
    """docs/kairos/sql.rst's recipe for a file made before: its rows are kept."""
    path = tmp_path / "old.db"
    file_with_small_pages(path, "PRAGMA journal_mode=WAL")
    ts = Timeseries("sqlite:///%s" % path, type="count", intervals=MINUTE)
    ts.insert("a", 4, timestamp=0)
    ts.db.dispose()
    converting = sqlite3.connect(path, isolation_level=None)
    for statement in ("PRAGMA journal_mode=DELETE", "PRAGMA page_size=16384", "VACUUM",
                      "PRAGMA journal_mode=WAL"):
        converting.execute(statement)
    converting.close()
    ts = Timeseries("sqlite:///%s" % path, type="count", intervals=MINUTE)
    own_engines.append(ts)
    ts.insert("a", 5, timestamp=0)
    assert pragma(ts, "page_size") == 16384
    assert ts.get("a", "minute", timestamp=0) == {0: 9}


def test_sqlite_writers_of_a_file_take_turns_on_its_writer_lock(own_engines, tmp_path):
    """A write waits while another writer (here: the test) holds the file's turn, and goes
    in as soon as the turn ends; reads do not wait."""
    import fcntl
    import gevent
    path = tmp_path / "turns.db"
    ts = Timeseries("sqlite:///%s" % path, type="count", intervals=MINUTE)
    own_engines.append(ts)
    ts.insert("a", 1, timestamp=0)
    holder = open(str(path) + "-kairos-writer", "a")
    fcntl.flock(holder, fcntl.LOCK_EX)
    # an OS thread, as karbon writes SQLite (the flock blocks the thread that waits)
    writer = gevent.get_hub().threadpool.spawn(ts.insert, "a", 2, timestamp=0)
    try:
        gevent.sleep(0.5)
        assert not writer.ready()  # waiting for its turn
        assert ts.get("a", "minute", timestamp=0) == {0: 1}  # a read does not wait
    finally:
        holder.close()  # the turn ends
    writer.get(timeout=10)
    assert ts.get("a", "minute", timestamp=0) == {0: 3}


def test_a_turn_held_too_long_or_a_lock_file_unopenable_does_not_stop_writes(
        own_engines, tmp_path, monkeypatch, caplog):
    """A writer in gevent's loop (as torus' /insert) goes on without its turn after
    SQLITE_BUSY_TIMEOUT, and a lock file it cannot open means no turn at all: the write
    is made either way, and logged."""
    import fcntl
    import gevent
    from kairos.backends import sql_engine
    gevent.sleep(0)  # this thread runs gevent's loop
    monkeypatch.setattr(sql_engine, "SQLITE_BUSY_TIMEOUT", 0.3)
    held = Timeseries("sqlite:///%s" % (tmp_path / "held.db"), type="count", intervals=MINUTE)
    own_engines.append(held)
    held.insert("a", 1, timestamp=0)
    with open(str(tmp_path / "held.db") + "-kairos-writer") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        held.insert("a", 2, timestamp=0)
    assert held.get("a", "minute", timestamp=0) == {0: 3}
    assert "was held for 0.3 s: writing without it" in caplog.text
    (tmp_path / "odd.db-kairos-writer").mkdir()  # cannot be opened as the lock file
    odd = Timeseries("sqlite:///%s" % (tmp_path / "odd.db"), type="count", intervals=MINUTE)
    own_engines.append(odd)
    odd.insert("a", 5, timestamp=0)
    assert odd.get("a", "minute", timestamp=0) == {0: 5}
    assert "no writer turn for" in caplog.text


def test_a_writer_thread_waits_for_a_held_turn_only_so_long(own_engines, tmp_path, monkeypatch,
                                                            caplog):
    """A writer in a thread of its own (karbon's SQLite writers) whose turn another process
    never gives back goes on without it after SQLITE_BUSY_TIMEOUT, as one in gevent's loop
    does: a stuck holder must not hold karbon's writer, and its stop, for ever."""
    import fcntl
    from gevent.threadpool import ThreadPool
    from kairos.backends import sql_engine
    monkeypatch.setattr(sql_engine, "SQLITE_BUSY_TIMEOUT", 0.3)
    held = Timeseries("sqlite:///%s" % (tmp_path / "held.db"), type="count", intervals=MINUTE)
    own_engines.append(held)
    held.insert("a", 1, timestamp=0)
    pool = ThreadPool(1)
    with open(str(tmp_path / "held.db") + "-kairos-writer") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        try:
            writing = pool.spawn(held.insert, "a", 2, timestamp=0)
            writing.get(timeout=10)  # before the holder lets go
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
            pool.join()
            pool.kill()
    assert held.get("a", "minute", timestamp=0) == {0: 3}
    assert "was held for 0.3 s: writing without it" in caplog.text


def test_sqlite_memory_is_shared_by_greenlets(own_engines):
    import gevent
    ts = Timeseries("sqlite:///:memory:", type="count", intervals=MINUTE)
    own_engines.append(ts)
    gevent.joinall([gevent.spawn(ts.insert, "a", i, timestamp=0) for i in range(1, 5)],
                   raise_error=True)
    assert ts.get("a", "minute", timestamp=0) == {0: 10}


def test_sqlite_keeps_keyed_rows_in_key_order_and_old_tables_still_work(tmp_path):
    """New SQLite tables of keyed types are WITHOUT ROWID (cheaper upserts, half the size);
    a table made before that (with a rowid) is used as it is."""
    url = "sqlite:///%s" % (tmp_path / "layout.db")
    made = {kind: Timeseries(url, type=kind, intervals=MINUTE, table_name="t_" + kind)
            for kind in ("series", "histogram", "count", "gauge", "set")}
    for series in made.values():
        series.insert("a", 1, timestamp=0)
    engine = made["count"].db
    with engine.connect() as conn:
        sql = dict(conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    for kind in ("histogram", "count", "gauge", "set"):
        assert sql["t_" + kind].rstrip().endswith("WITHOUT ROWID"), sql["t_" + kind]
    assert "WITHOUT ROWID" not in sql["t_series"]  # its id is the rowid: arrival order
    with engine.begin() as conn:  # a count table as kairos made it before
        conn.execute(sa.text("CREATE TABLE old_count (name VARCHAR(255) NOT NULL, interval "
                             "VARCHAR(64) NOT NULL, i_time BIGINT NOT NULL, r_time BIGINT NOT NULL, "
                             "value FLOAT, PRIMARY KEY (name, interval, i_time, r_time))"))
    old = Timeseries(url, type="count", intervals=MINUTE, table_name="old_count")
    old.bulk_insert({0: {"a": [1, 2]}}, batch_id="b1")
    old.bulk_insert({0: {"a": [1, 2]}}, batch_id="b1")
    assert old.get("a", "minute", timestamp=0) == {0: 3}


def test_mysql_names_one_by_its_collation_read_back_under_the_name_asked(make_timeseries,
                                                                          backend):
    """A MySQL name column (layout='name') compares case-blind: rows written as ``Stat.a``
    are the rows of ``stat.a`` too, and read back under the name asked for."""
    if backend != "mysql":
        pytest.skip("MySQL's collations")
    ts = make_timeseries("count", MINUTE)
    ts.bulk_insert({0: {"Stat.a": [1]}})
    ts.bulk_insert({0: {"stat.a": [2]}, 60: {"other": [5]}})
    assert ts.get("stat.a", "minute", timestamp=0) == {0: 3}
    assert ts.get("Stat.a", "minute", timestamp=0) == {0: 3}
    assert ts.series_many(["stat.a", "other"], "minute", start=0, end=60) == [
        {0: 3, 60: 0}, {0: 0, 60: 5}]
