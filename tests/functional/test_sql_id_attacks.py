"""A second reader's attacks on SQL ``layout='id'`` (``kairos/backends/sql_ids.py``).

Each test holds a behaviour the id layout must keep against the real databases:
concurrent numbering, names the databases compare loosely, refusals, retries, deletes.
"""
import contextlib

import pytest
import sqlalchemy as sa

from kairos import Timeseries
from kairos.backends import sql_ids
from kairos.exceptions import BackendError, ConfigError, InvalidValue
from tests.functional.test_sql_id_layout import MINUTE, backend  # noqa: F401 (the fixture)
from tests.functional.test_sql_id_layout import numbered as names_by_id


def numbered(ts):
    """{name: id} of the timeseries' ids table."""
    return {name: ident for ident, name in names_by_id(ts).items()}


def unindexed(ts, monkeypatch):
    """Make ``ts`` write without name index entries (whose row locks order writers)."""
    prepare = ts._prepare_write

    def without_index(batch, **kwargs):
        kwargs["new_names"] = ()
        return prepare(batch, **kwargs)
    monkeypatch.setattr(ts, "_prepare_write", without_index)


@pytest.mark.parametrize("backend", ["postgresql-id", "mysql-id"])
def test_a_name_another_writer_numbered_after_the_lookup_gets_its_id(make_timeseries,
                                                                     monkeypatch):
    """Writer B looks a new name up, writer A numbers it and commits, then B's insert
    leaves A's row alone and B reads the id back. On MySQL/MariaDB (REPEATABLE READ) the
    read-back must not use the snapshot of B's first lookup, which cannot see A's row."""
    first = make_timeseries("count", MINUTE)
    second = Timeseries(first.db, type="count", intervals=MINUTE, layout="id",
                        table_name=first.table.name)
    first.insert("warm", 1, timestamp=0)  # tables created, both writers settled
    second.insert("warm", 1, timestamp=0)
    for ts in (first, second):  # no name index rows: their locks would serialize the two
        unindexed(ts, monkeypatch)
    real_insert = sql_ids.insert
    raced = []

    def insert_after_the_other_writer(conn, ids, names):
        if not raced:  # second's insert: first numbers the same names and commits meanwhile
            raced.append(names)
            first.insert("new.name", 5, timestamp=0)
        return real_insert(conn, ids, names)
    monkeypatch.setattr(sql_ids, "insert", insert_after_the_other_writer)
    second.insert("new.name", 2, timestamp=0)
    assert raced == [["new.name"]]
    assert first.get("new.name", "minute", timestamp=0) == {0: 7}
    assert sorted(numbered(first)) == ["new.name", "warm"]


LOOSE_NAMES = ["Stat.a", "stat.a", "stat.a ", "stat.a  ", "stat.\u00e4", "stat.a\u0308",
               "stat.\U0001d11e", "STRASSE", "stra\u00dfe"]


def test_names_a_collation_would_confuse_stay_apart(make_timeseries):
    """Case, trailing spaces, composed and decomposed forms, 4-byte characters: every
    name its own id and its own rows, read one by one, many at once, listed."""
    ts = make_timeseries("count", MINUTE)
    ts.bulk_insert({0: {name: [index + 1] for index, name in enumerate(LOOSE_NAMES)}})
    assert len(set(numbered(ts).values())) == len(LOOSE_NAMES)
    for index, name in enumerate(LOOSE_NAMES):
        assert ts.get(name, "minute", timestamp=0) == {0: index + 1}, name
        assert ts.properties(name) == {"minute": {"first": 0, "last": 0}}
    many = ts.series_many(LOOSE_NAMES, "minute", start=0, end=0)
    assert [dict(series) for series in many] == [{0: i + 1} for i in range(len(LOOSE_NAMES))]
    assert sorted(ts.list()) == sorted(LOOSE_NAMES)
    ts.delete("stat.a ")
    assert ts.get("stat.a", "minute", timestamp=0) == {0: 2}
    assert ts.get("stat.a  ", "minute", timestamp=0) == {0: 4}
    assert "stat.a " not in ts.list()


def test_names_at_string_length_in_wide_characters(make_timeseries):
    ts = make_timeseries("gauge", MINUTE, string_length=8)
    names = ["\U0001d11e" * 8, "\u00e4" * 8, "a" * 8, "a" * 7 + "\U0001d11e"]
    ts.bulk_insert({0: {name: [i] for i, name in enumerate(names)}})
    assert [ts.get(name, "minute", timestamp=0) for name in names] == [
        {0: i} for i in range(len(names))]
    with pytest.raises(InvalidValue):
        ts.bulk_insert({0: {"\u00e4" * 9: [1], "fine": [2]}})
    assert sorted(numbered(ts)) == sorted(names)  # nothing numbered for the refused batch


def test_a_longer_name_than_the_tables_column_is_an_invalid_value(make_timeseries, backend):
    """A second configuration with a larger string_length than the table was created with
    (the database, not the writer, knows the column's width): InvalidValue, as with
    layout='name', so karbon isolates it by halving; nothing of the batch stored."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    ts = make_timeseries("count", MINUTE, string_length=10)
    ts.insert("short", 1, timestamp=0)
    wide = Timeseries(ts.db, type="count", intervals=MINUTE, table_name=ts.table.name,
                      string_length=100)
    with pytest.raises(InvalidValue):
        wide.bulk_insert({0: {"x" * 60: [1], "short": [1]}})
    assert ts.get("short", "minute", timestamp=0) == {0: 1}
    assert sorted(numbered(ts)) == ["short"]


def test_a_batch_the_database_refuses_after_numbering_leaves_nothing(make_timeseries, backend):
    """A real refusal (a total past BIGINT on the server engines), not a patched one."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite keeps a total past 64 bits as a float")
    ts = make_timeseries("count", MINUTE, value_type="int")
    ts.insert("old", 2 ** 63 - 1, timestamp=0)
    with pytest.raises(InvalidValue):
        ts.bulk_insert({0: {"old": [1], "brand.new": [1]}})
    assert sorted(numbered(ts)) == ["old"]
    ts.bulk_insert({0: {"brand.new": [3]}})
    other = Timeseries(ts.db, type="count", intervals=MINUTE, table_name=ts.table.name,
                       value_type="int")
    assert other.get("brand.new", "minute", timestamp=0) == {0: 3}
    assert other.get("old", "minute", timestamp=0) == {0: 2 ** 63 - 1}


