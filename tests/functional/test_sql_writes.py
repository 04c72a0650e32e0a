"""SQL writes: dialect upserts, one transaction and a handful of statements per bulk_insert,
and the portable update-then-insert fallback (``upsert=False``).

The statements are counted with SQLAlchemy's ``before_cursor_execute`` event: an
``executemany`` is one event, whatever the driver does underneath.
"""
import decimal
import sqlite3
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from kairos.backends import sql_tables, sql_values
from kairos.exceptions import ConfigError, InvalidValue
from tests.functional.conftest import SQL_BACKENDS

MINUTE = {"minute": {"step": 60}}
TWO = {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}}


@pytest.fixture(params=SQL_BACKENDS)
def backend(request):
    """Only the SQL engines (overrides the all-backend parameter of make_timeseries)."""
    return request.param


@contextmanager
def recorded(engine):
    """Collect ``(statement, executemany)`` of every cursor execution and count commits."""
    seen = {"statements": [], "commits": 0}

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen["statements"].append((statement, executemany))

    def on_commit(conn):
        seen["commits"] += 1
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


def _writes(seen):
    """The statements writing rows (not PostgreSQL's creation of its COPY stage)."""
    return [(statement, many) for statement, many in seen["statements"]
            if not statement.startswith("CREATE TEMPORARY TABLE IF NOT EXISTS pg_temp.")]


UPSERT_TEXT = {"sqlite-memory": "ON CONFLICT", "sqlite-file": "ON CONFLICT",
               "postgresql": "ON CONFLICT", "mysql": "ON DUPLICATE KEY UPDATE"}


@pytest.mark.parametrize("type_", ["histogram", "count", "gauge", "set"])
def test_writes_use_the_dialect_upsert(make_timeseries, backend, type_):
    ts = make_timeseries(type_, MINUTE)
    ts.insert("a", 1, timestamp=0)
    with recorded(ts.db) as seen:
        ts.insert("a", 2, timestamp=1)
    (statement, _), = _writes(seen)
    assert UPSERT_TEXT[backend] in statement.upper()
    if type_ == "set" and backend != "mysql":
        assert "DO NOTHING" in statement.upper()


def test_upserts_merge_per_type(make_timeseries):
    made = {t: make_timeseries(t, MINUTE, read_func=float) for t in ("histogram", "count", "gauge", "set")}
    for _ in range(2):
        for ts in made.values():
            ts.bulk_insert({0: {"a": [1, 2, 2]}, 30: {"a": [3]}})
    assert made["histogram"].get("a", "minute", timestamp=0) == {0: {1: 2, 2: 4, 3: 2}}
    assert made["count"].get("a", "minute", timestamp=0) == {0: 16}
    assert made["gauge"].get("a", "minute", timestamp=0) == {0: 3}
    assert made["set"].get("a", "minute", timestamp=0) == {0: {1, 2, 3}}


def test_series_rows_are_plain_inserts(make_timeseries):
    ts = make_timeseries("series", MINUTE)
    ts.insert("a", 1, timestamp=0)
    with recorded(ts.db) as seen:
        ts.insert("a", [2, 3], timestamp=1)
    (statement, executemany), = _writes(seen)
    assert statement.upper().startswith("INSERT") and "CONFLICT" not in statement.upper()
    assert ts.get("a", "minute", timestamp=0) == {0: [1, 2, 3]}


@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
def test_a_statsd_batch_is_one_transaction_of_a_few_statements(make_timeseries, type_):
    ts = make_timeseries(type_, TWO, read_func=float, write_parts=1)
    ts.insert("warm-up", 1, timestamp=0)       # creates the table outside the measurement
    batch = {60: {"stat.%04d" % i: [1, 2, 3, 4, i] for i in range(2000)}}     # 10,000 points
    with recorded(ts.db) as seen:
        ts.bulk_insert(batch)
    # up to 20,000 rows (10,000 points, 2 intervals): one statement or COPY on most
    # engines; on SQLite INSERTs of a power of two of rows each, at most 4,096
    # (``sql_values``): 4 of 4,096 then one per binary digit of the rest
    most = 3 + 20000 // sql_values.MOST_ROWS + sql_values.MOST_ROWS.bit_length()
    assert len(seen["statements"]) <= most, seen["statements"][:5]
    assert seen["commits"] == 1
    assert len(ts.list()) == 2001
    expected = {"series": [1, 2, 3, 4, 1999], "histogram": {1: 1, 2: 1, 3: 1, 4: 1, 1999: 1},
                "count": 1 + 2 + 3 + 4 + 1999, "gauge": 1999, "set": {1, 2, 3, 4, 1999}}[type_]
    assert ts.get("stat.1999", "minute", timestamp=60) == {60: expected}
    assert ts.get("stat.1999", "hour", timestamp=0) == {60: expected}


