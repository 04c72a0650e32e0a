"""What the Cassandra engine sends: CQL text and bound parameters for every type (pure, no server).

``prepare_offline`` builds a real driver ``PreparedStatement`` from our CQL, with the
column types our CREATE TABLE declares, the way a server's PREPARE answer would:
binding our parameters then runs the driver's own serializers, so a parameter of
the wrong type for its column fails here. That a server accepts the CQL itself is
proved only by the shared contract suite with TEST_CASSANDRA_HOSTS set.
"""
import decimal
import hashlib
import re
import uuid

import pytest
from cassandra import cqltypes
from cassandra.protocol import ColumnMetadata
from cassandra.query import PreparedStatement

from kairos.backends import cassandra_cql as cql
from kairos.backends import cassandra_layouts
from kairos.exceptions import ConfigError, InvalidValue
from kairos.intervals import parse_intervals

TYPES = ("count", "histogram", "series", "set", "gauge")
INTERVALS = parse_intervals({
    "minute": {"step": 60},
    "hour": {"step": 3600, "steps": 24},
    "day": {"step": "daily", "resolution": 3600, "steps": 7},
    "forever": {"step": "yearly", "steps": 100},
})
PROTOCOL = 4


# -- a driver PreparedStatement without a server ---------------------------------------------
def table_columns(create_table):
    """{column: CQL type} from a CREATE TABLE of ours."""
    body = create_table[create_table.index("(") + 1:create_table.index("PRIMARY KEY")]
    return dict(re.findall(r'"(\w+)" (\w+)', body))


def marker_columns(statement):
    """The column (or '[ttl]') each '?' of a statement binds, in order."""
    found = []
    insert = re.match(r"INSERT INTO \S+ \(([^)]*)\) VALUES \(([^)]*)\)", statement)
    if insert:
        columns = re.findall(r'"(\w+)"', insert.group(1))
        assert insert.group(2).count("?") == len(columns)
        found += [(insert.start(2) + i, c) for i, c in enumerate(columns)]
    for match in re.finditer(r'"(\w+)"\s*(?:=|>=|<=|<|\+)\s*\?', statement):
        found.append((match.start(), match.group(1)))
    for match in re.finditer(r"USING TTL \?", statement):
        found.append((match.start(), "[ttl]"))
    found.sort()
    assert len(found) == statement.count("?"), statement
    return [column for _, column in found]


def prepare_offline(statement, create_table, keyspace="ks", table="t"):
    columns = table_columns(create_table)
    columns["[ttl]"] = "int"
    metadata = [ColumnMetadata(keyspace, table, name, cqltypes._cqltypes[columns[name]])
                for name in marker_columns(statement)]
    query_id = hashlib.md5(statement.encode()).digest()
    return PreparedStatement(metadata, query_id, None, statement, keyspace, PROTOCOL, None, None)


def layout(type_, option=float):
    return cassandra_layouts.layout_for(type_, *cql.value_type(option))


def statements(type_, cql_type="double"):
    return cql.Statements(cassandra_layouts.layout_for(type_, cql_type, lambda v: v), "ks", "t")


# -- identifiers, value types, replication ----------------------------------------------------
def test_identifiers_are_validated_and_folded_to_lower_case():
    assert cql.identifier("Kairos_1", "keyspace") == "kairos_1"
    for bad in ("", "1abc", "a-b", "a.b", 'a"b', "x" * 49, None):
        with pytest.raises(ConfigError, match="must start with a letter"):
            cql.identifier(bad, "table_name")


@pytest.mark.parametrize("option, cql_type, value, stored", [
    (float, "double", 3, 3.0), ("float", "double", "2.5", 2.5), ("double", "double", 1, 1.0),
    (int, "bigint", 7.0, 7), ("int64", "bigint", "9", 9), ("long", "bigint", 2, 2),
    (str, "text", "x", "x"), ("unicode", "text", 5, "5"), ("clob", "text", "y", "y"),
    (bytes, "blob", "é", "é".encode()), ("blob", "blob", b"\x00", b"\x00"),
    (bool, "boolean", "yes", True), ("boolean", "boolean", 0, False),
    (decimal.Decimal, "decimal", 0.1, decimal.Decimal("0.1")),
    ("inet", "inet", "::1", "::1"), ("INET", "inet", "10.0.0.1", "10.0.0.1"),
])
def test_value_types(option, cql_type, value, stored):
    name, coerce = cql.value_type(option)
    assert name == cql_type
    assert coerce(value) == stored


