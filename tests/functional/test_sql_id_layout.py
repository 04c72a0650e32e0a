"""SQL ``layout='id'``: rows keyed by the name's number in ``{table}_ids``.

The contract suite runs on it whole (the ``*-id`` backends); these tests hold what is
its own: what the tables hold, a table of the other layout refused, numbering by
concurrent writers, ids of a rolled-back batch never remembered, and deletes.
"""
import threading

import pytest
import sqlalchemy as sa

from kairos import Timeseries
from kairos.exceptions import ConfigError, InvalidValue
from tests.functional.conftest import SQL_ID_BACKENDS

MINUTE = {"minute": {"step": 60}}


@pytest.fixture(params=SQL_ID_BACKENDS)
def backend(request):
    """Only the SQL engines with layout='id' (overrides make_timeseries' parameter)."""
    return request.param


def numbered(ts):
    """{id: name} of the timeseries' ids table."""
    with ts.db.connect() as conn:
        return dict(conn.execute(sa.select(ts.ids.c.id, ts.ids.c.name)).fetchall())


def keys(ts):
    with ts.db.connect() as conn:
        return sorted({row[0] for row in conn.execute(sa.select(ts.table.c.name))})


def test_rows_hold_ids_and_the_ids_table_the_names(make_timeseries):
    ts = make_timeseries("count", MINUTE)
    ts.bulk_insert({0: {"b.x": [1], "a.y": [2]}, 60: {"b.x": [3]}})
    names = numbered(ts)
    assert sorted(names.values()) == ["a.y", "b.x"]
    assert keys(ts) == sorted(names)  # integers, one per name
    assert isinstance(sa.inspect(ts.db).get_columns(ts.table.name)[0]["type"], sa.Integer)
    assert ts.series("b.x", "minute", start=0, end=60) == {0: 1, 60: 3}
    assert ts.list() == ["a.y", "b.x"]


def test_sqlite_numbers_new_names_in_the_batch_order_and_servers_sorted(make_timeseries):
    """SQLite writes one transaction at a time: a flush's names, numbered as they come, come
    in the order of their ids next time (its rows sort in linear time). Writers of a server
    number them sorted, so two of them lock the new names in one order."""
    ts = make_timeseries("gauge", MINUTE)
    ts.bulk_insert({0: {"m.c": 1, "m.a": 2, "m.b": 3}})
    ts.bulk_insert({60: {"m.e": 1, "m.d": 2, "m.a": 3}})
    by_id = [name for _, name in sorted(numbered(ts).items())]
    if ts.db.dialect.name == "sqlite":
        assert by_id == ["m.c", "m.a", "m.b", "m.e", "m.d"]
    else:
        assert by_id == ["m.a", "m.b", "m.c", "m.d", "m.e"]
    assert ts.series("m.a", "minute", start=0, end=60) == {0: 2, 60: 3}


def test_rows_of_known_names_are_made_before_the_transaction(make_timeseries):
    """A batch whose names all have ids builds its rows before it takes a connection (on
    SQLite: out of the write lock other writers wait for); one with a new name builds
    them in the transaction, once the name is numbered."""
    ts = make_timeseries("count", MINUTE)
    connections = []
    build = ts._rows

    def watched(batch, ids=None):
        connections.append(ts.db.pool.checkedout())
        return build(batch, ids)
    ts._rows = watched
    ts.bulk_insert({0: {"a": [1], "b": [2]}})
    ts.bulk_insert({60: {"a": [3], "b": [4]}})
    ts.bulk_insert({60: {"a": [5], "c": [6]}})
    assert connections == [1, 0, 1]
    assert ts.series("a", "minute", start=0, end=60) == {0: 1, 60: 8}
    assert ts.series("c", "minute", start=0, end=60) == {0: 0, 60: 6}