def test_sqlite_writes_within_the_parameters_its_library_allows(make_timeseries, backend):
    if backend != "sqlite-file":
        pytest.skip("a SQLite file's connections are made again here")
    ts = make_timeseries("gauge", TWO, read_func=float)
    ts.insert("warm-up", 1, timestamp=0)

    def low_limit(dbapi_connection, _record):  # as SQLite before 3.32
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    sa.event.listen(ts.db, "connect", low_limit)
    ts.db.dispose()
    ts._fast_write = None  # the statements are built again for the new connections
    ts.bulk_insert({60: {"stat.%04d" % i: [i] for i in range(3000)}})  # 6,000 rows
    assert ts.get("stat.2999", "hour", timestamp=0) == {60: 2999}
    assert len(ts.list()) == 3001


def test_sqlite_counts_bind_each_bucket_once_from_their_second_write(make_timeseries, backend):
    """A count's or gauge's rows on SQLite, once its first write compiled the plain
    statement, go in statements binding each bucket's interval and times once
    (``sql_values.SlotGroups``); totals past 64 bits still go on as floats."""
    if not backend.startswith("sqlite"):
        pytest.skip("SQLite's statements")
    ts = make_timeseries("count", TWO, value_type="integer")
    ts.bulk_insert({0: {"first": 1}})
    batch = {60: {"stat.%03d" % i: 2 ** 62 for i in range(300)},
             120: {"stat.%03d" % i: i for i in range(0, 300, 2)}}
    with recorded(ts.db) as seen:
        ts.bulk_insert(batch)
        ts.bulk_insert(batch)
    written = [text for text, _ in seen["statements"]
               if text.split("(")[0].strip() == "INSERT INTO " + ts.table.name]
    assert written and all("?1" in text and "?2" in text for text in written)
    assert ts.get("stat.007", "minute", timestamp=60) == {60: float(2 ** 63)}
    assert ts.get("stat.008", "minute", timestamp=120) == {120: 16}
    assert ts.get("stat.008", "hour", timestamp=0) == {60: float(2 ** 63), 120: 16}
    assert len(ts.list()) == 301


def test_sqlite_leaves_grouping_out_for_names_in_many_short_runs(make_timeseries, backend):
    """Buckets holding scattered runs of names would cut a batch in thousands of small
    statements: its rows go in the plain ones, few and long."""
    if not backend.startswith("sqlite"):
        pytest.skip("SQLite's statements")
    ts = make_timeseries("gauge", MINUTE)
    ts.bulk_insert({0: {"first": 1}})
    names = ["s.%04d" % i for i in range(1020)]
    batch = {60 * (k + 1): {name: float(k) for name in names[k:k + 20]} for k in range(1000)}
    with recorded(ts.db) as seen:
        ts.bulk_insert(batch)
    assert len(seen["statements"]) < 20
    assert ts.get("s.0500", "minute", timestamp=60 * 482) == {60 * 482: 481.0}
    assert sum(len(ts.series(name, "minute", start=60, end=60 * 1000)) for name in names[:3]) > 0


def test_a_value_the_database_refuses_stores_nothing_of_its_batch(make_timeseries, backend):
    if backend.startswith("sqlite"):
        pytest.skip("SQLite turns an integer total past 64 bits into a float: nothing fails")
    ts = make_timeseries("count", MINUTE, value_type="int")
    ts.insert("full", 2 ** 63 - 1, timestamp=0)
    ts.insert("kept", 1, timestamp=0)
    with pytest.raises(InvalidValue, match="refused a value of the batch"):
        ts.bulk_insert({0: {"a": [1], "kept": [5], "full": [1]}})
    assert ts.list() == ["full", "kept"]
    assert ts.get("kept", "minute", timestamp=0) == {0: 1}
    assert ts.get("full", "minute", timestamp=0) == {0: 2 ** 63 - 1}


