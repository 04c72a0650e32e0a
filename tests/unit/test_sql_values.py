"""SQLite rows written as INSERTs of a power of two of rows each, and a scalar batch's slots
grouped so each is bound once (``sql_values``)."""
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.backends.sql_values import (GROUPED_ROWS, MOST_ROWS, MOST_SLOTS, ManyRows,
                                        SlotGroups, split_values)

UPSERT = ('INSERT INTO t (name, interval, i_time, r_time, value) VALUES (?, ?, ?, ?, ?) '
          'ON CONFLICT (name, interval, i_time, r_time) DO UPDATE SET value = excluded.value')


def test_the_values_group_is_found_between_what_comes_before_and_after():
    assert split_values(UPSERT) == (
        "INSERT INTO t (name, interval, i_time, r_time, value)", "(?, ?, ?, ?, ?)",
        " ON CONFLICT (name, interval, i_time, r_time) DO UPDATE SET value = excluded.value")


@given(st.integers(min_value=0, max_value=3 * MOST_ROWS + 100))
def test_every_row_is_written_once_in_order_a_power_of_two_at_a_time(count):
    rows = [(i, "m", i * 7, -1, i / 2) for i in range(count)]
    out = list(ManyRows(UPSERT, 5, 250000).statements(rows))
    sizes = [text.count("(?, ?, ?, ?, ?)") for text, _ in out]
    assert all(size & (size - 1) == 0 and size <= MOST_ROWS for size in sizes)
    assert [len(parameters) for _, parameters in out] == [5 * size for size in sizes]
    assert [value for _, parameters in out for value in parameters] == [
        value for row in rows for value in row]
    assert sorted(sizes, reverse=True) == sizes  # full statements first, then the binary digits


def test_a_batch_of_any_length_uses_one_of_thirteen_statements():
    many = ManyRows(UPSERT, 5, 250000)
    for count in range(1, 9000, 7):
        for _ in many.statements([(0, "m", 0, -1, 0.0)] * count):
            pass
    assert len(many._built) <= MOST_ROWS.bit_length()


@pytest.mark.parametrize("limit, rows_each", [(999, 128), (32766, 4096), (10, 2), (4, 1)])
def test_a_statement_takes_no_more_parameters_than_sqlite_allows(limit, rows_each):
    assert ManyRows(UPSERT, 5, limit).rows_each == rows_each