def test_a_new_table_is_keyed_by_id_and_a_table_keeps_its_layout(make_timeseries):
    by_id = make_timeseries("gauge", MINUTE)
    by_id.insert("a", 1, timestamp=0)
    fresh = Timeseries(by_id.db, type="gauge", intervals=MINUTE,
                       table_name=by_id.table.name + "_d")
    try:
        fresh.insert("a", 1, timestamp=0)  # no layout option: a new table is keyed by id
        assert fresh.row_key == "id" and numbered(fresh) == {1: "a"}
    finally:
        for table in (fresh.table, fresh.names, fresh.ids):
            table.drop(fresh.db, checkfirst=True)
    by_name = Timeseries(by_id.db, type="gauge", intervals=MINUTE, table_name=by_id.table.name,
                         layout="name")
    with pytest.raises(ConfigError, match=r"keyed by name id \(layout='id'\).*layout='name'"):
        by_name.insert("a", 2, timestamp=0)
    plain = Timeseries(by_id.db, type="gauge", intervals=MINUTE, layout="name",
                       table_name=by_id.table.name + "_n")
    plain.insert("a", 1, timestamp=0)
    try:
        numbering = Timeseries(by_id.db, type="gauge", intervals=MINUTE, layout="id",
                               table_name=plain.table.name)
        with pytest.raises(ConfigError, match="another table_name and copy the data over with migrate"):
            numbering.get("a", "minute", timestamp=0)
        adopting = Timeseries(by_id.db, type="gauge", intervals=MINUTE,
                              table_name=plain.table.name)  # no option: the table's layout
        adopting.insert("b", 2, timestamp=0)
        assert adopting.row_key == "name" and adopting.ids is None
        assert plain.list() == ["a", "b"]
        assert adopting.get("a", "minute", timestamp=0) == {0: 1}
    finally:
        plain.table.drop(plain.db, checkfirst=True)
        plain.names.drop(plain.db, checkfirst=True)
    assert by_id.get("a", "minute", timestamp=0) == {0: 1}  # nothing written by the refused ones


def test_a_bad_layout_is_a_config_error(make_timeseries):
    with pytest.raises(ConfigError, match="layout must be one of 'name', 'id', not 'hash'"):
        make_timeseries("count", MINUTE, layout="hash")