def test_a_name_longer_than_its_column_is_refused_before_anything_is_sent(make_timeseries):
    ts = make_timeseries("count", MINUTE, string_length=12, read_func=float)
    ts.insert("kept", 1, timestamp=0)
    with recorded(ts.db) as seen:
        with pytest.raises(InvalidValue, match="too long"):
            ts.bulk_insert({0: {"a": [1], "kept": [5], "z" * 13: [1]}})
    assert seen["statements"] == []
    assert ts.get("kept", "minute", timestamp=0) == {0: 1}


def test_update_then_insert_fallback(make_timeseries, backend):
    if not backend.startswith("sqlite"):
        pytest.skip("the fallback is proved on SQLite")
    made = {t: make_timeseries(t, TWO, upsert=False, read_func=float)
            for t in ("histogram", "count", "gauge", "set")}
    for ts in made.values():
        ts.bulk_insert({0: {"a": [1, 2, 2]}})
        with recorded(ts.db) as seen:
            ts.bulk_insert({30: {"a": [3, 2]}, 61: {"a": [4]}})
        verbs = {statement.split()[0].upper() for statement, _ in seen["statements"]}
        assert not any("CONFLICT" in s.upper() for s, _ in seen["statements"])
        assert verbs <= {"UPDATE", "INSERT", "SELECT"} and "INSERT" in verbs
        assert seen["commits"] == 1
    assert made["histogram"].series("a", "minute", start=0, end=60) == {
        0: {1: 1, 2: 3, 3: 1}, 60: {4: 1}}
    assert made["histogram"].get("a", "hour", timestamp=0, condense=True) == {
        0: {1: 1, 2: 3, 3: 1, 4: 1}}
    assert made["count"].series("a", "minute", start=0, end=60) == {0: 10, 60: 4}
    assert made["gauge"].series("a", "minute", start=0, end=60) == {0: 2, 60: 4}
    assert made["set"].series("a", "minute", start=0, end=60) == {0: {1, 2, 3}, 60: {4}}
    assert made["set"].get("a", "hour", timestamp=0) == {0: {1, 2, 3}, 60: {4}}


@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
def test_postgresql_batches_are_copied_into_a_stage_then_moved(make_timeseries, backend, type_):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    ts = make_timeseries(type_, TWO, read_func=float, write_parts=1)
    batch = {60: {"stat.%04d" % i: [1, 2, i] for i in range(500)}}
    with recorded(ts.db) as seen:
        ts.bulk_insert(batch)
        ts.bulk_insert(batch, batch_id="b.1")  # the stage is empty again at each transaction
        ts.bulk_insert(batch, batch_id="b.1")  # applied once
    moves = [s for s, _ in seen["statements"] if "FROM pg_temp.kairos_stage_" in s]
    assert len(moves) == 2 and all(s.startswith("INSERT INTO") for s in moves)
    expected = {"series": [1, 2, 499] * 2, "histogram": {1: 2, 2: 2, 499: 2}, "count": 2 * 502,
                "gauge": 499, "set": {1, 2, 499}}[type_]
    assert ts.get("stat.0499", "minute", timestamp=60) == {60: expected}
    assert ts.get("stat.0499", "hour", timestamp=0) == {60: expected}
    assert len(ts.list()) == 500


def test_a_value_refused_by_the_copy_stores_nothing_and_the_next_batch_goes_in(
        make_timeseries, backend):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    ts = make_timeseries("gauge", MINUTE, value_type="string", string_length=12)
    with pytest.raises(InvalidValue, match="refused a value of the batch"):
        ts.bulk_insert({0: {"a": ["short"], "b": ["y" * 13]}}, batch_id="r.1")  # too long
    assert ts.list() == []
    ts.bulk_insert({0: {"a": ["short"]}}, batch_id="r.1.0")  # the stage made anew after the rollback
    ts.bulk_insert({0: {"b": ["y" * 12]}}, batch_id="r.1.1")
    assert ts.get("a", "minute", timestamp=0) == {0: "short"}
    assert ts.get("b", "minute", timestamp=0) == {0: "y" * 12}


def _reloptions(ts):
    with ts.db.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
            ("\"%s\"" % ts.table.name,)).scalar() or []


