"""karbon as a real subprocess on an ephemeral port, fed over TCP, checked by reading with kairos."""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import gevent
import pytest

from tests.conftest import ROOT, require
from torus.config import Configuration

KARBON = os.path.join(ROOT, "bin", "karbon")
BASE_TS = 1700000000
DEADLINE = 60  # seconds any wait may take before the test fails


def _redis_url():
    url = require("redis")
    try:
        import kairos.backends.redis_store  # noqa: F401
    except ImportError:
        pytest.skip("kairos.backends.redis_store does not exist yet")
    return url


def schemas_config(backend, tmp_path, token, debug=0, extra=""):
    """A configuration with a gauge and a count schema (with an aggregate) on one backend."""
    if backend == "sqlite":
        host = "sqlite:///%s" % (tmp_path / "karbon.db")
        gauge_opts = "'table_name': '%s_g'," % token
        count_opts = "'table_name': '%s_c'," % token
    else:
        host = _redis_url()
        gauge_opts = "'prefix': '%sg'," % token
        count_opts = "'prefix': '%sc'," % token
    return textwrap.dedent("""
        SCHEMAS = {
            'gauges': {'type': 'gauge', 'host': %(host)r, 'match': r'^g\\.', %(gauge)s
                       'intervals': {'10s': {'step': 10}}},
            'counts': {'type': 'count', 'host': %(host)r, 'match': r'^c\\.', %(count)s
                       'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}},
        }
        AGGREGATES = [('c.all.<m>', 'c.*.<m>')]
        DEBUG = %(debug)d
        """) % {"host": host, "gauge": gauge_opts, "count": count_opts, "debug": debug} + extra


class Karbon:
    """A karbon subprocess; stderr goes to a file the test can read."""

    def __init__(self, tmp_path, config_text, *args):
        self.config = tmp_path / "karbon_conf.py"
        self.config.write_text(config_text)
        self.log = tmp_path / "karbon.log"
        self.proc = subprocess.Popen(
            [sys.executable, KARBON, "--tcp", "127.0.0.1:0", "--config", str(self.config), *args],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), cwd=str(tmp_path))
        self.port = int(self.wait_for(r"listening on tcp 127\.0\.0\.1:(\d+)").group(1))

    def output(self):
        return self.log.read_text()

    def wait_for(self, pattern, after=0):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            match = re.compile(pattern).search(self.output(), after)
            if match:
                return match
            assert self.proc.poll() is None, "karbon exited: %s" % self.output()
            gevent.sleep(0.05)
        raise AssertionError("%r never logged:\n%s" % (pattern, self.output()))

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(DEADLINE)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_karbon(tmp_path):
    started = []

    def start(config_text, *args):
        karbon = Karbon(tmp_path, config_text, *args)
        started.append(karbon)
        return karbon
    yield start
    for karbon in started:
        karbon.kill()


def send(port, payload, pieces=1, rng=None):
    """Send ``payload`` on one connection in ``pieces`` random-sized writes, then close."""
    rng = rng or random.Random(0)
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        cuts = sorted(rng.randrange(len(payload) + 1) for _ in range(pieces - 1))
        for start, end in zip([0] + cuts, cuts + [len(payload)]):
            sock.sendall(payload[start:end])
            if pieces > 1:
                gevent.sleep(0)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # karbon closes after reading everything


