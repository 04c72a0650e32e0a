"""karbon under faults and hostile input: nothing lost, nothing counted twice (real servers).

Faults are real: a private redis-server is paused with SIGSTOP while karbon writes,
so karbon's writes time out while Redis still holds them, and resumed later, when
it runs every copy karbon sent.
"""
import os
import subprocess
import sys
import textwrap

import gevent
import pytest

from tests.conftest import ROOT, require
from tests.functional.test_karbon import BASE_TS, send, wait_until
from torus.config import Configuration

REPLAY = os.path.join(ROOT, "bin", "karbon_replay")


def counters_of(karbon):
    """karbon's exit totals, as ints."""
    summary = karbon.wait_for(r"stopped: (.*)").group(1)
    return {key: int(value) for key, value in (item.split("=") for item in summary.split())}


def replay(config, *paths):
    return subprocess.run([sys.executable, REPLAY, "--config", str(config), *map(str, paths)],
                          capture_output=True, text=True, timeout=60)


def count_config(url, prefix, timeout=0.5, layout="key"):
    return textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'prefix': %r, 'match': r'^c\\.',
                              'layout': %r,
                              'client_config': {'socket_timeout': %r, 'socket_connect_timeout': %r,
                                                # no handshake: every retry sends its batch
                                                'protocol': 2, 'driver_info': None},
                              'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}}}
        AGGREGATES = [('c.all', 'c.*')]
        DEBUG = 1
        """) % (url, prefix, layout, timeout, timeout)


def lines(name, count, value=1, ts=BASE_TS):
    return b"".join(b"%s %d %d\n" % (name.encode(), value, ts) for _ in range(count))


@pytest.mark.parametrize("layout", ["key", "hash"])
def test_a_batch_redis_applied_after_karbon_gave_up_is_counted_once(
        tmp_path, start_karbon, redis_server, unique_name, layout):
    """Timeouts, retries and a replay of the dead letters all reach Redis: one count each."""
    letters = tmp_path / "letters"
    karbon = start_karbon(count_config(redis_server.url, unique_name, layout=layout),
                          "--dead-letter", str(letters),
                          "--retry-delays", "0.2,0.2")
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    total = lambda name: counts.get(name, "hour", timestamp=BASE_TS)[BASE_TS - BASE_TS % 3600]  # noqa
    send(karbon.port, lines("c.a", 100))
    wait_until(lambda: total("c.a") == 100, "the first points to be stored")
    evals_before = redis_server.calls("eval")

    redis_server.pause()
    send(karbon.port, lines("c.a", 50))
    wait_until(lambda: (letters / "counts.carbon").exists(), "karbon to give up on the batch")
    redis_server.resume()  # Redis now runs the batch karbon sent three times
    wait_until(lambda: total("c.a") == 150, "Redis to apply the delayed batch")

    result = replay(karbon.config, letters)
    assert result.returncode == 0, result.stderr
    assert "2 parts" not in result.stdout and "100 points: 100 stored" in result.stdout

    assert total("c.a") == 150 and total("c.all") == 150
    assert redis_server.calls("eval") - evals_before >= 4  # 3 attempts and the replay all arrived
    assert not (letters / "counts.carbon").exists()  # replayed files are removed
    assert karbon.stop() == 0
    found = counters_of(karbon)
    assert found["retries"] == 2 and found["failed"] == 100  # c.a and c.all of 50 lines


def test_replay_keeps_what_still_cannot_be_stored(tmp_path, start_karbon, redis_server, unique_name):
    letters = tmp_path / "letters"
    karbon = start_karbon(count_config(redis_server.url, unique_name), "--dead-letter", str(letters),
                          "--retry-delays", "")
    redis_server.stop()
    send(karbon.port, lines("c.a", 5))
    wait_until(lambda: (letters / "counts.carbon").exists(), "the dead letters")
    assert karbon.stop() == 0
    before = (letters / "counts.carbon").read_text()
    result = replay(karbon.config, letters / "counts.carbon")
    assert result.returncode == 1 and "10 kept for a later run" in result.stdout
    after = (letters / "counts.carbon").read_text()
    assert after.count("# karbon-dead-letter") == 1 and after.split("\n", 1)[1] == before.split("\n", 1)[1]
    dry = replay(karbon.config, "--dry-run", letters)
    assert dry.returncode == 0 and "10 points (dry run" in dry.stdout


HOSTILE = [
    b"c.h " + b"9" * 5000 + b" %d" % BASE_TS,          # past Python's int conversion limit
    b"c.h 1 " + b"9" * 5000,
    b"c.h 1 1e30",
    b"c.h 1 %d" % (BASE_TS * 10 ** 9),                  # nanoseconds
    b"c.h 1 %d" % (BASE_TS * 1000),                     # milliseconds
    b"c.%s 1 %d" % (b"n" * 300, BASE_TS),               # longer than a SQL name column
    b"c.h -" + b"9" * 400 + b" %d" % BASE_TS,           # an int no 64-bit column holds
    b"c.h 1e400 %d" % BASE_TS,                          # not finite: dropped
]


@pytest.mark.parametrize("layout", ["key", "hash"])
def test_batches_in_flight_through_a_stall_land_once_and_in_order(
        tmp_path, start_karbon, redis_server, unique_name, layout):
    """karbon sends a Redis batch before reading the previous one's replies; a stall fails
    every batch in flight, and their retries still store each point once, in order (a gauge
    ends with the last value sent)."""
    config = textwrap.dedent("""
        _options = {'host': %r, 'prefix': %r, 'layout': %r,
                   'client_config': {'socket_timeout': 0.5, 'socket_connect_timeout': 0.5},
                   'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}}
        SCHEMAS = {'counts': dict(_options, type='count', match=r'^c\\.'),
                   'gauges': dict(_options, type='gauge', match=r'^g\\.', read_func=int)}
        DEBUG = 1
        """) % (redis_server.url, unique_name, layout)
    karbon = start_karbon(config, "--retry-delays", "0.5,0.5,1,2,5")
    schemas = Configuration([str(karbon.config)]).schemas
    counts, gauges = schemas["counts"].timeseries, schemas["gauges"].timeseries
    hour = BASE_TS - BASE_TS % 3600
    total = 150000  # about 5 MB: several 2 MB batches per schema
    payload = b"".join(b"g.last %d %d\nc.n 1 %d\n" % (i, BASE_TS, BASE_TS)
                       for i in range(1, total + 1))
    send(karbon.port, b"c.n 1 %d\n" % BASE_TS)
    wait_until(lambda: counts.get("c.n", "hour", timestamp=BASE_TS)[hour] == 1,
               "the first point to be stored")
    redis_server.pause()
    sender = gevent.spawn(send, karbon.port, payload)
    gevent.sleep(1.5)  # past the socket timeout of every batch in flight
    redis_server.resume()
    sender.get(timeout=60)
    wait_until(lambda: counts.get("c.n", "hour", timestamp=BASE_TS)[hour] == total + 1,
               "every count to be stored")
    # the gauges have a writer of their own, which may finish later
    wait_until(lambda: gauges.get("g.last", "hour", timestamp=BASE_TS) == {hour: total},
               "the last gauge to be stored")
    assert gauges.get("g.last", "10s", timestamp=BASE_TS) == {BASE_TS: total}
    assert gauges.get("g.last", "hour", timestamp=BASE_TS) == {hour: total}
    assert karbon.stop() == 0
    found = counters_of(karbon)
    assert found["failed"] == 0 and found["retries"] >= 1
    assert found["stored"] == 2 * total + 1
    assert counts.get("c.n", "hour", timestamp=BASE_TS)[hour] == total + 1
    assert karbon.output().count("STOR schema=counts") > 2  # several batches per schema


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "redis", "redis-hash"])
def test_hostile_values_cost_only_themselves(backend, tmp_path, start_karbon, unique_name):
    layout = "'layout': 'hash'," if backend == "redis-hash" else ""
    backend = "redis" if backend == "redis-hash" else backend
    if backend == "sqlite":
        host = "sqlite:///%s" % (tmp_path / "h.db")
    else:
        host = require(backend)
    store = "prefix" if backend == "redis" else "table_name"
    config = textwrap.dedent("""
        SCHEMAS = {
            'counts': {'type': 'count', 'host': %(host)r, %(store)r: %(token)r + '_c',
                       'match': r'^c\\.', %(layout)s
                       'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}},
            'totals': {'type': 'count', 'host': %(host)r, %(store)r: %(token)r + '_t',
                       'match': r'^t\\.', %(int)s %(layout)s 'intervals': {'10s': {'step': 10}}},
        }
        """) % {"host": host, "store": store, "token": unique_name, "layout": layout,
                "int": "" if backend == "redis" else "'value_type': 'int',"}
    karbon = start_karbon(config, "--retry-delays", "0.1")
    good = [b"c.g%d %d %d" % (i, i, BASE_TS) for i in range(len(HOSTILE) + 1)]
    mixed = [line for pair in zip(good, HOSTILE + [b""]) for line in pair if line]
    # a total past 64 bits: Redis and SQLite go on as a float, PostgreSQL refuses the value alone
    big = [b"t.big 9223372036854775807 %d" % BASE_TS, b"t.ok 3 %d" % BASE_TS,
           b"t.big 1 %d" % BASE_TS]
    for connection in range(3):  # the same mixture on several connections
        send(karbon.port, b"\n".join(mixed) + b"\n")
    send(karbon.port, b"\n".join(big[:2]) + b"\n")
    send(karbon.port, big[2] + b"\n")
    assert karbon.stop() == 0
    schemas = Configuration([str(karbon.config)]).schemas
    counts, totals = schemas["counts"].timeseries, schemas["totals"].timeseries
    for i in range(len(good)):
        assert counts.get("c.g%d" % i, "10s", timestamp=BASE_TS) == {BASE_TS: 3 * i}
    assert totals.get("t.ok", "10s", timestamp=BASE_TS) == {BASE_TS: 3}
    big_total = totals.get("t.big", "10s", timestamp=BASE_TS)[BASE_TS]
    found = counters_of(karbon)
    assert found["failed"] == 0 and found["retries"] == 0  # nothing stalled, nothing dead-lettered
    assert found["bad"] == 3 * 5 and found["dropped"] == 3
    # refused one by one: the 400-digit int (no float holds it), and on SQL the long name
    if backend == "postgresql":
        assert big_total == 2 ** 63 - 1  # the second t.big refused alone
        assert found["rejected"] == 3 * 2 + 1
        assert "REJECT t.big 1" in karbon.output()
    elif backend == "sqlite":
        assert big_total == float(2 ** 63) and found["rejected"] == 3 * 2
    else:
        assert big_total == float(2 ** 63) and found["rejected"] == 3  # Redis keeps both as a float
    stored_long_names = 3 if backend == "redis" else 0
    assert found["stored"] == 3 * len(good) + stored_long_names + (2 if backend == "postgresql" else 3)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_no_limit_on_the_values_of_one_bucket_in_one_batch(backend, tmp_path, start_karbon, unique_name):
    host = "sqlite:///%s" % (tmp_path / "s.db") if backend == "sqlite" else require("redis")
    store = "prefix" if backend == "redis" else "table_name"
    config = textwrap.dedent("""
        SCHEMAS = {'series': {'type': 'series', 'host': %r, %r: %r, 'match': r'^s\\.',
                              'intervals': {'10s': {'step': 10}}}}
        DEBUG = 1
        """) % (host, store, unique_name)
    karbon = start_karbon(config)
    values = 30000  # Lua's unpack stopped near 8,000 and the batch was dead-lettered forever
    send(karbon.port, b"".join(b"s.x %d %d\n" % (i, BASE_TS) for i in range(values)))
    assert karbon.stop() == 0
    series = Configuration([str(karbon.config)]).schemas["series"].timeseries
    stored = series.get("s.x", "10s", timestamp=BASE_TS)[BASE_TS]
    assert stored == list(range(values))
    assert counters_of(karbon)["failed"] == 0


def test_a_commit_whose_reply_was_lost_is_not_applied_twice_on_postgresql(
        tmp_path, start_karbon, unique_name):
    """PostgreSQL commits, the reply never reaches karbon, karbon retries: counted once."""
    from urllib.parse import urlsplit

    from kairos import Timeseries
    from tests.functional.tcp_proxy import LosingProxy
    url = require("postgresql")
    parts = urlsplit(url)
    proxy = LosingProxy((parts.hostname, parts.port or 5432), b"COMMIT")
    proxy.armed = False
    through_proxy = url.replace(parts.netloc, "%s@127.0.0.1:%d" % (parts.username, proxy.port))
    intervals = {'10s': {'step': 10}}
    config = textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'table_name': %r, 'match': r'^c\\.',
                              'intervals': %r}}
        DEBUG = 1
        """) % (through_proxy, unique_name, intervals)
    karbon = start_karbon(config, "--retry-delays", "0.2,0.2")
    counts = Timeseries(url, type="count", intervals=intervals, table_name=unique_name)
    total = lambda: counts.get("c.a", "10s", timestamp=BASE_TS)[BASE_TS]  # noqa: E731
    try:
        send(karbon.port, lines("c.a", 10))
        wait_until(lambda: total() == 10, "the first batch")
        proxy.armed = True  # the next COMMIT's reply is lost
        send(karbon.port, lines("c.a", 5))
        karbon.wait_for(r"retry 1 of 2")
        wait_until(lambda: total() == 15, "the retry")
        assert karbon.stop() == 0
        assert proxy.lost == 1 and total() == 15
        found = counters_of(karbon)
        assert found["retries"] == 1 and found["failed"] == 0 and found["stored"] == 15
    finally:
        proxy.stop()
        counts.table.drop(counts.db, checkfirst=True)


def test_a_postgresql_that_stops_answering_is_a_timeout_not_a_hang(tmp_path, start_karbon, unique_name):
    """Without a deadline karbon waited for ever, and SIGTERM never finished."""
    from urllib.parse import urlsplit

    from kairos import Timeseries
    from tests.functional.tcp_proxy import LosingProxy
    url = require("postgresql")
    parts = urlsplit(url)
    proxy = LosingProxy((parts.hostname, parts.port or 5432), b"\x00never\x00")
    through_proxy = url.replace(parts.netloc, "%s@127.0.0.1:%d" % (parts.username, proxy.port))
    intervals = {'10s': {'step': 10}}
    letters = tmp_path / "letters"
    config = textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'table_name': %r, 'match': r'^c\\.',
                              'timeout': 1, 'intervals': %r}}
        DEBUG = 1
        """) % (through_proxy, unique_name, intervals)
    karbon = start_karbon(config, "--retry-delays", "0.1,0.1", "--dead-letter", str(letters),
                          "--drain-timeout", "2")
    counts = Timeseries(url, type="count", intervals=intervals, table_name=unique_name)
    total = lambda: counts.get("c.a", "10s", timestamp=BASE_TS)[BASE_TS]  # noqa: E731
    try:
        send(karbon.port, lines("c.a", 10))
        wait_until(lambda: total() == 10, "the first batch")
        proxy.hold = True  # PostgreSQL stops answering
        send(karbon.port, lines("c.a", 5))
        wait_until(lambda: (letters / "counts.carbon").exists(), "the timeouts and the dead letters")
        assert "did not answer within 1 s (timeout)" in karbon.output()
        karbon.signal(15)
        assert karbon.proc.wait(15) == 0  # a stop that ends
        proxy.hold = False
        result = replay(karbon.config, letters)
        assert result.returncode == 0, result.stdout + result.stderr
        assert total() == 15
    finally:
        proxy.hold = False
        proxy.stop()
        counts.table.drop(counts.db, checkfirst=True)