@pytest.mark.parametrize("value_type, values, binary", [
    ("float", [0.1, -2.5e-300, 1.7976931348623157e308, 12345678.123456789], True),
    ("int", [2 ** 62 + 1, -(2 ** 63), 0, 7], True),
    ("string", ["plain", "ünïcode ✓", "", "x" * 40], True),
    ("decimal", [decimal.Decimal("1.25"), decimal.Decimal("-3.5")], False),
])
def test_postgresql_copies_numbers_and_strings_in_binary_and_reads_them_back_exactly(
        make_timeseries, backend, value_type, values, binary):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    ts = make_timeseries("set", MINUTE, value_type=value_type, string_length=64,
                         read_func=None)
    ts.bulk_insert({0: {"stat.%d" % i: [value] for i, value in enumerate(values)}})
    copy = ts._fast_write[1]
    assert bool(copy.types) is binary and ("FORMAT BINARY" in copy.copy) is binary
    for i, value in enumerate(values):
        assert ts.get("stat.%d" % i, "minute", timestamp=0) == {0: {value}}


@pytest.mark.parametrize("value, column", [
    (2 ** 31, sa.Integer), (2 ** 40, sa.Integer), (-(2 ** 31) - 1, sa.Integer),
    (2 ** 63, sa.BigInteger),
])
def test_a_binary_copy_refuses_an_integer_past_its_column_and_stores_nothing_of_the_batch(
        make_timeseries, backend, value, column):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    # psycopg packs an ``integer`` in binary without a range check: staged as is, 2**40
    # would be stored as 0 (the stage holds bigints; the insert casts with the check)
    ts = make_timeseries("gauge", MINUTE, value_type=column)
    ts.insert("kept", 5, timestamp=0)
    # refused by the database, or (past 64 bits) by kairos before anything is sent
    with pytest.raises(InvalidValue, match="refused a value of the batch|64-bit range"):
        ts.bulk_insert({0: {"a": [1], "kept": [6], "big": [value]}}, batch_id="i.1")
    assert ts.get("kept", "minute", timestamp=0) == {0: 5}
    assert ts.list() == ["kept"]
    ts.bulk_insert({0: {"a": [1], "kept": [6]}}, batch_id="i.1")  # the id was not taken
    assert ts.get("kept", "minute", timestamp=0) == {0: 6}


def test_a_total_past_64_bits_packed_in_binary_is_refused_and_stores_nothing(
        make_timeseries, backend):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    ts = make_timeseries("count", MINUTE, value_type="int")
    ts.insert("kept", 5, timestamp=0)
    # each value fits; their total, made by kairos, cannot be packed as a bigint
    with pytest.raises(InvalidValue, match="refused a value of the batch"):
        ts.bulk_insert({0: {"kept": [1], "big": [2 ** 62, 2 ** 62]}}, batch_id="p.1")
    assert ts.get("kept", "minute", timestamp=0) == {0: 5}
    ts.bulk_insert({0: {"kept": [1]}}, batch_id="p.1")  # the id was not taken
    assert ts.get("kept", "minute", timestamp=0) == {0: 6}


def test_a_table_made_again_with_other_types_does_not_meet_its_old_stage(backend, unique_name):
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    import kairos
    from tests.conftest import require

    def drop(ts):
        for table in (ts.table, ts.names, ts.ids):
            if table is not None:
                table.drop(engine, checkfirst=True)
    from kairos.backends import sql_engine
    # one connection, which keeps its stage
    engine = sql_engine.create(require("postgresql"), {"pool_size": 1, "max_overflow": 0})
    table = "%s_restaged" % unique_name
    try:
        first = kairos.Timeseries(engine, type="gauge", intervals=MINUTE, table_name=table,
                                  value_type="float")
        first.insert("a", 1.5, timestamp=0)  # the connection now holds a float stage
        drop(first)
        again = kairos.Timeseries(engine, type="gauge", intervals=MINUTE, table_name=table,
                                  value_type="int")
        again.insert("a", 5, timestamp=0)  # int8 bytes read by a float8 stage: 0
        assert again.get("a", "minute", timestamp=0) == {0: 5}
        drop(again)
    finally:
        engine.dispose()