def wait_until(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if predicate():
            return
        gevent.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Workload:
    """Gauges, counts (one with tags), garbage; the values karbon must end up storing."""

    def __init__(self, metrics, points, seed=1):
        self.rng = random.Random(seed)
        self.lines = []
        self.gauges = {}
        self.counts = {}
        for p in range(points):
            ts = BASE_TS + 10 * p
            for m in range(metrics):
                value = round(self.rng.uniform(-1000, 1000), 3)
                self.lines.append("g.m%d %r %d" % (m, value, ts))
                self.gauges[("g.m%d" % m, ts - ts % 10)] = value
                count = self.rng.randrange(100)
                name = "c.h%d.hits" % (m % 3)
                self.lines.append("%s\t%d  %d" % (name, count, ts))
                for stat in (name, "c.all.hits"):
                    key = (stat, ts - ts % 3600)
                    self.counts[key] = self.counts.get(key, 0) + count
            self.lines.append("g.tagged;zone=b;app=a %d %d" % (p, ts))
            self.gauges[("g.tagged;app=a;zone=b", ts)] = p
            self.lines.append("this is not carbon")
            self.lines.append("g.nan nan %d" % ts)

    def payloads(self, connections):
        """The lines dealt out to connections, \\r\\n on some, last line unterminated."""
        out = []
        for c in range(connections):
            mine = self.lines[c::connections]
            end = "\r\n" if c % 2 else "\n"
            out.append((end.join(mine)).encode())
        return out


def check_stored(config_path, work):
    config = Configuration([str(config_path)])
    gauges = config.schemas["gauges"].timeseries
    counts = config.schemas["counts"].timeseries
    for (name, ts), value in work.gauges.items():
        got = gauges.get(name, "10s", timestamp=ts)
        assert got == {ts: value}, (name, ts, got)
    for (name, ts), value in work.counts.items():
        got = counts.get(name, "hour", timestamp=ts)
        assert got == {ts: value}, (name, ts, got)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_many_split_connections_with_garbage_store_exactly(backend, tmp_path, start_karbon, unique_name):
    work = Workload(metrics=30, points=12)
    karbon = start_karbon(schemas_config(backend, tmp_path, unique_name))
    rng = random.Random(7)
    senders = [gevent.spawn(send, karbon.port, payload, pieces=25, rng=random.Random(rng.random()))
               for payload in work.payloads(6)]
    gevent.joinall(senders, raise_error=True, timeout=DEADLINE)
    assert karbon.stop() == 0
    check_stored(karbon.config, work)
    summary = karbon.wait_for(r"stopped: (.*)").group(1)
    counters = dict(item.split("=") for item in summary.split())
    assert counters["bad"] == "12"  # one garbage line per point step
    assert counters["dropped"] == "12"  # nan values
    assert counters["failed"] == "0"
    assert "this is not carbon" in karbon.output()  # logged, truncated, rate-limited


def test_reload_under_load_loses_nothing_and_a_broken_config_keeps_serving(
        tmp_path, start_karbon, unique_name):
    work = Workload(metrics=20, points=30, seed=3)
    good = schemas_config("sqlite", tmp_path, unique_name)
    karbon = start_karbon(good, "--queue-size", "1")
    payloads = work.payloads(4)

    def trickle(payload):
        chunk = len(payload) // 20 + 1
        with socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE) as sock:
            for start in range(0, len(payload), chunk):
                sock.sendall(payload[start:start + chunk])
                gevent.sleep(0.02)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(1)

    senders = [gevent.spawn(trickle, payload) for payload in payloads]
    for _ in range(3):
        gevent.sleep(0.05)
        karbon.signal(signal.SIGHUP)
    karbon.config.write_text(good.replace("DEBUG = 0", "DEBUG = 1"))
    karbon.signal(signal.SIGHUP)
    reloaded = karbon.wait_for(r"configuration reloaded \(generation \d+, DEBUG 1\)")
    send(karbon.port, b"g.probe 1 %d\n" % BASE_TS)
    # the new DEBUG took effect (the probe may share its batch with the trickling senders)
    karbon.wait_for(r"INFO DONE lines=\d+ ", after=reloaded.end())
    karbon.config.write_text(good + "\nSCHEMAS['broken'] = {'type': 'count'}\n")
    karbon.signal(signal.SIGHUP)
    karbon.wait_for(r"reload failed, still serving the previous configuration")
    gevent.joinall(senders, raise_error=True, timeout=DEADLINE)
    send(karbon.port, b"g.after 42 %d\n" % BASE_TS)
    assert karbon.stop() == 0
    karbon.config.write_text(good)
    check_stored(karbon.config, work)
    gauges = Configuration([str(karbon.config)]).schemas["gauges"].timeseries
    assert gauges.get("g.after", "10s", timestamp=BASE_TS) == {BASE_TS: 42}


def test_sigterm_drains_everything_read_and_exits_zero(tmp_path, start_karbon, unique_name):
    work = Workload(metrics=40, points=40, seed=5)
    karbon = start_karbon(schemas_config("sqlite", tmp_path, unique_name), "--queue-size", "1")
    payloads = work.payloads(3)
    socks = [socket.create_connection(("127.0.0.1", karbon.port), timeout=DEADLINE) for _ in payloads]
    for sock, payload in zip(socks, payloads):
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
    gauges = Configuration([str(karbon.config)]).schemas["gauges"].timeseries
    wait_until(lambda: gauges.list(), "the first points to be stored")
    karbon.signal(signal.SIGTERM)  # while most lines are still queued or unread
    assert karbon.proc.wait(DEADLINE) == 0
    for sock in socks:
        sock.close()
    check_stored(karbon.config, work)


