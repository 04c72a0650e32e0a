"""The ingest pipeline: bounded byte queue, back-pressure, retries, dead letters (in-memory SQLite)."""
import json
import textwrap

import gevent
import gevent.socket
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from gevent.event import Event

from kairos import BackendError
from torus.config import ConfigHolder
from torus.dead_letter import DeadLetter, Throttle
from tests.unit.test_carbon import HOSTILE_LINE
from torus import ingest as ingest_module, metrics
from torus.ingest import Ingest, RetryPolicy

CONFIG = """
SCHEMAS = {
    'counts': {'type': 'count', 'host': 'sqlite:///:memory:', 'match': '^c\\\\.',
               'intervals': {'m': {'step': 60}}},
    'gauges': {'type': 'gauge', 'host': 'sqlite:///:memory:', 'match': '^g\\\\.',
               'intervals': {'m': {'step': 60}}},
    'users': {'type': 'set', 'host': 'sqlite:///:memory:', 'match': '^u\\\\.', 'write_func': str,
              'read_func': str, 'value_type': 'string', 'intervals': {'m': {'step': 60}}},
}
AGGREGATES = [('c.all', 'c.*')]
"""


def test_throttle_limits_per_key():
    now = [0.0]
    throttle = Throttle(limit=2, period=10, clock=lambda: now[0])
    assert [throttle.allow("bad") for _ in range(4)] == [True, True, False, False]
    assert throttle.allow("other")
    now[0] = 11
    assert throttle.allow("bad")


# -- the pipeline --------------------------------------------------------------------
@pytest.fixture
def holder(tmp_path):
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent(CONFIG))
    return ConfigHolder([str(path)])


def _lines(prefix, count, ts=1700000000):
    return "".join("%s.%d %d %d\n" % (prefix, i % 7, i, ts) for i in range(count)).encode()


def test_points_are_routed_stored_and_counted(holder):
    ingest = Ingest(holder)
    ingest.start()
    ingest.submit(b"c.a 1 1700000000\nc.b 2 1700000000\ng.x 2.5 1700000000\nbad\nq.z 1 1\n", "t")
    assert ingest.close(timeout=10)
    schemas = holder.current.schemas
    assert schemas["counts"].timeseries.get("c.all", "m", timestamp=1700000000) == {1699999980: 3}
    assert schemas["gauges"].timeseries.get("g.x", "m", timestamp=1700000000) == {1699999980: 2.5}
    c = ingest.counters
    assert (c.lines, c.points, c.bad, c.unmatched, c.stored, c.failed) == (5, 4, 1, 1, 5, 0)


def test_slow_storage_blocks_submitters_instead_of_growing(holder, monkeypatch):
    release = Event()
    counts = holder.current.schemas["counts"].timeseries
    real = counts.bulk_insert

    def blocked(*args, **kwargs):
        release.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(counts, "bulk_insert", blocked)
    # the batch waiting for the blocked writer takes in what is planned after it, up to this
    monkeypatch.setattr(ingest_module, "MERGED_POINTS", 500)
    def merged():
        return metrics.REGISTRY.get_sample_value("karbon_batches_merged_total", {"schema": "counts"}) or 0
    merged_before = merged()
    ingest = Ingest(holder, queue_bytes=4096, batch_bytes=1024)
    ingest.start()
    block = _lines("c", 40)  # about 600 bytes
    sender = gevent.spawn(lambda: [ingest.submit(block, "t") for _ in range(200)])
    gevent.sleep(0.2)
    assert not sender.dead  # waiting for space: the queue is bounded
    assert ingest.queue.size <= 4096 + len(block)
    assert merged() > merged_before  # later batches joined the one waiting for the writer...
    assert ingest.writers["counts"].queue.queue[-1][1].points <= 500  # ...up to its bound
    release.set()
    sender.join(30)
    assert sender.dead
    assert ingest.close(timeout=30)
    assert ingest.counters.stored == 200 * 40 * 2  # each point and its c.all rollup
    assert counts.get("c.all", "m", timestamp=1700000000)[1699999980] == 200 * sum(range(40))


def test_the_planner_lets_greenlets_whose_sockets_are_ready_run_between_blocks(holder):
    # a writer waiting for its storage's answer: the answer is there, but gevent's loop
    # has not polled the socket, which ``sleep(0)`` does not make it do
    storage, server = gevent.socket.socketpair()
    left_when_woken = []
    items = [(_lines("g", 5000), "t", 1700000000.0) for _ in range(10)]

    def writer():
        storage.recv(1)
        left_when_woken.append(len(items))
    waiting = gevent.spawn(writer)
    gevent.sleep(0)  # now waiting on its socket
    server.send(b"x")
    ingest = Ingest(holder)
    ingest.process(items)  # plans 50,000 points: several planner slices
    waiting.join(5)
    assert left_when_woken and left_when_woken[0] > 0  # ran before the planner finished
    assert ingest.close(timeout=30)
    assert ingest.counters.stored == 50000
    storage.close()
    server.close()


