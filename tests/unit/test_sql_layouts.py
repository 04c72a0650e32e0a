"""How each type's buckets live in a SQL table (pure: tables and statements compiled, no
database). The real round trips are the SQL contract suite's."""
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from kairos.backends.sql_layouts import layout_for
from kairos.backends.sql_tables import common_columns
from kairos.exceptions import ConfigError

COMMON = ["name", "interval", "i_time", "r_time"]


def table(type_name, column_type=None):
    return layout_for(type_name).table(sa.MetaData(), "t", common_columns(255),
                                       column_type if column_type is not None else sa.Double())


@pytest.mark.parametrize("type_name, columns, key, rowid", [
    ("series", ["id"] + COMMON + ["value"], ["id"], True),
    ("histogram", COMMON + ["value", "count"], COMMON + ["value"], False),
    ("count", COMMON + ["value"], COMMON, False),
    ("gauge", COMMON + ["value"], COMMON, False),
    ("set", COMMON + ["value"], COMMON + ["value"], False),
])
def test_tables_per_type(type_name, columns, key, rowid):
    t = table(type_name)
    assert [c.name for c in t.columns] == columns
    assert [c.name for c in t.primary_key.columns] == key
    assert t.dialect_options["sqlite"]["with_rowid"] is rowid


def compiled(type_name, dialect_name, dialect, upsert=True):
    t = table(type_name)
    return str(layout_for(type_name).statement(dialect_name, t, upsert).compile(dialect=dialect))


def test_sqlite_upserts_merge_per_type():
    conflict = " ON CONFLICT (name, interval, i_time, r_time%s) DO "
    assert compiled("count", "sqlite", sqlite.dialect()).endswith(
        conflict % "" + "UPDATE SET value = (t.value + excluded.value)")
    assert compiled("gauge", "sqlite", sqlite.dialect()).endswith(
        conflict % "" + "UPDATE SET value = excluded.value")
    assert compiled("histogram", "sqlite", sqlite.dialect()).endswith(
        conflict % ", value" + 'UPDATE SET count = (t.count + excluded.count)')
    assert compiled("set", "sqlite", sqlite.dialect()).endswith(conflict % ", value" + "NOTHING")
    assert "ON CONFLICT" not in compiled("series", "sqlite", sqlite.dialect())


def test_mysql_keeps_a_set_row_with_an_update_that_changes_nothing():
    assert compiled("set", "mysql", mysql.dialect()).endswith(
        "ON DUPLICATE KEY UPDATE value = t.value")


def test_without_upserts_only_series_has_one_statement():
    assert [t for t in ("series", "histogram", "count", "gauge", "set")
            if layout_for(t).statement("other", table(t), False) is not None] == ["series"]


def rows(type_name, data):
    layout = layout_for(type_name)
    return [dict(zip(layout.columns, row)) for row in layout.rows([("a", "minute", 2, -1, data)])]


def test_rows_per_type():
    key = {"name": "a", "interval": "minute", "i_time": 2, "r_time": -1}
    assert rows("count", 5) == [dict(key, value=5)]
    assert rows("series", [3, 1]) == [dict(key, value=3), dict(key, value=1)]
    assert rows("set", {3, 1}) == [dict(key, value=1), dict(key, value=3)]
    assert rows("histogram", {3: 2, 1: 1}) == [dict(key, value=1, count=1),
                                               dict(key, value=3, count=2)]


def test_read_rows_fill_their_names_buckets():
    def fill(type_name, selected):
        out = {"a": {}, "b": {}}
        layout_for(type_name).fill(out, selected)
        return out
    assert fill("gauge", [("a", 1, -1, 4), ("b", 1, 60, 5)]) == {"a": {1: {None: 4}},
                                                                 "b": {1: {60: 5}}}
    assert fill("series", [("a", 1, -1, 3), ("a", 1, -1, 1)]) == {"a": {1: {None: [3, 1]}}, "b": {}}
    assert fill("histogram", [("a", 1, 60, 1.5, 2)]) == {"a": {1: {60: {1.5: 2}}}, "b": {}}


def test_value_types_each_type_refuses():
    with pytest.raises(ConfigError, match="a count needs a numeric value_type, not 'string'"):
        layout_for("count").check_value_type("string", sa.String(9), "sqlite")
    for type_name in ("histogram", "set"):
        layout_for(type_name).check_value_type("text", sa.Text(), "sqlite")
        with pytest.raises(ConfigError, match="a MySQL %s keys rows by value" % type_name):
            layout_for(type_name).check_value_type("text", sa.Text(), "mariadb")
    layout_for("series").check_value_type("text", sa.Text(), "mysql")
