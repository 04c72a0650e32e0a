"""Schemas sharing one SQLite file are written from one thread (real SQLite files).

Two writer threads on one file wait on each other's lock (SQLite's busy handler
sleeps); one thread per file serialises their batches instead, while each schema
keeps its own queue, order, retries and dead letters.
"""
import json
import textwrap

import pytest
from gevent import monkey

from kairos import BackendError
from torus.config import ConfigHolder
from torus.dead_letter import DeadLetter
from torus.ingest import Ingest, RetryPolicy

CONFIG = """
SCHEMAS = {
    'counts': {'type': 'count', 'host': %(counts)r, 'match': '^c\\\\.',
               'intervals': {'m': {'step': 60}, 'h': {'step': 3600}}},
    'gauges': {'type': 'gauge', 'host': %(gauges)r, 'match': '^g\\\\.',
               'intervals': {'m': {'step': 60}, 'h': {'step': 3600}}},
}
"""
TS = 1700000000
real_ident = monkey.get_original("threading", "get_ident")


def _holder(tmp_path, counts_file, gauges_file):
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent(CONFIG % {
        "counts": "sqlite:///%s" % (tmp_path / counts_file),
        "gauges": "sqlite:///%s" % (tmp_path / gauges_file)}))
    return ConfigHolder([str(path)])


def _spy(monkeypatch, timeseries, threads, prepared=None):
    """Record the threads ``timeseries`` writes from (and makes its rows in: ``prepared``)."""
    real = timeseries.prepare_bulk

    def recorded(*args, **kwargs):
        if prepared is not None:
            prepared.add(real_ident())
        write = real(*args, **kwargs)

        def run():
            threads.add(real_ident())
            return write()
        return run
    monkeypatch.setattr(timeseries, "prepare_bulk", recorded)


def _block(prefix, names, ts):
    return "".join("%s.n%d %d %d\n" % (prefix, i, i, ts) for i in range(names)).encode()


def _load(ingest, blocks=40, names=500):
    for k in range(blocks):
        ingest.submit(_block("c", names, TS + k), "t")
        ingest.submit(_block("g", names, TS + k), "t")


@pytest.fixture
def shared(tmp_path):
    holder = _holder(tmp_path, "one.db", "one.db")
    yield holder
    for schema in holder.current.schemas.values():
        schema.timeseries.close()


def test_two_schemas_on_one_file_are_written_from_one_thread_and_both_stored(
        shared, monkeypatch, caplog):
    schemas = shared.current.schemas
    counts, gauges = schemas["counts"].timeseries, schemas["gauges"].timeseries
    assert counts.storage_file == gauges.storage_file is not None
    threads_c, threads_g, prepared = set(), set(), set()
    _spy(monkeypatch, counts, threads_c, prepared)
    _spy(monkeypatch, gauges, threads_g, prepared)
    ingest = Ingest(shared, batch_bytes=4096)
    ingest.start()
    _load(ingest)
    assert ingest.close(timeout=60)
    assert threads_c == threads_g and len(threads_c) == 1
    assert real_ident() not in threads_c  # still off the gevent hub's thread
    # the rows are made on the hub's thread: the file's thread only writes them, and
    # takes the GIL back once per statement
    assert prepared == {real_ident()}
    c = ingest.counters
    assert (c.points, c.stored, c.failed, c.retries) == (40000, 40000, 0, 0)
    assert "database is locked" not in caplog.text
    assert counts.get("c.n7", "h", timestamp=TS) == {TS // 3600 * 3600: 7 * 40}
    assert gauges.get("g.n7", "m", timestamp=TS + 39) == {(TS + 39) // 60 * 60: 7}
    assert len(counts.list()) == len(gauges.list()) == 500


def test_a_failing_schema_on_the_shared_file_does_not_block_the_other(
        shared, monkeypatch, tmp_path):
    schemas = shared.current.schemas
    counts, gauges = schemas["counts"].timeseries, schemas["gauges"].timeseries

    def down(*args, **kwargs):
        def write():
            raise BackendError("disk full")
        return write
    monkeypatch.setattr(counts, "prepare_bulk", down)
    ingest = Ingest(shared, batch_bytes=4096, retry=RetryPolicy((0, 0)),
                    dead_letter=DeadLetter(str(tmp_path / "dl")))
    ingest.start()
    _load(ingest, blocks=5, names=100)
    assert ingest.close(timeout=30)
    assert gauges.get("g.n3", "m", timestamp=TS) == {TS // 60 * 60: 3}
    assert len(gauges.list()) == 100
    letters = (tmp_path / "dl" / "counts.carbon").read_text().splitlines()
    headers = [json.loads(line[len("# karbon-dead-letter "):]) for line in letters
               if line.startswith("# karbon-dead-letter ")]
    assert sum(h["points"] for h in headers) == 500
    assert ingest.counters.failed == 500 and ingest.counters.stored == 500


def test_schemas_on_different_files_keep_threads_of_their_own(tmp_path, monkeypatch):
    holder = _holder(tmp_path, "c.db", "g.db")
    schemas = holder.current.schemas
    counts, gauges = schemas["counts"].timeseries, schemas["gauges"].timeseries
    assert counts.storage_file != gauges.storage_file
    threads_c, threads_g = set(), set()
    _spy(monkeypatch, counts, threads_c)
    _spy(monkeypatch, gauges, threads_g)
    ingest = Ingest(holder, batch_bytes=4096)
    ingest.start()
    _load(ingest, blocks=3, names=50)
    assert ingest.close(timeout=30)
    assert len(threads_c) == len(threads_g) == 1 and threads_c != threads_g
    assert ingest.counters.stored == 300
    for schema in schemas.values():
        schema.timeseries.close()


def test_close_ends_the_writer_threads(shared):
    ingest = Ingest(shared)
    ingest.start()
    ingest.submit(b"c.a 1 1700000000\ng.b 2 1700000000\n", "t")
    assert ingest.close(timeout=10)
    assert ingest.counters.stored == 2
    assert not ingest.threads  # the pools were killed and forgotten


def test_only_files_share_a_key(tmp_path):
    from kairos import Timeseries
    memory = Timeseries("sqlite:///:memory:", type="count", intervals={"m": {"step": 60}})
    a = Timeseries("sqlite:///%s" % (tmp_path / "x.db"), type="count",
                   intervals={"m": {"step": 60}})
    b = Timeseries("sqlite:///%s/./x.db" % tmp_path, type="gauge", intervals={"m": {"step": 60}})
    try:
        assert memory.storage_file is None
        assert a.storage_file == b.storage_file == str((tmp_path / "x.db").resolve())
    finally:
        for series in (memory, a, b):
            series.close()
