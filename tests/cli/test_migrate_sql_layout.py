"""migrate between the two SQL layouts, both ways, on every SQL engine: every type arrives and
reads of the new schema give back what the old one held (``layout`` given on both sides: a
new table's default is 'id').
"""
import pytest
import sqlalchemy as sa

from tests.cli.test_migrate import (
    STATS,
    TYPES,
    expected_buckets,
    raw_points,
    stored_buckets,
)
from tests.cli.tool_runner import tool, write_config
from tests.conftest import require
from torus.config import Configuration

CONFIG = r"""
_INTERVALS = {'ten': {'step': 'daily', 'resolution': 600}}
SCHEMAS = {}
for kind in %(types)r:
    for layout in ('name', 'id'):
        SCHEMAS[layout + '_' + kind] = {
            'type': kind, 'host': %(url)r, 'table_name': %(token)r + layout[0] + kind,
            'layout': layout, 'match': '^never$', 'intervals': _INTERVALS}
"""


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def schemas(request, tmp_path, unique_name):
    url = ("sqlite:///%s" % (tmp_path / "layouts.db") if request.param == "sqlite"
           else require(request.param))
    path = write_config(tmp_path / "migrate.py", CONFIG % {
        "types": TYPES, "url": url, "token": "rv" + unique_name.lower()[:18]})
    config = Configuration([path])
    yield path, config.schemas
    for schema in config.schemas.values():
        series = schema.timeseries
        for table in (series.table, series.names, series.ids):
            if table is not None:
                table.drop(series.db, checkfirst=True)


@pytest.mark.parametrize("direction", [("name", "id"), ("id", "name")])
@pytest.mark.parametrize("kind", TYPES)
def test_migrate_between_layouts(schemas, kind, direction):
    path, found = schemas
    source, target = ("%s_%s" % (layout, kind) for layout in direction)
    old, new = found[source].timeseries, found[target].timeseries
    inserts = {}
    for stat in STATS:
        for ts, value in raw_points(stat):
            inserts.setdefault(ts, {})[stat] = [value]
    old.bulk_insert(inserts)
    assert old.row_key == direction[0]
    done = tool("migrate", "--config", path, "--source", source, "--destination", target,
                "--interval", "ten")
    assert done.returncode == 0, done.stderr
    assert new.list() == sorted(STATS)
    assert new.row_key == direction[1]
    for stat in STATS:
        assert stored_buckets(new, stat) == expected_buckets(kind, raw_points(stat)), kind
        assert new.properties(stat) == old.properties(stat)
    if direction[1] == "id":  # the rows hold ids, the names are in {table}_ids
        with new.db.connect() as conn:
            keys = {row[0] for row in conn.execute(sa.select(new.table.c.name))}
            numbered = dict(conn.execute(sa.select(new.ids.c.id, new.ids.c.name)).fetchall())
        assert all(isinstance(key, int) for key in keys)
        assert sorted(numbered[key] for key in keys) == sorted(STATS)
