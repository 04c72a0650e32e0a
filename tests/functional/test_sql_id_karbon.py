"""karbon end to end on SQL tables with and without ``layout='id'`` (a second reader's checks)."""
import textwrap

import pytest

from kairos import Timeseries
from kairos.backends import sql_engine
from tests.conftest import require
from tests.functional import test_karbon
from tests.functional.test_karbon import BASE_TS, send, wait_until
from torus.config import Configuration

start_karbon = test_karbon.start_karbon  # the fixture, shared


def test_karbon_without_layout_keeps_writing_an_old_name_keyed_sqlite_table(
        tmp_path, start_karbon, unique_name):
    url = "sqlite:///%s" % (tmp_path / "old.db")
    table = "%s_g" % unique_name
    old = Timeseries(sql_engine.create(url, {}), type="gauge", layout="name", table_name=table,
                     intervals={"10s": {"step": 10}})
    old.insert("g.old", 1.5, timestamp=BASE_TS)
    karbon = start_karbon(textwrap.dedent("""
        SCHEMAS = {'gauges': {'type': 'gauge', 'host': %r, 'match': r'^g\\.',
                              'table_name': %r, 'intervals': {'10s': {'step': 10}}}}
        """) % (url, table))
    send(karbon.port, b"g.old 2.5 %d\ng.new 7 %d\n" % (BASE_TS + 10, BASE_TS))
    assert karbon.stop() == 0
    reader = Configuration([str(karbon.config)]).schemas["gauges"].timeseries
    assert reader.get("g.new", "10s", timestamp=BASE_TS) == {BASE_TS: 7}
    assert reader.series("g.old", "10s", start=BASE_TS, end=BASE_TS + 10) == {
        BASE_TS: 1.5, BASE_TS + 10: 2.5}
    assert reader.row_key == "name"
    assert old.list() == ["g.new", "g.old"]


@pytest.mark.parametrize("layout", ["name", "id"])
def test_karbon_isolates_a_name_longer_than_a_mysql_tables_column(tmp_path, start_karbon,
                                                                  unique_name, layout):
    """The table was made with string_length=10; karbon's configuration says 100. The long
    name is refused alone (halving), the rest of its batch lands, nothing dead-lettered."""
    url = require("mysql")
    engine = sql_engine.create(url, {})
    table = "%s_c" % unique_name
    made = Timeseries(engine, type="count", table_name=table, string_length=10, layout=layout,
                      intervals={"10s": {"step": 10}})
    made.insert("c.short", 1, timestamp=BASE_TS)
    letters = tmp_path / "letters"
    try:
        karbon = start_karbon(textwrap.dedent("""
            SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'match': r'^c\\.',
                                  'table_name': %r, 'string_length': 100,
                                  'intervals': {'10s': {'step': 10}}}}
            """) % (url, table), "--dead-letter", str(letters), "--retry-delays", "0.1,0.1")
        lines = b"".join(b"c.n%d 1 %d\n" % (i, BASE_TS) for i in range(8))
        send(karbon.port, lines + b"c." + b"x" * 40 + b" 1 %d\n" % BASE_TS)
        try:
            wait_until(lambda: made.get("c.n7", "10s", timestamp=BASE_TS) == {BASE_TS: 1},
                       "the batch's other points")
        except AssertionError:
            raise AssertionError(karbon.output()[-1500:]) from None
        assert karbon.stop() == 0
        assert not (letters / "counts.carbon").exists()
    finally:
        made.table.drop(engine, checkfirst=True)
        made.names.drop(engine, checkfirst=True)
        if made.ids is not None:
            made.ids.drop(engine, checkfirst=True)
