"""The thin Cassandra layer: what it prepares, executes and batches, and how it maps errors.

No Cassandra server runs here. ``StandIn`` is a recording stand-in for a driver
Session: ``prepare`` returns real driver PreparedStatements typed from our CREATE
TABLE (see ``test_cassandra_cql.prepare_offline``), so every bind and batch goes
through the driver's serializers, and a small in-memory model applies our few
statement shapes (insert, counter update, select, delete) so the write -> read
round trip through the Timeseries pipeline can run. It is the test's model of
Cassandra, not Cassandra: it proves the engine's plumbing, not that a server
accepts the CQL. That is proved only by the shared contract suite with
TEST_CASSANDRA_HOSTS set.
"""
import re
import sys
import time
from collections import OrderedDict
from types import SimpleNamespace

import pytest
from cassandra import InvalidRequest
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.io.geventreactor import GeventConnection
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from kairos import Timeseries
from kairos.backends import cassandra_store
from kairos.backends.cassandra_store import CassandraTimeseries, time_uuid
from kairos.exceptions import BackendError, ConfigError, InvalidValue
from kairos.names import Node
from tests.unit.test_cassandra_cql import PROTOCOL, prepare_offline

MINUTE = {"minute": {"step": 60}}
_COND = re.compile(r'"(\w+)"\s*(=|>=|<=|<)\s*\?')
_OPS = {"=": lambda a, b: a == b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b}


class Rows(list):
    def one(self):
        return self[0] if self else None


class StandIn(Session):
    """A recording Session with an in-memory model of our tables (see module docstring)."""

    def __init__(self, keyspaces=("ks",), keyspace=None):
        self.keyspace = keyspace
        self.cluster = SimpleNamespace(metadata=SimpleNamespace(keyspaces={k: None for k in keyspaces}))
        self.calls = []
        self.prepared = {}
        self.tables = {}
        self.fail = None

    def shutdown(self):
        pass

    def _record(self, *call):
        self.calls.append(call)
        if self.fail is not None:
            raise self.fail

    def prepare(self, query):
        self._record("prepare", query)
        table = re.search(r"(?:FROM|INTO|UPDATE) (\w+\.\w+)", query).group(1)
        keyspace, name = table.split(".")
        statement = prepare_offline(query, self.tables[table]["create"], keyspace, name)
        self.prepared[statement.query_id] = statement
        return statement

    def execute(self, query, parameters=None):
        if isinstance(query, PreparedStatement):
            query.bind(parameters)                       # the driver's serializers must accept them
            self._record("execute", query.query_string, tuple(parameters or ()))
            return self._apply(query.query_string, list(parameters or ()))
        self._record("execute", query, None)
        return self._ddl(query)

    def run_requests(self, requests):
        """Stands in for ``execute_concurrent``: applies bound writes and batches in order."""
        self._record("execute_many", list(requests))
        for statement, parameters in requests:
            if isinstance(statement, BatchStatement):
                for _, query_id, values in statement._statements_and_parameters:
                    prepared = self.prepared[query_id]
                    decoded = [column.type.from_binary(value, PROTOCOL)
                               for column, value in zip(prepared.column_metadata, values)]
                    self._apply(prepared.query_string, decoded)
            else:
                self._apply(statement.query_string, list(parameters))

    # -- the model ---------------------------------------------------------------------------
    def _ddl(self, query):
        if query.startswith("CREATE KEYSPACE"):
            self.cluster.metadata.keyspaces[query.split()[5]] = None
        elif query.startswith("CREATE TABLE"):
            table = query.split()[5]
            if table not in self.tables:
                partition, clustering = re.search(r"PRIMARY KEY \(\(([^)]*)\), ([^)]*)\)", query).groups()
                self.tables[table] = {"create": query, "rows": {},
                                      "key": re.findall(r'"(\w+)"', partition + clustering),
                                      "clustering": re.findall(r'"(\w+)"', clustering)}
        elif query.startswith("TRUNCATE"):
            self.tables[query.split()[1]]["rows"].clear()
        elif query.startswith("DROP TABLE"):
            self.tables.pop(query.split()[-1], None)
        return Rows()

    def _matching(self, table, query, values):
        where = query.split(" WHERE ", 1)[1] if " WHERE " in query else ""
        conditions = list(zip(_COND.findall(where), values))
        return [(pk, row) for pk, row in table["rows"].items()
                if all(_OPS[op](row[column], value) for (column, op), value in conditions)]

    def _apply(self, query, values):
        table = self.tables[re.search(r"(?:FROM|INTO|UPDATE) (\w+\.\w+)", query).group(1)]
        if query.startswith("INSERT"):
            columns = re.findall(r'"(\w+)"', query[:query.index("VALUES")])
            row = dict(zip(columns, values))
            table["rows"][tuple(row[c] for c in table["key"])] = row
        elif query.startswith("UPDATE"):
            column = re.search(r'SET "(\w+)"', query).group(1)
            where = dict(zip([c for c, _ in _COND.findall(query.split(" WHERE ")[1])], values[1:]))
            row = table["rows"].setdefault(tuple(where[c] for c in table["key"]), dict(where))
            row[column] = row.get(column, 0) + values[0]
        elif query.startswith("DELETE"):
            for pk, _ in self._matching(table, query, values):
                del table["rows"][pk]
        elif query.startswith("SELECT DISTINCT"):
            return Rows(sorted({(r["name"], r["interval"]) for r in table["rows"].values()}))
        else:
            columns = re.findall(r'"(\w+)"', query[:query.index(" FROM ")])
            found = sorted((row for _, row in self._matching(table, query, values)),
                           key=lambda r: tuple(r[c] for c in table["clustering"]),
                           reverse=" DESC " in query)
            if "LIMIT 1" in query:
                found = found[:1]
            return Rows(tuple(r[c] for c in columns) for r in found)
        return Rows()


