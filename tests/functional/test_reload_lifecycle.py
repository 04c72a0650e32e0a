"""Reloads close the engines they replaced, once the work using them is done, in real daemons.

A real karbon and a real torus, their schemas on SQLite, PostgreSQL and Redis; their
connections are counted where each server (or the kernel) sees them
(``tests.functional.connections``): several SIGHUPs, each followed by traffic that opens
the new configuration's connections, leave no more connections than one configuration
holds. A request or a batch still using the old configuration across a reload completes.
"""
import os
import re
import signal
import textwrap
import uuid

import gevent
import pytest

from kairos import Timeseries
from tests.conftest import require
from tests.functional.connections import open_files, postgres_backends, redis_clients, settled
from tests.functional.tcp_proxy import LosingProxy
from tests.functional.test_karbon import send, wait_until
from tests.functional.torus_support import TorusProcess

T0 = 1700000000
RELOADS = 3
MINUTE = {"m": {"step": 60}}


def _config(tmp_path, token, redis_url=None):
    """Three count schemas, ``r.*`` on Redis, ``p.*`` on PostgreSQL, ``s.*`` on SQLite, each
    connection named ``token`` so the test counts only its own."""
    redis_url = redis_url or require("redis")
    text = textwrap.dedent("""
        SCHEMAS = {
            'r': {'type': 'count', 'host': %(redis)r, 'prefix': %(token)r, 'match': r'^r\\.',
                  'client_config': {'client_name': %(token)r}, 'intervals': %(m)r},
            'p': {'type': 'count', 'host': %(pg)r, 'table_name': %(token)r + '_p',
                  'match': r'^p\\.', 'intervals': %(m)r},
            's': {'type': 'count', 'host': %(sqlite)r, 'table_name': %(token)r + '_s',
                  'match': r'^s\\.', 'intervals': %(m)r},
        }
        DEBUG = 1
        """) % {"redis": redis_url, "token": token, "m": MINUTE,
                "pg": "%s?application_name=%s" % (require("postgresql"), token),
                "sqlite": "sqlite:///%s" % (tmp_path / "lifecycle.db")}
    path = tmp_path / "lifecycle_conf.py"
    path.write_text(text)
    return str(path)


