"""SQLite rows written as INSERTs of a power of two of rows each (``sql_values``)."""
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.backends.sql_values import MOST_ROWS, ManyRows, split_values

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