@pytest.fixture
def session():
    return StandIn()


@pytest.fixture
def make(session):
    def build(type_, intervals=MINUTE, **options):
        options.setdefault("client_config", {"keyspace": "ks"})
        series = Timeseries(session, type=type_, intervals=intervals, **options)
        series._execute_many = session.run_requests
        return series
    return build


def data_runs(session):
    """The concurrent runs of writes to data tables (not those of the name index)."""
    return [c[1] for c in session.calls if c[0] == "execute_many"
            and not any("_names " in getattr(statement, "query_string", "")
                        for statement, _ in c[1])]


def executed(session, prefix=""):
    return [c[1:] for c in session.calls if c[0] == "execute" and c[1].startswith(prefix)]


# -- construction -----------------------------------------------------------------------------
def test_url_builds_a_cluster_but_connects_lazily():
    series = Timeseries("cassandra://127.0.0.1:9043/stats", type="gauge", intervals=MINUTE,
                        table_name="Gauges", value_type="text")
    try:
        assert isinstance(series, CassandraTimeseries) and series.session is None
        assert isinstance(series.cluster, Cluster)
        assert series.statements.table == "stats.gauges"
        assert '"value" text' in series.statements.create_table()
    finally:
        series.close()
    assert series._owned_cluster is None


def test_session_and_cluster_handles_and_keyspace_choice():
    assert Timeseries(StandIn(keyspace="from_session"), type="count",
                      intervals=MINUTE).keyspace == "from_session"
    assert Timeseries(StandIn(keyspace="s"), type="count", intervals=MINUTE,
                      client_config={"keyspace": "cfg"}).keyspace == "cfg"
    assert Timeseries(StandIn(), type="count", intervals=MINUTE).keyspace == "kairos"
    cluster = Cluster()
    try:
        series = Timeseries(cluster, type="set", intervals=MINUTE)
        assert series.cluster is cluster and series.session is None and series.keyspace == "kairos"
        series.close()                        # not ours: nothing to do
        assert series.cluster is cluster
    finally:
        cluster.shutdown()


def test_a_cluster_without_the_gevent_connection_is_reported(caplog):
    # tests run with gevent's monkey-patching (tests/conftest.py), so the driver's own
    # default is already GeventConnection; a caller's explicit other choice is reported
    cluster = Cluster()
    try:
        assert cluster.connection_class is GeventConnection
        Timeseries(cluster, type="count", intervals=MINUTE)
        assert caplog.text == ""
        cluster.connection_class = type("AsyncioConnection", (), {})
        Timeseries(cluster, type="count", intervals=MINUTE)
        assert "uses AsyncioConnection" in caplog.text
        assert "connection_class=cassandra.io.geventreactor.GeventConnection" in caplog.text
    finally:
        cluster.shutdown()