def test_two_writers_numbering_the_same_new_names_share_their_ids(make_timeseries, backend):
    first = make_timeseries("count", MINUTE)
    second = Timeseries(first.db, type="count", intervals=MINUTE, layout="id",
                        table_name=first.table.name)
    names = ["stat.%03d" % i for i in range(300)]
    errors = []

    def write(ts, stamp):
        try:
            for step in range(5):
                ts.bulk_insert({stamp + step: {name: [1] for name in names}})
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
    if backend == "sqlite-file-id":  # one writer at a time on a file: take turns
        write(first, 0)
        write(second, 10)
    else:
        threads = [threading.Thread(target=write, args=(ts, stamp))
                   for ts, stamp in ((first, 0), (second, 10))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sorted(numbered(first).values()) == names  # one id each
    assert first.get("stat.123", "minute", timestamp=0) == {0: 10}
    assert second.get("stat.299", "minute", timestamp=0) == {0: 10}


def test_ids_of_a_batch_rolled_back_are_not_remembered(make_timeseries, monkeypatch):
    ts = make_timeseries("gauge", MINUTE)

    def refuse(conn, statement, rows):  # the database refuses the rows after the numbering
        raise sa.exc.DataError("INSERT", {}, Exception("value out of range"))
    with monkeypatch.context() as patched:
        patched.setattr(ts, "_executemany", refuse)
        with pytest.raises(InvalidValue):  # the whole transaction rolled back
            ts.bulk_insert({0: {"new.one": [1], "new.two": [2]}})
    assert numbered(ts) == {}
    other = Timeseries(ts.db, type="gauge", intervals=MINUTE, layout="id",
                       table_name=ts.table.name)
    other.bulk_insert({0: {"zzz": [3]}})  # takes the id the rolled-back batch had used
    ts.bulk_insert({0: {"new.one": [1], "new.two": [2]}})
    assert ts.get("new.one", "minute", timestamp=0) == {0: 1}
    assert ts.get("zzz", "minute", timestamp=0) == {0: 3}
    assert sorted(numbered(ts).values()) == ["new.one", "new.two", "zzz"]


def test_a_deleted_name_keeps_its_id_and_comes_back_empty(make_timeseries):
    ts = make_timeseries("count", MINUTE)
    ts.bulk_insert({0: {"a": [5], "b": [1]}})
    before = numbered(ts)
    ts.delete("a")
    assert ts.list() == ["b"]
    assert ts.get("a", "minute", timestamp=0) == {0: 0}
    ts.bulk_insert({60: {"a": [2]}})  # the id this writer remembers is still the name's
    assert numbered(ts) == before
    assert ts.series("a", "minute", start=0, end=60) == {0: 0, 60: 2}
    ts.delete_all()
    assert ts.list() == []


def test_a_custom_fetch_reads_rows_by_name(make_timeseries):
    def fetch(conn, table, name, interval, first, end):
        query = sa.select(table.c.i_time, table.c.value).where(
            table.c.name == name, table.c.interval == interval, table.c.i_time >= first)
        return {i_time: {None: value} for i_time, value in conn.execute(query)}
    ts = make_timeseries("gauge", MINUTE)
    ts.bulk_insert({0: {"a": [1.5]}, 60: {"a": [2.5], "b": [9]}})
    assert ts.series("a", "minute", start=0, end=60, fetch=fetch) == {0: 1.5, 60: 2.5}


@pytest.mark.parametrize("type_", ["count", "gauge", "series"])
def test_a_reader_of_another_process_finds_ids_as_they_are_numbered(make_timeseries, type_):
    """Reads look each name's id up (then remember it) instead of joining every row to its
    name: a reader that is not the writer (torus beside karbon) sees names numbered after
    its first read, and a name asked before it was written is not remembered as absent."""
    writer = make_timeseries(type_, MINUTE, read_func=float)
    reader = Timeseries(writer.db, type=type_, intervals=MINUTE, table_name=writer.table.name,
                        read_func=float)
    expected = {"count": 1.0, "gauge": 1.0, "series": [1.0]}[type_]
    empty = reader.get("never", "minute", timestamp=0)
    writer.bulk_insert({0: {"a": [1]}})
    assert reader.get("a", "minute", timestamp=0) == {0: expected}
    assert reader.get("later", "minute", timestamp=0) == empty
    writer.bulk_insert({0: {"later": [1], "b": [1]}})  # numbered after the reader's first reads
    for name in ("later", "b", "a"):
        assert reader.get(name, "minute", timestamp=0) == {0: expected}
    if type_ != "series":  # counts and gauges: the flat read of points_list
        assert reader.points_list(["later", "nope", "a"], "minute", 0, 60) == {
            "later": [1.0], "nope": [None], "a": [1.0]}


def test_a_read_that_fills_the_memory_of_ids_still_finds_every_name(make_timeseries, monkeypatch):
    """Found by a second reader: starting the memory over in the middle of a read dropped
    the ids of the names it had asked and already remembered, and they read as empty."""
    from kairos.backends import sql_ids
    monkeypatch.setattr(sql_ids, "MEMORY", 3)
    writer = make_timeseries("count", MINUTE, read_func=float)
    writer.bulk_insert({0: {name: [1] for name in "abcd"}})
    reader = Timeseries(writer.db, type="count", intervals=MINUTE, table_name=writer.table.name,
                        read_func=float)
    reader.get("a", "minute", timestamp=0)
    reader.get("b", "minute", timestamp=0)  # a and b remembered
    assert [reader.get(name, "minute", timestamp=0) for name in "abcd"] == [{0: 1.0}] * 4
    assert reader.series_many(list("abcd"), "minute", start=0, end=0) == [{0: 1.0}] * 4
    assert reader.points_list(list("dcba"), "minute", 0, 60) == {name: [1.0] for name in "abcd"}


def test_ids_read_on_a_shared_memory_connection_are_not_remembered(monkeypatch):
    """Found by a second reader: on SQLite ``:memory:`` every caller shares one connection,
    so a read could see (and keep) the id of a name another thread's transaction numbered
    and then rolled back; the id went to the next new name, and the first read its rows."""
    ts = Timeseries("sqlite://", type="count", intervals=MINUTE, read_func=float)
    ts.bulk_insert({0: {"a": [1]}})
    seen = {}
    real_rows = ts._rows

    def fail_after_numbering(batch, ids=None):
        if ids is not None and "ghost" in ids and not seen:
            seen.update(ts._name_ids.existing(ts.db.connect(), ["ghost"]))  # a read meanwhile
            raise InvalidValue("refused after numbering")
        return real_rows(batch, ids)
    monkeypatch.setattr(ts, "_rows", fail_after_numbering)
    with pytest.raises(InvalidValue):
        ts.bulk_insert({0: {"ghost": [5]}})
    assert "ghost" in seen  # the read did see the uncommitted id
    ts.bulk_insert({0: {"other": [42]}})  # the rolled-back id given again
    assert ts.get("ghost", "minute", timestamp=0) == {0: 0}
    assert ts.get("other", "minute", timestamp=0) == {0: 42.0}