SLOW_CONFIG = """
import os
import time
import sqlalchemy

_RELEASE = %(release)r
slow_engine = sqlalchemy.create_engine(%(slow_url)r)


@sqlalchemy.event.listens_for(slow_engine, 'before_cursor_execute')
def _hold(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith('INSERT'):
        while not os.path.exists(_RELEASE):
            time.sleep(0.05)  # gevent-patched in karbon: other greenlets run meanwhile


SCHEMAS = {
    'slow': {'type': 'gauge', 'host': slow_engine, 'match': r'^slow\\.',
             'intervals': {'10s': {'step': 10}}},
    'fast': {'type': 'gauge', 'host': %(fast_url)r, 'match': r'^fast\\.',
             'intervals': {'10s': {'step': 10}}},
}
"""


def test_slow_storage_does_not_stall_other_connections(tmp_path, start_karbon):
    release = tmp_path / "release"
    karbon = start_karbon(SLOW_CONFIG % {
        "release": str(release), "slow_url": "sqlite:///%s" % (tmp_path / "slow.db"),
        "fast_url": "sqlite:///%s" % (tmp_path / "fast.db")})
    send(karbon.port, b"slow.x 1 %d\n" % BASE_TS)
    fast = Configuration([str(karbon.config)])
    fast_series = fast.schemas["fast"].timeseries
    for i in range(5):  # new connections are accepted and stored while 'slow' is stuck
        send(karbon.port, b"fast.y %d %d\n" % (i, BASE_TS + 10 * i))
        wait_until(lambda: fast_series.get("fast.y", "10s", timestamp=BASE_TS + 10 * i)
                   == {BASE_TS + 10 * i: i}, "fast point %d" % i)
    release.write_text("go")
    assert karbon.stop() == 0
    slow_series = Configuration([str(karbon.config)]).schemas["slow"].timeseries
    assert slow_series.get("slow.x", "10s", timestamp=BASE_TS) == {BASE_TS: 1}


def test_udp_listener(tmp_path, start_karbon, unique_name):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    karbon = start_karbon(schemas_config("sqlite", tmp_path, unique_name), "--udp", "127.0.0.1:%d" % port)
    karbon.wait_for(r"udp 127\.0\.0\.1:%d" % port)
    gauges = Configuration([str(karbon.config)]).schemas["gauges"].timeseries
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        def sent():
            sock.sendto(b"g.udp 5 %d\ng.udp2 6 %d" % (BASE_TS, BASE_TS), ("127.0.0.1", port))
            return gauges.get("g.udp2", "10s", timestamp=BASE_TS) == {BASE_TS: 6}
        wait_until(sent, "a UDP datagram to be stored")  # resent: UDP may drop
    assert gauges.get("g.udp", "10s", timestamp=BASE_TS) == {BASE_TS: 5}
    assert karbon.stop() == 0


def test_unstorable_points_go_to_the_dead_letter_directory(tmp_path, start_karbon):
    config = textwrap.dedent("""
        SCHEMAS = {'down': {'type': 'gauge', 'host': 'postgresql://nobody@127.0.0.1:1/none',
                            'match': '^d\\\\.', 'intervals': {'10s': {'step': 10}}}}
        """)
    letters = tmp_path / "letters"
    karbon = start_karbon(config, "--dead-letter", str(letters), "--retry-delays", "0.1,0.1")
    send(karbon.port, b"d.one 1 %d\nd.two 2.5 %d\n" % (BASE_TS, BASE_TS))
    wait_until(lambda: (letters / "down.carbon").exists(), "the dead letter file")
    assert karbon.stop() == 0
    lines = (letters / "down.carbon").read_text().splitlines()
    assert lines[0].startswith("# karbon-dead-letter {")
    assert sorted(lines[1:]) == ["d.one 1 %d" % BASE_TS, "d.two 2.5 %d" % BASE_TS]
    assert "retry 1 of 2" in karbon.output()