@pytest.mark.parametrize("options, fragment", [
    ({"prefix": "x"}, "unknown Cassandra option"),
    ({"pool_size": -1}, "pool_size"),
    ({"pool_size": True}, "pool_size"),
    ({"table_name": "bad-name"}, "table_name"),
    ({"value_type": "uuid"}, "unknown value_type"),
    ({"replication": "yes"}, "replication must be"),
    ({"client_config": {"keyspace": "ks", "port": 9042}}, "only 'keyspace' is used"),
])
def test_bad_options_are_config_errors(options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Timeseries(StandIn(), type="count", intervals=MINUTE, **options)


def test_pool_size_caps_requests_in_flight(make):
    assert make("count").concurrency == cassandra_store.DEFAULT_CONCURRENCY
    assert make("count", pool_size=4).concurrency == 4


# -- schema ------------------------------------------------------------------------------------------
def test_first_use_creates_the_table_once_and_prepares_each_statement_once(make, session):
    series = make("count")
    series.insert("a", 1, timestamp=0)
    series.insert("a", 2, timestamp=0)
    series.get("a", "minute", timestamp=0)
    series.get("a", "minute", timestamp=0)
    assert executed(session, "CREATE") == [(series.statements.create_table(), None),
                                           (series.name_statements.create_table(), None)]
    prepares = [c[1] for c in session.calls if c[0] == "prepare"]
    assert prepares == [series.name_statements.insert(), series.statements.write(),
                        series.statements.select(True)]


def test_missing_keyspace_is_a_config_error_unless_replication_is_given(session):
    series = Timeseries(session, type="count", intervals=MINUTE, client_config={"keyspace": "nope"})
    with pytest.raises(ConfigError, match="keyspace 'nope' does not exist.*replication"):
        series.list()
    series = Timeseries(session, type="count", intervals=MINUTE, client_config={"keyspace": "nope"},
                        replication=True)
    assert series.list() == []
    assert executed(session, "CREATE KEYSPACE") == [(
        "CREATE KEYSPACE IF NOT EXISTS nope WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}", None)]


def test_drop_removes_the_table_and_the_next_use_recreates_it(make, session):
    series = make("gauge")
    series.insert("a", 1, timestamp=0)
    series.drop()
    assert "ks.kairos_gauge" not in session.tables
    unused = make("set")
    unused.drop()                         # never used: nothing created just to be dropped
    assert executed(session, "CREATE TABLE IF NOT EXISTS ks.kairos_set") == []
    assert executed(session, "DROP TABLE IF EXISTS ks.kairos_set") != []
    assert series.get("a", "minute", timestamp=0) == {0: None}
    assert "ks.kairos_gauge" in session.tables


# -- writes --------------------------------------------------------------------------------------------
def test_a_bulk_insert_is_one_concurrent_run_of_per_partition_batches(make, session, monkeypatch):
    monkeypatch.setattr(cassandra_store, "BATCH_ROWS", 3)
    series = make("series")
    series.bulk_insert({0: {"a": [1, 2, 3, 4], "b": [5]}})
    (runs,) = data_runs(session)
    assert len(runs) == 3                     # "a": a batch of 3 then one row; "b": one row
    batch, none = runs[0]
    assert isinstance(batch, BatchStatement) and none is None
    assert batch.batch_type == BatchType.UNLOGGED and len(batch._statements_and_parameters) == 3
    (single, params), (other, other_params) = runs[1:]
    assert isinstance(single, PreparedStatement) and single.query_string == series.statements.write()
    assert params[:4] == ("a", "minute", 0, -1) and params[5:] == (4.0, 0)
    assert other_params[0] == "b"
    assert series.get("a", "minute", timestamp=0) == {0: [1, 2, 3, 4]}


def test_counter_tables_use_counter_batches(make, session):
    series = make("histogram")
    series.insert("a", [1, 2, 2, 3], timestamp=0)
    (runs,) = data_runs(session)
    (batch, params), = runs
    assert isinstance(batch, BatchStatement) and batch.batch_type == BatchType.COUNTER
    assert params is None and len(batch._statements_and_parameters) == 3


def test_ttl_is_bound_for_intervals_with_steps(make, session):
    series = make("gauge", {"minute": {"step": 60, "steps": 5}})
    series.insert("a", 1.5)
    (runs,) = data_runs(session)
    (statement, params), = runs
    ttl = params[-1]
    assert 4 * 60 < ttl <= 5 * 60
    assert series.intervals["minute"].expires_at(params[2]) - 60 * 5 == params[2] * 60


def test_float_counts_are_refused_and_nothing_is_sent(make, session):
    series = make("count")
    with pytest.raises(InvalidValue, match="whole numbers"):
        series.insert("a", 0.25, timestamp=0)
    assert session.calls == []


def test_each_count_increment_must_be_whole_not_only_their_sum(make, session):
    series = make("count")
    with pytest.raises(InvalidValue, match="0.25"):
        series.insert("a", [0.25, 0.75], timestamp=0)
    assert session.calls == []
    series.insert("a", [2.0, 3], timestamp=0)
    assert series.get("a", "minute", timestamp=0) == {0: 5}


def test_values_are_coerced_to_the_value_type_before_sending(make):
    series = make("set", value_type=int)
    with pytest.raises(InvalidValue, match="'x'.*bigint"):
        series.insert("a", "x", timestamp=0)
    series.insert("a", ["3", 3.0, 4], timestamp=0)
    assert series.get("a", "minute", timestamp=0) == {0: {3, 4}}


def test_unknown_write_option(make):
    with pytest.raises(ConfigError, match="pipeline"):
        make("count").insert("a", 1, timestamp=0, pipeline=None)


def test_time_uuids_increase_strictly():
    ids = [time_uuid() for _ in range(2000)]
    assert all(a.time < b.time for a, b in zip(ids, ids[1:]))
    assert {u.version for u in ids} == {1}


# -- reads -----------------------------------------------------------------------------------------------
def test_get_and_series_select_statements(make, session):
    series = make("count")
    series.get("a", "minute", timestamp=125)
    series.series("a", "minute", start=0, end=180)
    assert executed(session, "SELECT") == [
        (series.statements.select(True), ("a", "minute", 2)),
        (series.statements.select(False), ("a", "minute", 0, 3))]


def test_custom_fetch_gets_session_table_name_interval_and_buckets(make, session):
    series = make("count", {"day": {"step": "daily"}})
    seen = []

    def fetch(cursor, table, name, interval, intervals):
        seen.append((cursor, table, name, interval, intervals))
        return {intervals[0]: {None: 7}}
    start = 1709164800        # 2024-02-29
    assert series.series("a", "day", start=start, steps=3, fetch=fetch) == {
        start: 7, start + 86400: 0, start + 2 * 86400: 0}
    assert seen == [(session, "ks.kairos_count", "a", "day", [20240229, 20240301, 20240302])]


# -- meta data and deletion --------------------------------------------------------------------------------
def test_list_properties_delete_expire_and_delete_all(make, session):
    # minute keeps 1000 buckets: writes two minutes ago are within retention now
    series = make("count", {"minute": {"step": 60, "steps": 1000}, "hour": {"step": 3600}})
    m = int(time.time() // 60) - 2
    series.bulk_insert({m * 60: {"a": [1], "b": [1]}, m * 60 + 60: {"a": [1]},
                        m * 60 + 120: {"a": [1], "b": [2]}})
    assert series.list() == ["a", "b"]
    hours = sorted({m * 60 // 3600 * 3600, (m * 60 + 120) // 3600 * 3600})
    assert series.properties("a") == {"minute": {"first": m * 60, "last": m * 60 + 120},
                                      "hour": {"first": hours[0], "last": hours[-1]}}
    assert series.properties("nothing") == {}
    series.expire("a", now=(m + 1000) * 60 + 5)     # the oldest kept minute is now m + 1
    assert executed(session, "DELETE") == [(series.statements.delete_older(), ("a", "minute", m + 1))]
    assert series.series("a", "minute", start=m * 60, end=m * 60 + 120) == {
        m * 60: 0, m * 60 + 60: 1, m * 60 + 120: 1}
    assert sum(series.series("a", "hour", start=hours[0], end=hours[-1]).values()) == 3
    series.delete("a")
    assert executed(session, "DELETE")[1:] == [
        (series.statements.delete_partition(), ("a", "minute")),
        (series.statements.delete_partition(), ("a", "hour")),
        (series.name_statements.delete(), (1, "a", "L"))]
    assert series.list() == ["b"]
    assert series.nodes() == [Node("b", "b", True, False)]
    series.delete_all()
    assert executed(session, "TRUNCATE") == [("TRUNCATE ks.kairos_count", None),
                                             ("TRUNCATE ks.kairos_count_names", None)]
    assert series.list() == []
    assert series.nodes() == []


def test_driver_errors_become_backend_errors(make, session):
    series = make("count")
    series.list()
    session.fail = InvalidRequest("unconfigured table")
    with pytest.raises(BackendError, match="InvalidRequest on ks.kairos_count: unconfigured table"):
        series.get("a", "minute", timestamp=0)
    session.fail = NoHostAvailable("no host", {})
    with pytest.raises(BackendError, match="NoHostAvailable"):
        series.insert("a", 1, timestamp=0)


# -- the round trip through the stand-in ---------------------------------------------------------------------
@pytest.mark.parametrize("type_, values, expected", [
    ("count", [2, 3, -1], 4),
    ("gauge", [5, 7, 2], 2.0),
    ("series", [3, 1, 3], [3.0, 1.0, 3.0]),
    ("set", [3, 1, 3], {1.0, 3.0}),
    ("histogram", [1.5, 2, 1.5], {1.5: 2, 2.0: 1}),
])
def test_round_trip_per_type(make, type_, values, expected):
    series = make(type_)
    for value in values:
        series.insert("a", value, timestamp=61)
    assert series.get("a", "minute", timestamp=61) == {60: expected}


def test_round_trip_with_resolution(make):
    series = make("series", {"hour": {"step": 3600, "resolution": 60}}, value_type=str)
    series.bulk_insert(OrderedDict([(60, {"a": ["x", "y"]}), (130, {"a": ["z"]}), (3700, {"a": ["w"]})]))
    assert series.get("a", "hour", timestamp=0) == {60: ["x", "y"], 120: ["z"]}
    assert series.series("a", "hour", start=0, end=3600, condense=True) == {
        0: ["x", "y", "z"], 3600: ["w"]}


def test_without_the_driver_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cassandra", None)
    with pytest.raises(ImportError, match=r"pip install 'torus\[cassandra\]'"):
        Timeseries("cql://", type="count", intervals=MINUTE)


# -- the name index -----------------------------------------------------------------------------
def test_name_index_is_one_clustering_range_per_level(make, session):
    series = make("gauge")
    series.bulk_insert({0: {"a.b.c": [1], "a.d": [1], "top": [1], "cpu;host=x": [1]}})
    rows = session.tables["ks.kairos_gauge_names"]["rows"]
    assert sorted(rows) == [(0, "cpu;host=x", "T"), (1, "a", "B"), (1, "top", "L"),
                            (2, "a.b", "B"), (2, "a.d", "L"), (3, "a.b.c", "L")]
    assert series.nodes("a") == [Node("b", "a.b", False, True), Node("d", "a.d", True, False)]
    assert executed(session, 'SELECT "path", "kind"')[-1] == (
        series.name_statements.children(True), (2, "a.", "a/"))
    assert series.nodes() == [Node("a", "a", False, True), Node("top", "top", True, False)]
    assert executed(session, 'SELECT "path", "kind"')[-1] == (
        series.name_statements.children(False), (1, ""))
    assert series.tagged_names() == ["cpu;host=x"]
    assert series.lookup(["a.d", "nope"]) == [Node("d", "a.d", True, False)]
    series.delete("a.b.c")
    assert series.nodes("a") == [Node("d", "a.d", True, False)]
    rows[(1, "gone", "L")] = {"depth": 1, "path": "gone", "kind": "L"}
    assert series.rebuild_index() == {"added": 0, "removed": 1}