@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
def test_postgresql_tables_updated_in_place_keep_room_on_their_pages(make_timeseries, backend,
                                                                     type_):
    """A count, gauge or histogram row is updated by later batches of its bucket: pages kept
    20 % free let PostgreSQL update it on its own page (HOT, no new index entry)."""
    if backend != "postgresql":
        pytest.skip("fillfactor is PostgreSQL's")
    ts = make_timeseries(type_, MINUTE)
    ts.bulk_insert({0: {"a": [1]}})
    for _ in range(3):  # updates of the same rows: on their pages, the primary key untouched
        ts.bulk_insert({0: {"a": [1]}, 10: {"a": [2]}})
    updated = type_ in ("histogram", "count", "gauge")
    assert _reloptions(ts) == (["fillfactor=%d" % sql_tables.UPDATED_FILLFACTOR] if updated else [])
    expected = {"series": [1, 1, 2, 1, 2, 1, 2], "histogram": {1: 4, 2: 3}, "count": 10,
                "gauge": 2, "set": {1, 2}}[type_]
    assert ts.get("a", "minute", timestamp=0) == {0: expected}


def _markers(ts):
    """The batch markers of ``ts``'s table (the markers' table is the database's)."""
    with ts.db.connect() as conn:
        markers = conn.execute(sa.select(ts.batches.c.marker)).scalars()
        return sorted(m for m in markers if m.startswith(ts.table.name + ":"))


def _gauges(ts, names, at):
    return {name: ts.get(name, "minute", timestamp=at)[at] for name in names}


def test_a_large_gauge_batch_is_written_in_parts_each_once(make_timeseries, backend):
    """write_parts=2: a gauge batch of 2,000 rows is two transactions, each a run of the
    names under a marker of its own (``<id>#k/2``); sent again, each part already stored
    is skipped, and a part whose marker is gone is written again, alone."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite writes one transaction at a time: no parts")
    ts = make_timeseries("gauge", MINUTE, read_func=float, write_parts=2)
    ts.insert("warm-up", 1, timestamp=0)  # creates the tables outside the measurement
    names = ["stat.%04d" % i for i in range(2000)]
    with recorded(ts.db) as seen:
        ts.bulk_insert({60: {name: [1] for name in names}}, batch_id="b1")
    assert seen["commits"] == 2
    table = ts.table.name
    assert _markers(ts) == ["%s:b1#0/2" % table, "%s:b1#1/2" % table]
    assert set(_gauges(ts, names, 60).values()) == {1}
    ts.bulk_insert({60: {name: [2] for name in names}}, batch_id="b1")  # a replay
    assert set(_gauges(ts, names, 60).values()) == {1}
    with ts.db.begin() as conn:  # as if the second part had not been stored
        conn.execute(ts.batches.delete().where(ts.batches.c.marker == "%s:b1#1/2" % table))
    ts.bulk_insert({60: {name: [3] for name in names}}, batch_id="b1")
    values = _gauges(ts, names, 60)
    first = [name for name in names if values[name] == 1]
    assert values == {name: 1 if name in first else 3 for name in names}
    assert first == names[:len(first)] and 0 < len(first) < len(names)  # a run of names each


@pytest.mark.parametrize("type_", ["series", "histogram", "count"])
def test_a_batch_that_would_count_twice_is_never_written_in_parts(make_timeseries, backend,
                                                                  type_):
    """Sums, counts and lists of values would take a part twice if the caller split the
    batch after a refusal elsewhere (``torus.processing.store``): one transaction."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite writes one transaction at a time: no parts")
    ts = make_timeseries(type_, MINUTE, read_func=float, write_parts=2)
    ts.insert("warm-up", 1, timestamp=0)
    with recorded(ts.db) as seen:
        ts.bulk_insert({60: {"stat.%04d" % i: [1] for i in range(2000)}}, batch_id="b1")
    assert seen["commits"] == 1
    assert _markers(ts) == ["%s:b1" % ts.table.name]


def test_write_parts_defaults_to_two_on_postgresql_and_is_checked(make_timeseries, backend):
    ts = make_timeseries("gauge", MINUTE)
    assert ts.write_parts == (2 if backend == "postgresql" else 1)
    wrongs = [0, 9, True, "2", 1.5]
    if backend.startswith("sqlite"):
        wrongs.append(2)
    for wrong in wrongs:
        with pytest.raises(ConfigError, match="write_parts must be"):
            make_timeseries("gauge", MINUTE, write_parts=wrong)


