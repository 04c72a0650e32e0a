"""A karbon writer that is behind stores the batches planned meanwhile as one
(``processing.absorb``, ``SchemaWriter.put``), and loses or doubles nothing doing so.

A minute's six 10-second flushes that wait together become one row per stat for that
minute instead of six upserts of it: catching up costs fewer writes, as carbon-cache's
cache writes a metric's queued points at once.
"""
import fcntl
import os
import re
import textwrap
import urllib.request

import sqlalchemy as sa

from tests.functional import test_karbon
from tests.functional.test_karbon import BASE_TS, send, wait_until
from torus.config import Configuration
from torus.processing import absorb, plan, store

start_karbon = test_karbon.start_karbon  # the fixture, shared

MINUTE = BASE_TS - BASE_TS % 60


def _config(tmp_path, name="conf.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent("""
        SCHEMAS = {
            'counts': {'type': 'count', 'host': 'sqlite:///%(db)s', 'match': r'^c\\.',
                       'intervals': {'10s': {'step': 10}, '1m': {'step': 60}}},
            'gauges': {'type': 'gauge', 'host': 'sqlite:///%(db)s', 'match': r'^g\\.',
                       'intervals': {'10s': {'step': 10}}},
        }
        """) % {"db": tmp_path / "data.db"})
    return Configuration([str(path)])


def _flush(stamp, stats=("c.a", "c.b"), value=1):
    return [(stat, value, stamp) for stat in stats]


def test_absorbed_flushes_store_what_they_would_have_stored_apart(tmp_path):
    config = _config(tmp_path)
    first, _ = plan(config, _flush(MINUTE) + [("g.x", 1.5, MINUTE)])
    waiting = first["counts"]
    for offset in (10, 20, 30):
        later, _ = plan(config, _flush(MINUTE + offset, value=offset))
        assert absorb(waiting, later["counts"], 100)
        assert later["counts"].inserts == {}  # spent: its points travel in ``waiting``
    same_stamp, _ = plan(config, _flush(MINUTE + 30, stats=("c.a",), value=5))
    assert absorb(waiting, same_stamp["counts"], 100)
    assert waiting.points == 2 + 3 * 2 + 1
    assert waiting.id == first["counts"].id

    assert store(waiting) == []
    series = waiting.schema.timeseries
    assert series.get("c.a", "1m", timestamp=MINUTE) == {MINUTE: 1 + 10 + 20 + 30 + 5}
    assert series.get("c.b", "1m", timestamp=MINUTE) == {MINUTE: 1 + 10 + 20 + 30}
    assert series.series("c.a", "10s", start=MINUTE, end=MINUTE + 30) == {
        MINUTE: 1, MINUTE + 10: 10, MINUTE + 20: 20, MINUTE + 30: 35}


def test_what_is_not_absorbed(tmp_path):
    config = _config(tmp_path)
    batches, _ = plan(config, _flush(MINUTE) + [("g.x", 1.5, MINUTE)])
    waiting = batches["counts"]
    gauges, _ = plan(config, [("g.x", 2.5, MINUTE + 10)])
    assert not absorb(waiting, gauges["gauges"], 100)  # another schema
    big, _ = plan(config, _flush(MINUTE + 10, stats=["c.%d" % i for i in range(99)]))
    assert not absorb(waiting, big["counts"], 100)  # 2 + 99 points pass the limit
    now, _ = plan(config, [("c.a", 1, None)])
    assert not absorb(waiting, now["counts"], 100)  # "now": stamped when it is written
    waiting.pending = []  # an attempt was made: its parts are fixed under their ids
    later, _ = plan(config, _flush(MINUTE + 10))
    assert not absorb(waiting, later["counts"], 100)
    assert later["counts"].points == 2 and later["counts"].inserts  # left as it was


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def test_a_gauge_batch_takes_in_no_timestamp_earlier_than_its_latest(tmp_path):
    """A gauge's batch is written in time order (a bucket keeps the value of its latest
    timestamp in the batch); batches are written in the order they come. Merged, a later
    batch's earlier timestamp would lose to the waiting batch's later ones, where written
    apart it comes last: such a batch is not taken in."""
    config = _config(tmp_path)
    batches, _ = plan(config, [("g.x", 1, MINUTE + 10), ("g.x", 2, MINUTE + 20)])
    waiting = batches["gauges"]
    again, _ = plan(config, [("g.x", 3, MINUTE + 10)])
    assert not absorb(waiting, again["gauges"], 100)
    cut, _ = plan(config, [("g.x", 6, MINUTE + 20), ("g.x", 7, MINUTE + 30)])
    assert absorb(waiting, cut["gauges"], 100)  # the rest of its last timestamp, then newer ones
    backwards, _ = plan(config, [("g.x", 8, MINUTE + 40), ("g.x", 9, MINUTE + 30)])
    assert absorb(waiting, backwards["gauges"], 100)  # none earlier than its latest
    older, _ = plan(config, [("g.x", 4, MINUTE + 5), ("g.y", 5, MINUTE + 50)])
    assert not absorb(waiting, older["gauges"], 100)
    for batch in (waiting, again["gauges"], older["gauges"]):
        assert store(batch) == []
    series = waiting.schema.timeseries
    # as written apart, in order: the first batch, cut, backwards, again, older
    assert series.series("g.x", "10s", start=MINUTE, end=MINUTE + 40) == {
        MINUTE: 4, MINUTE + 10: 3, MINUTE + 20: 6, MINUTE + 30: 9, MINUTE + 40: 8}
    assert series.get("g.y", "10s", timestamp=MINUTE + 50) == {MINUTE + 50: 5}


def _markers(db_path):
    engine = sa.create_engine("sqlite:///%s" % db_path)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM kairos_batches")).scalar()
    engine.dispose()
    return count


def test_karbon_behind_its_writer_stores_the_waiting_flushes_as_one_batch(tmp_path, start_karbon):
    """The writer is held in its first batch (the file's writer turn is taken); five more
    flushes come, each planned alone. The first waits for the writer, the next four join it:
    two writes in all, every value stored once."""
    db = tmp_path / "data.db"
    _config(tmp_path).schemas["counts"].timeseries.insert("c.a", 0, timestamp=MINUTE - 60)
    karbon = start_karbon(textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': r'^c\\.',
                              'intervals': {'10s': {'step': 10}, '1m': {'step': 60}}}}
        DEBUG = 1
        """) % db, "--metrics", "127.0.0.1:0")
    metrics_port = karbon.wait_for(r"metrics http://127\.0\.0\.1:(\d+)").group(1)
    turn = open(os.path.realpath(str(db)) + "-kairos-writer")
    fcntl.flock(turn, fcntl.LOCK_EX)
    try:
        at = 0
        for flush in range(6):
            send(karbon.port, b"".join(b"c.%s %d %d\n" % (stat, flush + 1, MINUTE + 10 * flush)
                                       for stat in (b"a", b"b")))
            # planned and handed on: to the writer, then to the batch waiting for it
            at = karbon.wait_for(r"DONE lines=2 ", at).end()
    finally:
        fcntl.flock(turn, fcntl.LOCK_UN)
        turn.close()
    reader = _config(tmp_path, "reader.py").schemas["counts"].timeseries
    wait_until(lambda: reader.get("c.b", "10s", timestamp=MINUTE + 50) == {MINUTE + 50: 6},
               "the last flush")
    merged = re.search(r'^karbon_batches_merged_total\{schema="counts"\} (\S+)$',
                       _get("http://127.0.0.1:%s/metrics" % metrics_port), re.M)
    assert karbon.stop() == 0
    assert merged and float(merged.group(1)) == 4
    assert reader.get("c.a", "1m", timestamp=MINUTE) == {MINUTE: 1 + 2 + 3 + 4 + 5 + 6}
    assert reader.series("c.b", "10s", start=MINUTE, end=MINUTE + 50) == {
        MINUTE + 10 * n: n + 1 for n in range(6)}
    assert _markers(db) == 2, karbon.output()
