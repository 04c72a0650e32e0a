"""migrate from SQL rows keyed by name to rows keyed by name id (``layout='id'``): every type
arrives, on SQLite and PostgreSQL, and reads of the new schema give back what the old held.
"""
import pytest
import sqlalchemy as sa

from tests.cli.test_migrate import STATS, TYPES, expected_buckets, raw_points, stored_buckets
from tests.cli.tool_runner import tool, write_config
from tests.conftest import require
from torus.config import Configuration

CONFIG = r"""
_INTERVALS = {'ten': {'step': 'daily', 'resolution': 600}}
SCHEMAS = {}
for kind in %(types)r:
    SCHEMAS['name_' + kind] = {'type': kind, 'host': %(url)r, 'table_name': %(token)r + 'n' + kind,
                               'layout': 'name', 'match': '^never$', 'intervals': _INTERVALS}
    SCHEMAS['id_' + kind] = {'type': kind, 'host': %(url)r, 'table_name': %(token)r + 'i' + kind,
                             'layout': 'id', 'match': '^never$', 'intervals': _INTERVALS}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def schemas(request, tmp_path, unique_name):
    url = ("sqlite:///%s" % (tmp_path / "layouts.db") if request.param == "sqlite"
           else require("postgresql"))
    path = write_config(tmp_path / "migrate.py", CONFIG % {
        "types": TYPES, "url": url, "token": unique_name.lower()[:20]})
    config = Configuration([path])
    yield path, config.schemas
    for schema in config.schemas.values():
        series = schema.timeseries
        for table in (series.table, series.names, series.ids):
            if table is not None:
                table.drop(series.db, checkfirst=True)


@pytest.mark.parametrize("kind", TYPES)
def test_name_rows_to_id_rows(schemas, kind):
    path, found = schemas
    old, new = found["name_" + kind].timeseries, found["id_" + kind].timeseries
    inserts = {}
    for stat in STATS:
        for ts, value in raw_points(stat):
            inserts.setdefault(ts, {})[stat] = [value]
    old.bulk_insert(inserts)
    done = tool("migrate", "--config", path, "--source", "name_" + kind,
                "--destination", "id_" + kind, "--interval", "ten")
    assert done.returncode == 0, done.stderr
    assert new.list() == sorted(STATS)
    for stat in STATS:
        assert stored_buckets(new, stat) == expected_buckets(kind, raw_points(stat)), kind
        assert new.properties(stat) == old.properties(stat)
    assert old.row_key == "name" and old.ids is None
    with new.db.connect() as conn:  # the rows hold ids, the names are in {table}_ids
        keys = {row[0] for row in conn.execute(sa.select(new.table.c.name))}
        numbered = dict(conn.execute(sa.select(new.ids.c.id, new.ids.c.name)).fetchall())
    assert all(isinstance(key, int) for key in keys)
    assert sorted(numbered[key] for key in keys) == sorted(STATS)
