"""SQL customised reads: ``fetch(connection, table, name, interval, i_start, i_end)``."""
import pytest
import sqlalchemy as sa

from tests.functional.conftest import SQL_BACKENDS

HOUR_BY_MINUTE = {"hour": {"step": 3600, "resolution": 60}}


@pytest.fixture(params=SQL_BACKENDS)
def backend(request):
    """Only the SQL engines (overrides the all-backend parameter of make_timeseries)."""
    return request.param


def test_fetch_gets_the_seed_signature_and_its_result_feeds_the_pipeline(make_timeseries):
    ts = make_timeseries("histogram", HOUR_BY_MINUTE, read_func=float)
    ts.bulk_insert({60: {"a": [1, 1, 5]}, 120: {"a": [2]}, 7300: {"a": [3, 3]}, 90: {"b": [9]}})
    calls = []

    def total_per_bucket(connection, table, name, interval, i_start, i_end):
        """Sum the occurrences in the database instead of reading every value."""
        calls.append((type(connection), table, name, interval, i_start, i_end))
        c = table.c
        where = [c.name == name, c.interval == interval]
        where += [c.i_time >= i_start, c.i_time <= i_end] if i_end is not None else [c.i_time == i_start]
        query = (sa.select(c.i_time, c.r_time, sa.func.sum(c["count"]))
                 .where(*where).group_by(c.i_time, c.r_time))
        out = {}
        for i_time, r_time, total in connection.execute(query):
            out.setdefault(i_time, {})[None if r_time == -1 else r_time] = int(total)
        return out

    reads = dict(fetch=total_per_bucket, process_row=lambda total: total,
                 condense=lambda rows: sum(rows.values()))
    assert ts.get("a", "hour", timestamp=0, fetch=total_per_bucket, process_row=int) == {
        60: 3, 120: 1}
    assert ts.series("a", "hour", start=0, end=7200, **reads) == {0: 4, 3600: 0, 7200: 2}
    assert ts.series("a", "hour", start=0, end=7200, collapse=True, **reads) == {0: 6}
    assert ts.series(["a", "b"], "hour", start=0, end=0, join_rows=sum, **reads) == {0: 5}
    assert calls[0] == (sa.engine.Connection, ts.table, "a", "hour", 0, None)     # get: one key
    assert calls[1] == (sa.engine.Connection, ts.table, "a", "hour", 0, 2)        # series: range
    assert calls[-1][2:] == ("b", "hour", 0, None)


def test_fetch_returning_nothing_reads_as_empty(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60}}, read_func=float)
    ts.insert("a", 5, timestamp=0)
    assert ts.series("a", "minute", start=0, end=60, fetch=lambda *args: None) == {0: 0, 60: 0}