@pytest.mark.parametrize("option, value", [
    (float, "abc"), (float, True), (int, 1.5), (int, 2 ** 63), (bool, "maybe"), ("inet", "nowhere"),
])
def test_bad_values_raise_invalid_value_naming_value_and_type(option, value):
    name, coerce = cql.value_type(option)
    with pytest.raises(InvalidValue, match=r"%s.*%s" % (re.escape(repr(value)), name)):
        coerce(value)


def test_unknown_value_type():
    with pytest.raises(ConfigError, match="unknown value_type 'uuid'"):
        cql.value_type("uuid")


def test_counter_increments_are_whole_numbers():
    assert cql.counter_increment(3) == 3
    assert cql.counter_increment(-2.0) == -2
    for bad in (0.25, 2.5, float("nan")):
        with pytest.raises(InvalidValue, match="whole numbers|cannot add"):
            cql.counter_increment(bad)
    for bad in (True, "1", None):
        with pytest.raises(InvalidValue, match="must be a number"):
            cql.counter_increment(bad)
    with pytest.raises(InvalidValue, match="64-bit"):
        cql.counter_increment(2 ** 64)


def test_replication_maps_and_create_keyspace():
    simple = {"class": "SimpleStrategy", "replication_factor": 1}
    assert cql.replication_map(True) == simple
    assert cql.replication_map(3) == dict(simple, replication_factor=3)
    nts = {"class": "NetworkTopologyStrategy", "dc1": 3}
    assert cql.replication_map(nts) == nts
    for bad in (False, 0, "SimpleStrategy", {"replication_factor": 1}):
        with pytest.raises(ConfigError, match="replication must be"):
            cql.replication_map(bad)
    assert cql.create_keyspace("ks", simple) == (
        "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    assert "'it''s'" in cql.create_keyspace("ks", {"class": "it's"})
    with pytest.raises(ConfigError, match="whole numbers"):
        cql.create_keyspace("ks", {"class": "X", "rf": 1.5})


# -- statements -----------------------------------------------------------------------------------
KEY = '"name" text, "interval" text, "i_time" bigint, "r_time" bigint'


@pytest.mark.parametrize("type_, columns, clustering", [
    ("count", '"value" counter', '"i_time", "r_time"'),
    ("histogram", '"value" double, "count" counter', '"i_time", "r_time", "value"'),
    ("series", '"seq" timeuuid, "value" double', '"i_time", "r_time", "seq"'),
    ("set", '"value" double', '"i_time", "r_time", "value"'),
    ("gauge", '"value" double', '"i_time", "r_time"'),
])
def test_create_table_per_type(type_, columns, clustering):
    assert statements(type_).create_table() == (
        'CREATE TABLE IF NOT EXISTS ks.t (%s, %s, PRIMARY KEY (("name", "interval"), %s))'
        % (KEY, columns, clustering))


def test_create_table_uses_the_value_type():
    assert '"value" text' in statements("set", "text").create_table()
    assert '"value" counter' in statements("count", "text").create_table()


WHERE_ROW = '"name" = ? AND "interval" = ? AND "i_time" = ? AND "r_time" = ?'


def test_write_statements_per_type():
    assert statements("count").write() == 'UPDATE ks.t SET "value" = "value" + ? WHERE ' + WHERE_ROW
    assert statements("histogram").write() == (
        'UPDATE ks.t SET "count" = "count" + ? WHERE ' + WHERE_ROW + ' AND "value" = ?')
    assert statements("series").write() == (
        'INSERT INTO ks.t ("name", "interval", "i_time", "r_time", "seq", "value") '
        'VALUES (?, ?, ?, ?, ?, ?) USING TTL ?')
    for type_ in ("set", "gauge"):
        assert statements(type_).write() == (
            'INSERT INTO ks.t ("name", "interval", "i_time", "r_time", "value") '
            'VALUES (?, ?, ?, ?, ?) USING TTL ?')


def test_counter_tables_have_no_ttl_clause():
    for type_ in TYPES:
        assert ("USING TTL" in statements(type_).write()) is (type_ not in ("count", "histogram"))


def test_read_and_maintenance_statements():
    s = statements("histogram")
    assert s.select(True) == ('SELECT "i_time", "r_time", "value", "count" FROM ks.t '
                              'WHERE "name" = ? AND "interval" = ? AND "i_time" = ?')
    assert statements("series").select(False) == (
        'SELECT "i_time", "r_time", "value" FROM ks.t '
        'WHERE "name" = ? AND "interval" = ? AND "i_time" >= ? AND "i_time" <= ?')
    assert s.bound(False) == ('SELECT "i_time" FROM ks.t WHERE "name" = ? AND "interval" = ? '
                              'ORDER BY "i_time" ASC LIMIT 1')
    assert s.bound(True).endswith('ORDER BY "i_time" DESC LIMIT 1')
    assert s.names() == 'SELECT DISTINCT "name", "interval" FROM ks.t'
    assert s.delete_partition() == 'DELETE FROM ks.t WHERE "name" = ? AND "interval" = ?'
    assert s.delete_older() == 'DELETE FROM ks.t WHERE "name" = ? AND "interval" = ? AND "i_time" < ?'
    assert s.truncate() == "TRUNCATE ks.t"
    assert s.drop() == "DROP TABLE IF EXISTS ks.t"


def test_unknown_type_has_no_layout():
    with pytest.raises(ConfigError, match="no Cassandra layout for type 'bloom'"):
        cassandra_layouts.layout_for("bloom", "double", float)


# -- TTLs -------------------------------------------------------------------------------------------
def test_ttl_of():
    assert cql.ttl_of(INTERVALS["minute"], 5, now=10 ** 9) == 0            # no steps: no TTL
    # hour bucket 10 ends its retention at (10 + 24) * 3600
    assert cql.ttl_of(INTERVALS["hour"], 10, now=36000) == 24 * 3600
    assert cql.ttl_of(INTERVALS["hour"], 10, now=34 * 3600 - 0.5) == 1     # rounded up
    assert cql.ttl_of(INTERVALS["hour"], 10, now=34 * 3600) is None        # expired
    assert cql.ttl_of(INTERVALS["forever"], 2024, now=0) == 0              # beyond 20 years


# -- write parameters -------------------------------------------------------------------------------
def seqs():
    counter = iter(range(1, 1000))
    return lambda: uuid.UUID(int=next(counter), version=1)


def params(type_, batch, now=0, option=float):
    rows, skipped = cql.write_parameters(layout(type_, option), batch, INTERVALS, now, seqs())
    return rows, skipped


def test_count_parameters_delta_first_then_key():
    rows, _ = params("count", {("a", "minute", 2, None): 5, ("a", "day", 20240101, 473352): -1})
    assert rows == [(("a", "day"), (-1, "a", "day", 20240101, 473352)),
                    (("a", "minute"), (5, "a", "minute", 2, -1))]


def test_count_rejects_fractions_before_anything_is_sent():
    with pytest.raises(InvalidValue, match="whole numbers"):
        params("count", {("a", "minute", 2, None): 2.75})


def test_histogram_parameters_one_counter_row_per_value():
    rows, _ = params("histogram", {("a", "minute", 2, None): {3: 1, 1.5: 2, "3": 4}})
    assert rows == [(("a", "minute"), (2, "a", "minute", 2, -1, 1.5)),
                    (("a", "minute"), (5, "a", "minute", 2, -1, 3.0))]   # 3 and "3" are one double


def test_series_parameters_keep_arrival_order_with_increasing_seq_and_ttl():
    rows, _ = params("series", {("a", "hour", 10, None): [3, 1, 3]}, now=36000)
    ttl = 24 * 3600
    assert [r[1] for r in rows] == [
        ("a", "hour", 10, -1, uuid.UUID(int=1, version=1), 3.0, ttl),
        ("a", "hour", 10, -1, uuid.UUID(int=2, version=1), 1.0, ttl),
        ("a", "hour", 10, -1, uuid.UUID(int=3, version=1), 3.0, ttl)]


def test_set_parameters_deduplicate_after_coercion():
    rows, _ = params("set", {("a", "minute", 1, None): {2, 2.0, "1", 1}})
    assert [r[1] for r in rows] == [("a", "minute", 1, -1, 1.0, 0), ("a", "minute", 1, -1, 2.0, 0)]


def test_gauge_parameters_value_then_ttl():
    rows, _ = params("gauge", {("a", "minute", 1, None): "7"}, option=str)
    assert rows == [(("a", "minute"), ("a", "minute", 1, -1, "7", 0))]


def test_expired_buckets_are_skipped_and_counted():
    rows, skipped = params("gauge", {("a", "hour", 0, None): 1, ("a", "hour", 50, None): 2},
                           now=30 * 3600)
    assert skipped == 1 and [r[1][2] for r in rows] == [50]
    rows, skipped = params("count", {("a", "hour", 0, None): 1}, now=30 * 3600)
    assert (rows, skipped) == ([], 1)


@pytest.mark.parametrize("type_, data, option", [
    ("count", 3, float), ("histogram", {1.5: 2}, float), ("series", [1, 2], float),
    ("set", {"x"}, str), ("gauge", b"\x01", bytes), ("gauge", True, bool),
    ("set", {"10.0.0.1"}, "inet"), ("gauge", 7, int), ("histogram", {0.5: 1}, decimal.Decimal),
])
def test_parameters_bind_with_the_driver_serializers(type_, data, option):
    cql_type, _ = cql.value_type(option)
    s = statements(type_, cql_type)
    prepared = prepare_offline(s.write(), s.create_table())
    rows, _ = params(type_, {("a", "hour", 10, None): data}, now=36000, option=option)
    for _, row in rows:
        bound = prepared.bind(row)
        assert len(bound.values) == len(row) and all(v is not None for v in bound.values)


def test_a_wrong_parameter_type_fails_binding():
    s = statements("gauge")
    prepared = prepare_offline(s.write(), s.create_table())
    with pytest.raises(TypeError):
        prepared.bind(("a", "minute", 1, -1, "not a double", 0))


def test_read_parameters_bind_too():
    s = statements("series")
    single, values = cql.select_parameters("a", "minute", 3, 3)
    assert (single, values) == (True, ("a", "minute", 3))
    prepare_offline(s.select(single), s.create_table()).bind(values)
    single, values = cql.select_parameters("a", "minute", 3, 9)
    assert (single, values) == (False, ("a", "minute", 3, 9))
    prepare_offline(s.select(single), s.create_table()).bind(values)
    prepare_offline(s.delete_older(), s.create_table()).bind(("a", "minute", 3))


# -- batches and reads -----------------------------------------------------------------------------
def test_group_batches_per_partition_in_chunks():
    rows = [(("a", "m"), (i,)) for i in range(5)] + [(("b", "m"), (9,))] + [(("a", "m"), (5,))]
    assert cql.group_batches(rows, 4) == [[(0,), (1,), (2,), (3,)], [(4,), (5,)], [(9,)]]


def test_rows_to_raw_per_type():
    assert cql.rows_to_raw(layout("count"), [(1, -1, 4), (2, -1, 5)]) == {1: {None: 4}, 2: {None: 5}}
    assert cql.rows_to_raw(layout("gauge"), [(1, 60, "x"), (1, 120, "y")]) == {1: {60: "x", 120: "y"}}
    assert cql.rows_to_raw(layout("series"), [(1, -1, 3.0), (1, -1, 1.0)]) == {1: {None: [3.0, 1.0]}}
    assert cql.rows_to_raw(layout("set"), [(1, -1, 1.0), (1, -1, 2.0)]) == {1: {None: [1.0, 2.0]}}
    assert cql.rows_to_raw(layout("histogram"), [(1, -1, 1.5, 2), (1, -1, 3.0, 1)]) == {
        1: {None: {1.5: 2, 3.0: 1}}}
