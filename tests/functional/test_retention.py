"""Periodic expiry of schemas whose storage has no TTL (SQL), in-process and through karbon."""
import textwrap
import time

from tests.conftest import require
from tests.functional.test_karbon import wait_until
from torus.config import ConfigHolder
from torus.retention import Retention, needs_expiry

CONFIG = """
SCHEMAS = {
    'kept': {'type': 'gauge', 'host': 'sqlite:///%(dir)s/kept.db', 'match': '^k\\\\.',
             'intervals': {'hour': {'step': 3600, 'steps': 2}}},
    'forever': {'type': 'gauge', 'host': 'sqlite:///%(dir)s/forever.db', 'match': '^f\\\\.',
                'intervals': {'hour': {'step': 3600}}},
    %(extra)s
}
"""


def _config(tmp_path, extra=""):
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent(CONFIG % {"dir": tmp_path, "extra": extra}))
    return path


def _hours():
    hour = int(time.time() // 3600) * 3600
    return hour, hour - 10 * 3600


def test_run_once_expires_old_sql_buckets_and_batch_ids(tmp_path, unique_name):
    redis = "'r': {'type': 'gauge', 'host': %r, 'prefix': %r, 'match': '^r\\\\.', " \
            "'intervals': {'hour': {'step': 3600, 'steps': 2}}}," % (require("redis"), unique_name)
    holder = ConfigHolder([str(_config(tmp_path, redis))])
    schemas = holder.current.schemas
    # SQL tables keep batch ids until expired, steps or not; Redis expires both itself
    assert [name for name, s in schemas.items() if needs_expiry(s)] == ["kept", "forever"]
    now, old = _hours()
    for name in ("kept", "forever"):
        series = schemas[name].timeseries
        series.bulk_insert({now: {"x": [1]}, old: {"x": [2]}}, batch_id="b1", now=now - 2 * 86400)
        series.bulk_insert({now: {"y": [1]}}, batch_id="b2")

    assert Retention(holder).run_once() == ["kept", "forever"]

    assert schemas["kept"].timeseries.properties("x")["hour"] == {"first": now, "last": now}
    assert schemas["forever"].timeseries.properties("x")["hour"] == {"first": old, "last": now}
    forever = schemas["forever"].timeseries
    with forever.db.connect() as conn:
        markers = sorted(row[0] for row in conn.execute(forever.batches.select()))
    assert markers == ["kept:b2".replace("kept", forever.table.name)]  # b1 is two days old
    schemas["r"].timeseries.delete_all()


def test_a_failing_backend_is_logged_and_the_others_still_expire(tmp_path, caplog):
    down = "'down': {'type': 'gauge', 'host': 'postgresql://nobody@127.0.0.1:1/none', " \
           "'match': '^d\\\\.', 'intervals': {'hour': {'step': 3600, 'steps': 2}}},"
    holder = ConfigHolder([str(_config(tmp_path, down))])
    now, old = _hours()
    holder.current.schemas["kept"].timeseries.bulk_insert({now: {"x": [1]}, old: {"x": [2]}})

    assert Retention(holder).run_once() == ["kept", "forever"]

    assert "schema down: expiring old buckets failed" in caplog.text
    assert holder.current.schemas["kept"].timeseries.properties("x")["hour"]["first"] == now


def test_karbon_expires_periodically(tmp_path, start_karbon):
    path = _config(tmp_path)
    now, old = _hours()
    kept = ConfigHolder([str(path)]).current.schemas["kept"].timeseries
    kept.bulk_insert({now: {"x": [1]}, old: {"x": [2]}})
    karbon = start_karbon(path.read_text(), "--expire-every", "0.2")
    wait_until(lambda: kept.properties("x")["hour"]["first"] == now, "karbon to expire old buckets")
    assert kept.get("x", "hour", timestamp=now) == {now: 1}
    assert karbon.stop() == 0


def test_run_once_brings_the_name_index_in_line_with_the_names_stored(tmp_path):
    """A name whose buckets all expired leaves the index /metrics/find reads; a name deleted by
    another process and written again by one that believes it indexed comes back."""
    holder = ConfigHolder([str(_config(tmp_path))])
    kept = holder.current.schemas["kept"].timeseries
    now, old = _hours()
    kept.bulk_insert({old: {"k.gone": [1]}, now: {"k.here": [1]}})
    assert [node.path for node in kept.nodes("k")] == ["k.gone", "k.here"]
    other = ConfigHolder([str(_config(tmp_path))]).current.schemas["kept"].timeseries
    other.delete("k.here")  # another process: the writer below still believes k.here indexed
    kept.bulk_insert({now: {"k.here": [2]}})
    assert [node.path for node in kept.nodes("k")] == ["k.gone"]

    Retention(holder).run_once()

    assert [node.path for node in kept.nodes("k")] == ["k.here"]
    assert kept.get("k.here", "hour", timestamp=now) == {now: 2}