def test_a_greenlet_that_never_waits_does_not_starve_the_planner(holder):
    # a socket that is always ready (a flood of datagrams karbon drops) keeps gevent's
    # loop busy: a turn at the loop's default priority would wait for it for ever
    spinning = [True]

    def spinner():
        while spinning[0]:
            gevent.sleep(0)
    busy = gevent.spawn(spinner)
    try:
        ingest = Ingest(holder)
        planned = gevent.spawn(ingest.process,
                               [(_lines("g", 5000), "t", 1700000000.0) for _ in range(4)])
        planned.join(10)
        assert planned.dead and planned.successful()
    finally:
        spinning[0] = False
        busy.join(5)
    assert ingest.close(timeout=30)
    assert ingest.counters.stored == 20000


def test_failed_batches_are_retried(holder, monkeypatch):
    counts = holder.current.schemas["counts"].timeseries
    real = counts.bulk_insert
    failures = [BackendError("down"), BackendError("still down")]

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(counts, "bulk_insert", flaky)
    ingest = Ingest(holder, retry=RetryPolicy((0, 0, 0)))
    ingest.start()
    ingest.submit(b"c.a 5 1700000000\n", "t")
    assert ingest.close(timeout=10)
    assert ingest.counters.retries == 2
    assert ingest.counters.failed == 0
    assert counts.get("c.a", "m", timestamp=1700000000) == {1699999980: 5}


def test_a_dead_backend_goes_to_dead_letters_and_spares_other_schemas(holder, monkeypatch, tmp_path):
    counts = holder.current.schemas["counts"].timeseries

    def down(*args, **kwargs):
        raise BackendError("connection refused")

    monkeypatch.setattr(counts, "bulk_insert", down)
    ingest = Ingest(holder, retry=RetryPolicy((0, 0)), dead_letter=DeadLetter(str(tmp_path / "dl")))
    ingest.start()
    ingest.submit(b"c.a 5 1700000000\ng.x 7 1700000000\n", "t")
    assert ingest.close(timeout=10)
    gauges = holder.current.schemas["gauges"].timeseries
    assert gauges.get("g.x", "m", timestamp=1700000000) == {1699999980: 7}
    letters = (tmp_path / "dl" / "counts.carbon").read_text().splitlines()
    header, *lines = letters
    assert sorted(lines) == ["c.a 5 1700000000", "c.all 5 1700000000"]
    fields = json.loads(header[len("# karbon-dead-letter "):])
    assert fields["schema"] == "counts" and fields["points"] == 2
    assert fields["batch"] and "connection refused" in fields["reason"]
    assert ingest.counters.failed == 2
    assert ingest.counters.retries == 2


def test_text_values_reach_write_func_and_the_default_rejects_them(holder, caplog):
    ingest = Ingest(holder)
    ingest.start()
    ingest.submit(b"u.online alice 1700000000\nu.online bob 1700000000\nc.a lots 1700000000\n", "t")
    assert ingest.close(timeout=10)
    users = holder.current.schemas["users"].timeseries
    assert users.get("u.online", "m", timestamp=1700000000) == {1699999980: {"alice", "bob"}}
    assert ingest.counters.rejected == 2  # c.a and its c.all rollup: long_or_float('lots')
    assert ingest.counters.stored == 2
    assert "REJECT c.a 'lots'" in caplog.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), HOSTILE_LINE, st.integers(0, 1000)), min_size=1, max_size=25),
       st.integers(1, 4))
def test_no_input_costs_a_valid_neighbour_its_place_in_storage(tmp_path_factory, items, blocks):
    """Valid count lines, each next to hostile ones, split over several submitted blocks: every
    valid point is stored exactly once, through parsing, routing, write_func and storage."""
    path = tmp_path_factory.mktemp("fuzz") / "conf.py"
    path.write_text(textwrap.dedent(CONFIG))
    holder = ConfigHolder([str(path)])
    lines, expected = [], {}
    for number, (hostile_first, hostile, value) in enumerate(items):
        good = "c.f%d %d 1700000000\n" % (number % 5, value)
        expected["c.f%d" % (number % 5)] = expected.get("c.f%d" % (number % 5), 0) + value
        lines.extend([hostile, good] if hostile_first else [good, hostile])
    ingest = Ingest(holder)
    ingest.start()
    per_block = -(-len(lines) // blocks)
    for start in range(0, len(lines), per_block):
        ingest.submit("".join(lines[start:start + per_block]).encode("utf-8"), "fuzz")
    assert ingest.close(timeout=30)
    counts = holder.current.schemas["counts"].timeseries
    for name, total in expected.items():
        got = counts.get(name, "m", timestamp=1700000000)[1699999980]
        assert got == total, (name, got, total)  # hostile names hold no "." nor "c.f"
    assert ingest.counters.failed == 0