def test_the_statements_upsert_rows_in_sqlite_within_a_low_parameter_limit():
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    conn.execute("CREATE TABLE t (name INTEGER, interval TEXT, i_time INTEGER, r_time INTEGER, "
                 "value REAL, PRIMARY KEY (name, interval, i_time, r_time)) WITHOUT ROWID")
    many = ManyRows(UPSERT, 5, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    for value in (1.0, 2.5):  # the second batch updates every row
        for text, parameters in many.statements([(i, "m", 60, -1, value * i) for i in range(1000)]):
            conn.execute(text, parameters)
    assert conn.execute("SELECT count(*), sum(value) FROM t").fetchone() == (1000, 2.5 * 499500)


SUM = ('INSERT INTO t (name, interval, i_time, r_time, value) VALUES (?, ?, ?, ?, ?) '
       'ON CONFLICT (name, interval, i_time, r_time) DO UPDATE SET value = t.value + excluded.value')


def _table(limit=None):
    conn = sqlite3.connect(":memory:")
    if limit:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    conn.execute("CREATE TABLE t (name INTEGER, interval TEXT, i_time INTEGER, r_time INTEGER, "
                 "value REAL, PRIMARY KEY (name, interval, i_time, r_time)) WITHOUT ROWID")
    return conn


def _write(conn, slots):
    many = ManyRows(SUM, 5, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    statements = list(many.grouped_statements(SlotGroups(slots)))
    for text, parameters in statements:
        conn.execute(text, parameters)
    return many, statements


def _rows_of(slots):
    return sorted((key, *slot, value) for slot, keys, values in slots
                  for key, value in zip(keys, values))


# slots as a batch has them: a time and a list of keys each, any order, any overlap
_SLOTS = st.lists(st.tuples(st.sampled_from(["10s", "1m"]), st.integers(0, 5),
                            st.lists(st.integers(0, 60), unique=True)),
                  unique_by=lambda slot: slot[:2], max_size=7)


@given(_SLOTS)
def test_every_row_of_every_slot_is_written_once(drawn):
    slots = [((interval, stamp, -1), keys, [float(k * 10 + stamp) for k in keys])
             for interval, stamp, keys in drawn]
    groups = SlotGroups(slots)
    assert sorted(groups) == _rows_of(slots) and len(groups) == len(_rows_of(slots))
    conn = _table()
    _write(conn, slots)
    _write(conn, slots)  # again: the upsert adds every value once more
    assert conn.execute("SELECT * FROM t ORDER BY 1, 2, 3, 4").fetchall() == [
        (key, interval, stamp, r_time, 2 * value)
        for key, interval, stamp, r_time, value in _rows_of(slots)]


def test_runs_of_one_list_of_keys_are_written_in_one_pass_in_key_order():
    # a flush's names, in the order of their ids: its minute and one 10 s slot whole, the
    # batch's first and last 10 s slots each a run of them, given out of order
    keys = list(range(1, 5001))
    slots = [(("10s", 0, -1), keys[3000:][::-1], [1.0] * 2000),
             (("1m", 0, -1), keys, [2.0] * 5000),
             (("10s", 10, -1), keys, [3.0] * 5000),
             (("10s", 20, -1), keys[:1200], [4.0] * 1200)]
    _, statements = _write(_table(), slots)
    names = [key for text, parameters in statements for key in _keys(text, parameters)]
    assert names == sorted(names)  # one pass over the table, in key order
    assert len(names) == 5000


def _keys(text, parameters):
    """The keys a grouped statement binds, in order: ?N of the first column of each row."""
    keys = []
    for group in text.split(" VALUES ")[1].split(" ON CONFLICT")[0].split("),("):
        number = int(group.lstrip("(").split(",")[0].strip().lstrip("?"))
        key = parameters[number - 1]
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


@pytest.mark.parametrize("limit", [999, 32766, 40])
def test_grouped_statements_stay_within_rows_and_parameters_and_few_shapes(limit):
    conn = _table(limit)
    many = ManyRows(SUM, 5, limit)
    for count in (1, 7, 100, 1500, 4999):
        keys = list(range(count))
        for slots_each in range(1, 8):
            slots = [(("10s", k, -1), keys, [float(k)] * count) for k in range(slots_each)]
            for text, parameters in many.grouped_statements(SlotGroups(slots)):
                rows = text.count("),(") + 1
                assert len(parameters) <= limit and rows <= GROUPED_ROWS
                conn.execute(text, parameters)
        assert conn.execute("SELECT count(*) FROM t WHERE name < ?", (count,)).fetchone()[0] == (
            7 * count)
    # every shape a power of two of names, in 1 to MOST_SLOTS slots
    assert all(names & (names - 1) == 0 for _, names in many._grouped)
    assert {slots for slots, _ in many._grouped} == set(range(1, MOST_SLOTS + 1))


def test_grouping_is_left_out_where_it_would_take_many_more_statements():
    many = ManyRows(SUM, 5, 32766)
    whole = list(range(3020))
    flush = [(("1h", 0, -1), whole, [1.0] * 3020), (("10s", 0, -1), whole, [2.0] * 3020)]
    assert many.pays_to_group(SlotGroups(flush))
    # 3,000 short runs, each shifted by one name: thousands of small pieces
    staggered = flush[:1] + [(("10s", k, -1), whole[k:k + 20], [1.0] * 20) for k in range(3000)]
    groups = SlotGroups(staggered)
    assert len(list(many.grouped_statements(groups))) > 1000
    assert not many.pays_to_group(groups)


def test_slots_that_are_no_run_of_the_widest_are_written_apart_with_their_equals():
    slots = [(("10s", 0, -1), [1, 2, 3, 4], [1.0] * 4),
             (("10s", 10, -1), [1, 3], [2.0, 2.0]),  # not a run of 1..4
             (("1m", 0, -1), [3, 1], [3.0, 3.0])]   # the same keys, out of order
    groups = SlotGroups(slots)
    assert [(slots_each, flat) for _, flat, slots_each in groups.groups] == [
        (1, [1, 1.0, 2, 1.0, 3, 1.0, 4, 1.0]), (2, [1, 2.0, 3.0, 3, 2.0, 3.0])]
