"""The backend matrix: ``make_timeseries`` builds a Timeseries on each engine under test.

Every test that uses ``make_timeseries`` runs once per backend. Each timeseries
gets its own table / key prefix / database, and is deleted afterwards, so tests
(and several test runs on one server) never see each other's data.
"""

import pytest

from kairos import Timeseries
from tests.conftest import require

BACKENDS = ["sqlite-memory", "sqlite-file", "postgresql", "mysql", "sqlite-file-id",
            "postgresql-id", "mysql-id", "redis", "redis-hash", "redis-cluster",
            "redis-cluster-hash", "mongo", "cassandra"]
#: ``redis-hash``: the single-Redis engine with ``layout='hash'`` (counts and gauges in window hashes)
REDIS_BACKENDS = ["redis", "redis-hash", "redis-cluster", "redis-cluster-hash"]
SQL_BACKENDS = ["sqlite-memory", "sqlite-file", "postgresql", "mysql"]
#: the SQL engines with ``layout='id'`` (rows keyed by the name's id in ``{table}_ids``)
SQL_ID_BACKENDS = ["sqlite-file-id", "postgresql-id", "mysql-id"]


@pytest.fixture(scope="session")
def sql_engines():
    """One SQLAlchemy engine per SQL server for the whole run (created on first use)."""
    engines = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


def _sql_engine(backend, sql_engines, tmp_path):
    from kairos.backends import sql_engine
    backend = backend[:-3] if backend.endswith("-id") else backend
    if backend == "sqlite-memory":
        return sql_engine.create("sqlite:///:memory:", {})
    if backend == "sqlite-file":
        return sql_engine.create("sqlite:///%s" % (tmp_path / "kairos.db"), {})
    url = require(backend)
    if backend not in sql_engines:
        sql_engines[backend] = sql_engine.create(url, {})
    return sql_engines[backend]


#: keyspace the Cassandra runs use (created with SimpleStrategy, factor 1, when missing)
CASSANDRA_KEYSPACE = "kairos_test"
CASSANDRA_REPLICATION = {"class": "SimpleStrategy", "replication_factor": 1}


@pytest.fixture(scope="session")
def nosql_clients():
    """One MongoClient / one Cassandra Session for the whole run (created on first use)."""
    clients = {}
    yield clients
    if "mongo" in clients:
        clients["mongo"].close()
    if "cassandra" in clients:
        clients["cassandra"].cluster.shutdown()


def _nosql_client(backend, clients):
    """TEST_MONGO_URL is a mongodb:// URL; TEST_CASSANDRA_HOSTS a host[:port],... list."""
    target = require(backend)
    if backend not in clients:
        if backend == "mongo":
            import pymongo
            clients[backend] = pymongo.MongoClient(target, serverSelectionTimeoutMS=5000)
        else:
            from kairos.backends.cassandra_conn import build_cluster
            cluster, _ = build_cluster("cassandra://%s/%s" % (target, CASSANDRA_KEYSPACE), {})
            clients[backend] = cluster.connect()
    return clients[backend]


class Maker:
    """Builds timeseries on one backend and removes everything they stored."""

    def __init__(self, backend, client, token):
        self.backend = backend
        self.client = client
        self.token = token
        self.made = []

    @property
    def is_sql(self):
        return self.backend in SQL_BACKENDS or self.backend in SQL_ID_BACKENDS

    def __call__(self, type, intervals, **options):
        options = dict(options)
        index = len(self.made)
        if self.is_sql:
            options.setdefault("table_name", "%s_%s_%d" % (self.token, type, index))
            # the default is 'id' for a new table: the name-keyed backends ask for 'name'
            options.setdefault("layout", "id" if self.backend in SQL_ID_BACKENDS else "name")
        elif self.backend in REDIS_BACKENDS:
            options.setdefault("prefix", "%s%d" % (self.token, index))
            # the default is the prefix's own layout, 'hash' for a new one: each backend asks
            options.setdefault("layout", "hash" if self.backend.endswith("-hash") else "key")
        elif self.backend == "mongo":
            options.setdefault("client_config", {}).setdefault("database", "%s_%d" % (self.token, index))
        elif self.backend == "cassandra":
            options.setdefault("table_name", "%s_%s_%d" % (self.token, type, index))
            options.setdefault("client_config", {}).setdefault("keyspace", CASSANDRA_KEYSPACE)
            options.setdefault("replication", CASSANDRA_REPLICATION)
        series = Timeseries(self.client, type=type, intervals=intervals, **options)
        self.made.append(series)
        return series

    def cleanup(self):
        for series in self.made:
            try:
                if self.backend == "mongo":      # a database per timeseries: drop it
                    series.client.drop_database(series.database.name)
                elif self.backend == "cassandra":  # a table per timeseries (TRUNCATE is slow)
                    series.drop()
                else:
                    series.delete_all()
            except Exception:  # the test may have broken the connection on purpose
                pass
            if self.backend in REDIS_BACKENDS:  # delete_all keeps the prefix's layout marker
                try:
                    series.client.delete(series.prefix + "!layout")
                except Exception:
                    pass
            if self.backend.startswith("redis-cluster"):
                series.close()  # its own cluster client: connections to every node
            if self.is_sql:
                series.table.drop(series.db, checkfirst=True)
                series.names.drop(series.db, checkfirst=True)
                if series.ids is not None:
                    series.ids.drop(series.db, checkfirst=True)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def make_timeseries(backend, sql_engines, tmp_path, unique_name, request):
    """``make_timeseries(type, intervals, **options)`` on the backend of this test's parameter."""
    if backend in SQL_BACKENDS or backend in SQL_ID_BACKENDS:
        client = _sql_engine(backend, sql_engines, tmp_path)
    elif backend in ("redis", "redis-hash"):
        url = require("redis")
        try:
            import kairos.backends.redis_store  # noqa: F401
        except ImportError:
            pytest.skip("the Redis engine is not built yet")
        client = url
    elif backend in ("redis-cluster", "redis-cluster-hash"):
        client = request.getfixturevalue("redis_cluster_url")
    else:
        client = _nosql_client(backend, request.getfixturevalue("nosql_clients"))
    maker = Maker(backend, client, unique_name)
    yield maker
    maker.cleanup()


from tests.functional.test_karbon import start_karbon  # noqa: E402,F401 (fixture for every karbon test)
