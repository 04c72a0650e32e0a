"""migrate from the Redis key layout to the hash layout (``layout='hash'``): every type arrives.

Counts and gauges land in window hashes, the other types keep a key per bucket; the
reads of the new schema give back exactly what the old one held.
"""
import pytest

from tests.cli.test_migrate import STATS, TYPES, expected_buckets, raw_points, stored_buckets
from tests.cli.tool_runner import tool, write_config
from tests.conftest import require
from torus.config import Configuration

CONFIG = r"""
_INTERVALS = {'ten': {'step': 'daily', 'resolution': 600}}
SCHEMAS = {}
for kind in %(types)r:
    SCHEMAS['key_' + kind] = {'type': kind, 'host': %(url)r, 'prefix': %(prefix)r + 'k' + kind,
                              'match': '^never$', 'intervals': _INTERVALS}
    SCHEMAS['hash_' + kind] = {'type': kind, 'host': %(url)r, 'prefix': %(prefix)r + 'h' + kind,
                               'layout': 'hash', 'match': '^never$', 'intervals': _INTERVALS}
"""


@pytest.fixture
def schemas(tmp_path, unique_name):
    path = write_config(tmp_path / "migrate.py", CONFIG % {
        "types": TYPES, "url": require("redis"), "prefix": unique_name})
    config = Configuration([path])
    yield path, config.schemas
    for schema in config.schemas.values():
        schema.timeseries.delete_all()


@pytest.mark.parametrize("kind", TYPES)
def test_key_layout_to_hash_layout(schemas, kind):
    path, found = schemas
    old, new = found["key_" + kind].timeseries, found["hash_" + kind].timeseries
    inserts = {}
    for stat in STATS:
        for ts, value in raw_points(stat):
            inserts.setdefault(ts, {})[stat] = [value]
    old.bulk_insert(inserts)
    done = tool("migrate", "--config", path, "--source", "key_" + kind,
                "--destination", "hash_" + kind, "--interval", "ten", "--concurrency", "3")
    assert done.returncode == 0, done.stderr
    assert new.list() == sorted(STATS)
    assert [node.path for node in new.nodes("app")] == ["app.a", "app.b"]
    for stat in STATS:
        assert stored_buckets(new, stat) == expected_buckets(kind, raw_points(stat)), kind
        assert new.properties(stat) == old.properties(stat)
    keys = list(new.client.scan_iter(match=new.prefix + "*"))
    hashed = [key for key in keys if ":#" in key]
    assert bool(hashed) == (kind in ("count", "gauge")), keys