def test_a_retried_batch_id_is_applied_once_by_any_writer(make_timeseries):
    ts = make_timeseries("count", MINUTE)
    batch = {0: {"r.one": [1], "r.two": [2]}}
    ts.bulk_insert(batch, batch_id="b-1", now=100)
    ts.bulk_insert(batch, batch_id="b-1", now=100)
    other = Timeseries(ts.db, type="count", intervals=MINUTE, table_name=ts.table.name)
    other.bulk_insert(batch, batch_id="b-1", now=100)  # knows no id: marker first
    other.bulk_insert({0: {"r.one": [5]}}, batch_id="b-2", now=100)
    assert ts.get("r.one", "minute", timestamp=0) == {0: 6}
    assert ts.get("r.two", "minute", timestamp=0) == {0: 2}


def test_expire_and_delete_all_then_writes(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60, "steps": 2}})
    ts.bulk_insert({0: {"e.a": [1], "e.b": [1]}, 600: {"e.a": [2], "e.b": [2]}}, now=600)
    ts.expire("e.a", now=600)
    assert ts.properties("e.a") == {"minute": {"first": 600, "last": 600}}
    assert ts.properties("e.b") == {"minute": {"first": 0, "last": 600}}
    ts.expire_all(now=600)
    assert ts.properties("e.b") == {"minute": {"first": 600, "last": 600}}
    ts.delete_all()
    assert ts.list() == []
    fresh = Timeseries(ts.db, type="count", intervals={"minute": {"step": 60}},
                       table_name=ts.table.name)
    fresh.bulk_insert({660: {"e.b": [4], "e.c": [1]}})
    ts.bulk_insert({660: {"e.a": [7], "e.b": [1]}})
    assert ts.list() == ["e.a", "e.b", "e.c"]
    assert fresh.get("e.b", "minute", timestamp=660) == {660: 5}


def test_series_of_many_names_and_histograms_read_by_name(make_timeseries):
    ts = make_timeseries("histogram", MINUTE)
    names = ["h.%04d" % i for i in range(1200)]  # past LOOKUP_CHUNK
    ts.bulk_insert({0: {name: [i % 3, i % 3, 7] for i, name in enumerate(names)}})
    many = ts.series_many(names, "minute", start=0, end=0)
    assert many[1001] == {0: {1001 % 3: 2, 7: 1}}
    assert len(ts.list()) == 1200


def test_a_table_made_by_another_writer_between_the_check_and_the_create_is_adopted(
        make_timeseries):
    """Writer P (no layout option) finds no table; writer Q (layout='name') makes it before
    P's CREATE ... IF NOT EXISTS, which then does nothing. P must not write ids into Q's
    name column (on SQLite they land as names '1', '2'...)."""
    by_name = make_timeseries("count", MINUTE, layout="name")
    table = by_name.table.name
    default = Timeseries(by_name.db, type="count", intervals=MINUTE, table_name=table)
    looked = default._existing_row_key

    def raced():
        found = looked()
        if found is None:  # the other writer creates the table now, once
            by_name.insert("q.stat", 1, timestamp=0)
        return found
    default._existing_row_key = raced
    with contextlib.suppress(ConfigError, BackendError):  # refusing is fine, not the wrong layout
        default.insert("p.stat", 2, timestamp=0)
    del default._existing_row_key
    assert sorted(by_name.list()) in (["p.stat", "q.stat"], ["q.stat"])
    reader = Timeseries(by_name.db, type="count", intervals=MINUTE, table_name=table)
    assert reader.get("q.stat", "minute", timestamp=0) == {0: 1}
    if default.ids is not None:
        default.ids.drop(default.db, checkfirst=True)


@pytest.mark.parametrize("kind", ["count", "gauge", "histogram", "series", "set"])
def test_a_reader_without_layout_reads_an_old_name_keyed_table(make_timeseries, kind):
    """What torus does with a table an older version made: no layout option, every read."""
    old = make_timeseries(kind, MINUTE, layout="name")
    names = ["o.%02d" % i for i in range(30)]
    old.bulk_insert({0: {name: [i] for i, name in enumerate(names)}, 60: {"o.01": [5]}})

    def fetch(conn, table, name, interval, first, end):
        query = sa.select(table.c.i_time).where(table.c.name == name,
                                                table.c.interval == interval)
        return {row[0]: {None: 1} for row in conn.execute(query)}
    reader = Timeseries(old.db, type=kind, intervals=MINUTE, table_name=old.table.name)
    many = reader.series_many(names, "minute", start=0, end=60)
    assert many == [old.series(name, "minute", start=0, end=60) for name in names]
    assert reader.row_key == "name" and reader.ids is None
    assert reader.properties("o.01") == {"minute": {"first": 0, "last": 60}}
    assert reader.list() == names
    if kind in ("count", "gauge"):
        assert list(reader.series("o.01", "minute", start=0, end=60, fetch=fetch)) == [0, 60]