class Stores:
    """The test's own view of the three schemas (connections not named ``token``)."""

    def __init__(self, tmp_path, token):
        self.db = str(tmp_path / "lifecycle.db")
        self.series = {
            "r": Timeseries(require("redis"), type="count", intervals=MINUTE, prefix=token,
                            read_func=int),
            "p": Timeseries(require("postgresql"), type="count", intervals=MINUTE,
                            table_name=token + "_p", read_func=int),
            "s": Timeseries("sqlite:///" + self.db, type="count", intervals=MINUTE,
                            table_name=token + "_s", read_func=int),
        }

    def total(self, schema, name):
        return self.series[schema].get(name, "m", timestamp=T0)[T0 // 60 * 60]

    def cleanup(self):
        for ts in self.series.values():
            try:
                ts.delete_all()
                if ts.engine == "sql":
                    ts.table.drop(ts.db, checkfirst=True)
                    ts.names.drop(ts.db, checkfirst=True)
            finally:
                ts.close()


@pytest.fixture
def token():
    return "lc" + uuid.uuid4().hex[:10]


@pytest.fixture
def stores(tmp_path, token):
    stores = Stores(tmp_path, token)
    yield stores
    stores.cleanup()


def connections(pid, token, db):
    return {"redis": redis_clients(token), "postgresql": postgres_backends(token),
            "sqlite": open_files(pid, db)}


def settled_connections(pid, token, db, expected):
    """The counts once they equal ``expected`` (or as they are when the wait is over)."""
    return {kind: settled(lambda kind=kind: connections(pid, token, db)[kind], count)
            for kind, count in expected.items()}


def test_karbon_reloads_close_the_replaced_engines(tmp_path, token, stores, start_karbon):
    karbon = start_karbon(open(_config(tmp_path, token)).read())
    pid = karbon.proc.pid

    def traffic(round_):
        send(karbon.port, b"r.x 1 %d\np.x 1 %d\ns.x 1 %d\n" % (T0, T0, T0))
        for schema in "rps":
            wait_until(lambda schema=schema: stores.total(schema, schema + ".x") == round_,
                       "round %d stored in %s" % (round_, schema))

    traffic(1)
    first = connections(pid, token, stores.db)
    assert first["redis"] >= 1 and first["postgresql"] >= 1 and first["sqlite"] >= 1, first
    for round_ in range(2, RELOADS + 2):
        karbon.signal(signal.SIGHUP)
        karbon.wait_for(r"configuration reloaded \(generation %d," % round_)
        traffic(round_)
    assert settled_connections(pid, token, stores.db, first) == first
    assert karbon.stop() == 0
    assert "Traceback" not in karbon.output()


def test_torus_reloads_close_the_replaced_engines(tmp_path, token, stores):
    path = _config(tmp_path, token)
    for schema in "rps":
        stores.series[schema].insert(schema + ".x", 4, timestamp=T0)
    server = TorusProcess([path])
    pid = server.proc.pid
    query = "/series?stat=r.x&stat=p.x&stat=s.x&interval=m&start=%d&end=%d" % (T0, T0)

    def traffic():
        status, body = server.get(query)
        assert status == 200, body
        assert [entry["datapoints"] for entry in body] == [[[4, T0 // 60 * 60]]] * 3

    try:
        traffic()
        first = connections(pid, token, stores.db)
        assert first["redis"] >= 1 and first["postgresql"] >= 1 and first["sqlite"] >= 1, first
        for round_ in range(2, RELOADS + 2):
            server.send(signal.SIGHUP)
            server.wait_for_log(r"configuration reloaded \(generation %d," % round_)
            traffic()
        assert settled_connections(pid, token, stores.db, first) == first
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log


@pytest.fixture
def held_redis():
    """A proxy in front of the test Redis that can stall every connection (``hold``)."""
    url = require("redis")
    match = re.match(r"redis://([^:/]+):(\d+)/(\d+)", url)
    proxy = LosingProxy((match.group(1), int(match.group(2))), trigger=b"\x00never\x00")
    proxy.armed = False
    yield proxy, "redis://127.0.0.1:%d/%s" % (proxy.port, match.group(3))
    proxy.hold = False
    proxy.stop()


def test_a_torus_request_in_flight_across_a_reload_completes(tmp_path, token, stores, held_redis):
    proxy, url = held_redis
    path = _config(tmp_path, token, redis_url=url)
    for schema in "rps":
        stores.series[schema].insert(schema + ".x", 4, timestamp=T0)
    server = TorusProcess([path])
    # r.x is read first, through the proxy; p.x and s.x after it, still with the old configuration
    query = "/series?stat=r.x&stat=p.x&stat=s.x&interval=m&start=%d&end=%d" % (T0, T0)
    try:
        assert server.get(query)[0] == 200  # every engine connected once
        proxy.hold = True
        request = gevent.spawn(server.get, query)
        gevent.sleep(0.5)
        assert not request.ready()  # waiting for Redis
        server.send(signal.SIGHUP)
        server.wait_for_log(r"configuration reloaded \(generation 2,")
        gevent.sleep(0.3)
        proxy.hold = False
        status, body = request.get(timeout=20)
        assert status == 200, body
        assert [entry["datapoints"] for entry in body] == [[[4, T0 // 60 * 60]]] * 3
        assert server.get(query)[0] == 200  # the new configuration serves
        # the old configuration's engines closed once the request was answered
        assert settled(lambda: postgres_backends(token), 1) == 1
    finally:
        assert server.stop() == 0, server.log


def test_a_karbon_batch_planned_before_a_reload_is_stored_after_it(tmp_path, token, stores,
                                                                    held_redis, start_karbon):
    proxy, url = held_redis
    karbon = start_karbon(open(_config(tmp_path, token, redis_url=url)).read(),
                          "--retry-delays", "0.2,0.2")
    send(karbon.port, b"r.x 1 %d\n" % T0)
    wait_until(lambda: stores.total("r", "r.x") == 1, "the first point stored")
    proxy.hold = True
    send(karbon.port, b"r.x 1 %d\n" % T0)  # its write waits for Redis...
    first = karbon.wait_for(r"DONE lines=1 ")
    first = karbon.wait_for(r"DONE lines=1 ", after=first.end())
    send(karbon.port, b"r.x 1 %d\n" % T0)  # ...and this batch, planned too, waits behind it
    karbon.wait_for(r"DONE lines=1 ", after=first.end())
    karbon.signal(signal.SIGHUP)
    karbon.wait_for(r"configuration reloaded \(generation 2,")
    gevent.sleep(0.3)
    proxy.hold = False
    wait_until(lambda: stores.total("r", "r.x") == 3, "both batches stored")
    assert karbon.stop() == 0
    log = karbon.output()
    assert re.search(r"stopped: .*\bstored=3\b.*\bfailed=0\b.*\bretries=0\b", log), log
    assert "Closed" not in log and "Traceback" not in log


def _in_process(daemon_class, tmp_path, token):
    """A daemon started in this process (no signal handlers), its configuration's holder."""
    from torus.config import ConfigHolder
    holder = ConfigHolder([_config(tmp_path, token)])
    return daemon_class(holder, ("127.0.0.1", 0)), holder


def test_karbon_closes_its_engines_on_exit_after_storing_what_it_read(tmp_path, token, stores):
    from torus.karbon import Karbon
    karbon, holder = _in_process(Karbon, tmp_path, token)
    karbon.start_servers()
    send(karbon.tcp.socket.getsockname()[1], b"r.x 2 %d\np.x 2 %d\ns.x 2 %d\n" % (T0, T0, T0))
    wait_until(lambda: karbon.ingest.counters.lines == 3, "the lines read")
    karbon.stop()
    assert [stores.total(schema, schema + ".x") for schema in "rps"] == [2, 2, 2]
    assert all(schema.timeseries.closed for schema in holder.current.schemas.values())
    stores.series["s"].db.dispose()  # this process's own reader of the SQLite file (not counted)
    assert connections(os.getpid(), token, stores.db) == {"redis": 0, "postgresql": 0, "sqlite": 0}


def test_torus_closes_its_engines_on_exit(tmp_path, token, stores):
    from torus.query_server import QueryServer
    from tests.functional.torus_support import http
    server, holder = _in_process(QueryServer, tmp_path, token)
    server.start_servers()
    status, _headers, _body = http(server.url + "/series?stat=r.x&stat=p.x&stat=s.x&interval=m")
    assert status == 200
    assert connections(os.getpid(), token, stores.db)["redis"] == 1
    server.stop()
    assert all(schema.timeseries.closed for schema in holder.current.schemas.values())
    stores.series["s"].db.dispose()  # this process's own reader of the SQLite file (not counted)
    assert connections(os.getpid(), token, stores.db) == {"redis": 0, "postgresql": 0, "sqlite": 0}
