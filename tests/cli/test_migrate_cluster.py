"""migrate from a single Redis to a Redis Cluster: every type, every stat, every bucket arrives."""
import pytest

from tests.cli.test_migrate import STATS, TYPES, expected_buckets, raw_points, stored_buckets
from tests.cli.tool_runner import tool, write_config
from tests.conftest import require
from torus.config import Configuration

CONFIG = r"""
_INTERVALS = {'ten': {'step': 'daily', 'resolution': 600}}
SCHEMAS = {}
for kind in %(types)r:
    SCHEMAS['single_' + kind] = {'type': kind, 'host': %(single)r, 'prefix': %(prefix)r + kind,
                                 'match': '^never$', 'intervals': _INTERVALS}
    SCHEMAS['cluster_' + kind] = {'type': kind, 'host': %(cluster)r, 'prefix': %(prefix)r + kind,
                                  'match': '^never$', 'intervals': _INTERVALS}
"""


@pytest.fixture
def schemas(tmp_path, unique_name, redis_cluster_url):
    path = write_config(tmp_path / "migrate.py", CONFIG % {
        "types": TYPES, "single": require("redis"), "cluster": redis_cluster_url,
        "prefix": unique_name})
    config = Configuration([path])
    yield path, config.schemas
    for schema in config.schemas.values():
        schema.timeseries.delete_all()


def test_single_redis_to_cluster(schemas):
    path, found = schemas
    for kind in TYPES:
        single, cluster = found["single_" + kind].timeseries, found["cluster_" + kind].timeseries
        inserts = {}
        for stat in STATS:
            for ts, value in raw_points(stat):
                inserts.setdefault(ts, {})[stat] = [value]
        single.bulk_insert(inserts)
        done = tool("migrate", "--config", path, "--source", "single_" + kind,
                    "--destination", "cluster_" + kind, "--interval", "ten", "--concurrency", "3")
        assert done.returncode == 0, done.stderr
        assert cluster.list() == sorted(STATS)
        assert [node.path for node in cluster.nodes("app")] == ["app.a", "app.b"]
        for stat in STATS:
            assert stored_buckets(cluster, stat) == expected_buckets(kind, raw_points(stat)), kind
        keys = cluster.client.get_redis_connection  # the data really is spread over the primaries
        spread = [sum(1 for _ in keys(node).scan_iter(match=cluster.prefix + "*"))
                  for node in cluster.client.get_primaries()]
        assert sum(spread) > 0 and len([n for n in spread if n]) >= 2, spread
