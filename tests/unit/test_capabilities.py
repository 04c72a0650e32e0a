"""Engine capabilities: what each engine declares, and torus deciding from them (not from names).

Callers ask ``native_expiry``, ``exactly_once``, ``blocking`` and ``keep_batch_ids``
instead of which engine or database driver serves a schema; a stand-in engine that
declares a capability gets the behaviour, whatever it is called.
"""
from types import SimpleNamespace

import pytest
from gevent import monkey

from kairos import Timeseries
from kairos.intervals import parse_intervals
from torus.ingest import Ingest, SchemaWriter
from torus.processing import Batch
from torus.retention import needs_expiry

MINUTE = {"minute": {"step": 60}}
CAPABILITIES = ("native_expiry", "exactly_once", "blocking", "keep_batch_ids")


@pytest.mark.parametrize("client, options, declared", [
    ("sqlite:///%(tmp)s/file.db", {}, (False, True, True)),       # the driver holds the process
    ("sqlite://", {}, (False, True, False)),                        # in memory: no waits
    ("postgresql://u@127.0.0.1:1/x", {}, (False, True, False)),     # psycopg yields to gevent
    ("redis://127.0.0.1:1/0", {}, (True, True, False)),
    ("mongodb://127.0.0.1:1/x", {"client_config": {"connect": False}}, (True, False, False)),
    ("cassandra://127.0.0.1:1/ks", {}, (True, False, False)),
])
def test_each_engine_declares_its_capabilities(tmp_path, client, options, declared):
    series = Timeseries(client % {"tmp": tmp_path}, type="count", intervals=MINUTE, **options)
    try:
        assert all(isinstance(getattr(series, name), bool) for name in CAPABILITIES)
        assert (series.native_expiry, series.exactly_once, series.blocking) == declared
        assert series.keep_batch_ids is False  # a caller's choice (karbon_replay sets it)
    finally:
        series.close()


def _schema(**capabilities):
    timeseries = SimpleNamespace(intervals=parse_intervals({"m": {"step": 60, "steps": 2}}),
                                 **capabilities)
    return SimpleNamespace(name="stand-in", timeseries=timeseries, rolling=0)


@pytest.mark.parametrize("native_expiry, exactly_once, steps, expected", [
    (True, True, True, False),     # the storage expires data and batch ids itself
    (False, False, True, True),    # rows past steps stay until deleted
    (False, True, False, True),    # batch ids stay in a table until deleted
    (False, False, False, False),  # nothing ever expires
])
def test_retention_follows_declared_expiry(native_expiry, exactly_once, steps, expected):
    schema = _schema(native_expiry=native_expiry, exactly_once=exactly_once)
    if not steps:
        schema.timeseries.intervals = parse_intervals({"m": {"step": 60}})
    assert needs_expiry(schema) is expected


@pytest.mark.parametrize("blocking", [True, False])
def test_a_blocking_engine_is_written_from_a_thread_of_its_own(blocking):
    real_thread = monkey.get_original("threading", "get_ident")
    writers = []
    schema = _schema(blocking=blocking, storage_file=None)  # no file shared with another schema
    schema.timeseries.bulk_insert = lambda *args, **kwargs: writers.append(real_thread())
    # a blocking engine's batch is prepared here and written from its thread
    schema.timeseries.prepare_bulk = lambda *args, **kwargs: (
        lambda: writers.append(real_thread()))
    ingest = Ingest(holder=SimpleNamespace(current=SimpleNamespace(debug=0)))
    writer = SchemaWriter("stand-in", ingest)
    writer.write(Batch(schema, {60: {"a": [1]}}, points=1, id="b"))
    writer.stop()
    writer.greenlet.join(5)
    for pool in ingest.threads.values():
        pool.kill()
    assert len(writers) == 1
    assert (writers[0] != real_thread()) is blocking