def test_a_value_refused_in_one_part_leaves_the_batch_to_be_sent_again_whole(
        make_timeseries, backend):
    """A value refused in the last part: the first part's rows are stored but its marker
    is deleted, so the batch sent again under its id, without the bad value, is written
    whole (the first part's values again, alike), though it is cut elsewhere then."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite writes one transaction at a time: no parts")
    ts = make_timeseries("gauge", MINUTE, value_type="string", string_length=12, write_parts=2)
    ts.insert("warm-up", "x", timestamp=0)
    names = ["stat.%04d" % i for i in range(2000)]
    batch = {60: {name: ["short"] for name in names}}
    batch[60]["stat.1999"] = ["y" * 13]  # too long for the column: refused by the database
    with pytest.raises(InvalidValue, match="(?s)refused a value of the batch.*written in 2 parts"):
        ts.bulk_insert(batch, batch_id="b1")
    assert _markers(ts) == []
    assert _gauges(ts, ["stat.0000"], 60) == {"stat.0000": "short"}  # the first part's
    assert "stat.1999" not in ts.list()
    names += ["stat.2000", "stat.2001"]  # the cut moves: the first part now ends later
    batch[60].update({"stat.1999": ["fine"], "stat.2000": ["short"], "stat.2001": ["short"]})
    ts.bulk_insert(batch, batch_id="b1")
    assert _gauges(ts, names, 60) == {n: "fine" if n == "stat.1999" else "short" for n in names}
    assert len(_markers(ts)) == 2


def test_each_part_has_a_connection_of_its_own(make_timeseries, backend):
    if backend.startswith("sqlite"):
        pytest.skip("SQLite writes one transaction at a time: no parts")
    ts = make_timeseries("gauge", MINUTE, read_func=float, write_parts=3)
    ts.insert("warm-up", 1, timestamp=0)
    connections = set()

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO %s " % ts.table.name):
            connections.add(id(conn.connection.dbapi_connection))
    sa.event.listen(ts.db, "before_cursor_execute", on_execute)
    try:
        ts.bulk_insert({60: {"stat.%04d" % i: [1] for i in range(3000)}}, batch_id="b1")
    finally:
        sa.event.remove(ts.db, "before_cursor_execute", on_execute)
    assert len(connections) == 3
    assert len(_markers(ts)) == 3


def test_without_gevent_or_connections_to_spare_a_batch_is_one_transaction(monkeypatch):
    from kairos.backends import sql_parts
    engine = sa.create_engine("postgresql+psycopg://u@127.0.0.1/x", pool_size=2, max_overflow=1)
    assert sql_parts.parts_for(engine, 8) == 2  # as many as the pool keeps open
    assert sql_parts.parts_for(engine, 1) == 1
    unlimited = sa.create_engine("postgresql+psycopg://u@127.0.0.1/x", pool_size=0,
                                 max_overflow=-1)
    assert sql_parts.parts_for(unlimited, 4) == 4
    assert sql_parts.parts_for(sa.create_engine("sqlite://"), 4) == 1  # one shared connection
    monkeypatch.setattr(sql_parts, "sockets_patched", lambda: False)  # no monkey-patching
    assert sql_parts.parts_for(engine, 2) == 1


def test_parts_run_at_once_under_gevent_and_the_first_error_is_raised_after_all(caplog):
    """The first part waits for the second to start: only a run at once finishes. A part
    that fails does not stop the others; its error comes out once all are done, a later
    one is logged, and a part killed before it finished is an error too."""
    import gevent
    from gevent.event import Event
    from kairos.backends import sql_parts
    from kairos.exceptions import BackendError
    started, done = Event(), []

    def first():
        assert started.wait(5), "the parts ran one after the other"
        done.append(1)

    def second():
        started.set()
        raise InvalidValue("refused")

    def third():
        gevent.sleep(0.01)
        done.append(3)
        raise BackendError("lost")
    with pytest.raises(InvalidValue, match="refused"):
        sql_parts.run_all([first, second, third])
    assert sorted(done) == [1, 3]
    assert "another part of the same batch failed too: BackendError: lost" in caplog.text

    def killed():
        raise gevent.GreenletExit()
    with pytest.raises(BackendError, match="a part of the batch was interrupted"):
        sql_parts.run_all([lambda: None, killed])
