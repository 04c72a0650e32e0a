"""The WSGI application in-process with a frozen clock (``make_app(holder, now=...)``), over SQLite
and Redis: relative times, implicit ``end``, custom fetch macros, 500/503 answers, the gunicorn entry.
"""
import io
import json
import logging
import uuid
from urllib.parse import quote

import pytest

from tests.functional.torus_support import BACKENDS, POINTS, T0, cleanup, entry, load, write_config
from torus.config import ConfigHolder
from torus.errors import ConfigError
from torus.web import make_app

DAY = 86400
#: the frozen "now": 2013-03-03 05:00:17 UTC (a Sunday)
NOW = T0 + 2 * DAY + 5 * 3600 + 17
TODAY = T0 + 2 * DAY
RELATIVE = [
    ("c.r", 1, NOW), ("c.r", 2, NOW - 3600), ("c.r", 4, NOW - 2 * DAY),
    ("c.r", 8, T0 + DAY + 15 * 3600 + 1800), ("c.r", 16, T0 - 5 * DAY + 12 * 3600),
]
EXTRA = '''
TRANSFORMS['boom'] = lambda row: 1 / 0
MACROS['recent'] = {'start': 'yesterday', 'interval': 'day'}
MACROS['strange'] = {'colour': 'red'}
MACROS['badstart'] = {'start': 'whenever'}
if _STORE == 'prefix':
    MACROS['distinct'] = {'fetch': lambda handle, key: handle.hlen(key), 'process_row': int}
else:
    def _distinct(conn, table, name, interval, first, last):
        import sqlalchemy as sa
        last = first if last is None else last
        query = (sa.select(table.c.i_time, sa.func.count())
                 .where(table.c.name == name, table.c.interval == interval,
                        table.c.i_time >= first, table.c.i_time <= last)
                 .group_by(table.c.i_time))
        return {i_time: {None: count} for i_time, count in conn.execute(query)}
    MACROS['distinct'] = {'fetch': _distinct, 'process_row': int}
'''


@pytest.fixture(scope="module", params=BACKENDS)
def torus_backend(request):
    return request.param


class Client:
    """Calls a WSGI application directly."""

    def __init__(self, app):
        self.app = app

    def request(self, path, method="GET", body=b"", headers=None):
        path, _, query = path.partition("?")
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                   "REMOTE_ADDR": "192.0.2.1", "wsgi.input": io.BytesIO(body),
                   "CONTENT_LENGTH": str(len(body))}
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        answer = {}

        def start_response(status, headers):
            answer["status"] = int(status.split()[0])
            answer["headers"] = dict(headers)

        data = b"".join(self.app(environ, start_response))
        return answer["status"], answer["headers"], data

    def get(self, path, **kwargs):
        status, _headers, data = self.request(path, **kwargs)
        return status, json.loads(data) if data else None


@pytest.fixture(scope="module")
def setup(torus_backend, tmp_path_factory):
    folder = tmp_path_factory.mktemp("torus_app")
    token = "t" + uuid.uuid4().hex[:10]
    path = write_config(folder / "torus_app_conf.py", torus_backend, folder, token, EXTRA)
    config = load([path], POINTS + RELATIVE)
    holder = ConfigHolder([path])
    yield holder, folder, torus_backend
    cleanup(config)


@pytest.fixture
def client(setup):
    return Client(make_app(setup[0], now=lambda: NOW))


def datapoints(client, query):
    status, body = client.get("/series?" + query)
    assert status == 200, body
    assert len(body) == 1
    return body[0]["datapoints"]


# -- times relative to the frozen clock -------------------------------------------------
def test_no_start_nor_end_ends_now(client):
    minute = NOW - 17
    assert datapoints(client, "stat=c.r&steps=3") == [[0, minute - 120], [0, minute - 60], [1, minute]]


def test_default_steps_is_one_bucket_without_retention(client):
    assert datapoints(client, "stat=c.r") == [[1, NOW - 17]]


def test_start_today_runs_to_now(client):
    assert datapoints(client, "stat=c.r&interval=hour&start=today") == [
        [0, TODAY], [0, TODAY + 3600], [0, TODAY + 7200], [0, TODAY + 10800], [2, TODAY + 14400],
        [1, TODAY + 18000]]


def test_yesterday_to_today(client):
    assert datapoints(client, "stat=c.r&interval=day&start=yesterday&end=today") == [
        [8, TODAY - DAY], [3, TODAY]]


def test_last_week_and_seven_steps_ends_yesterday(client):
    assert datapoints(client, "stat=c.r&interval=day&start=%s&steps=7" % quote("last week")) == [
        [16, TODAY - 7 * DAY], [0, TODAY - 6 * DAY], [0, TODAY - 5 * DAY], [0, TODAY - 4 * DAY],
        [0, TODAY - 3 * DAY], [4, TODAY - 2 * DAY], [8, TODAY - DAY]]


def test_days_ago(client):
    assert datapoints(client, "stat=c.r&interval=day&start=%s" % quote("5 days ago")) == [
        [0, TODAY - 5 * DAY], [0, TODAY - 4 * DAY], [0, TODAY - 3 * DAY], [4, TODAY - 2 * DAY],
        [8, TODAY - DAY], [3, TODAY]]


def test_end_yesterday_3pm_with_steps(client):
    assert datapoints(client, "stat=c.r&interval=hour&end=%s&steps=2" % quote("yesterday 3pm")) == [
        [0, TODAY - DAY + 14 * 3600], [8, TODAY - DAY + 15 * 3600]]


def test_graphite_style_offset(client):
    assert datapoints(client, "stat=c.r&interval=hour&start=-2h") == [
        [0, TODAY + 3 * 3600], [2, TODAY + 4 * 3600], [1, TODAY + 5 * 3600]]


def test_macro_with_a_relative_start(client):
    assert datapoints(client, "stat=recent(c.r)") == [[8, TODAY - DAY], [3, TODAY]]


def test_start_in_the_future_without_end(client):
    status, body = client.get("/series?stat=c.r&start=tomorrow")
    assert status == 400 and body["parameter"] == "start/end/steps"
    assert body["error"] == ("start/end/steps: no valid range for 'c.r': end (%d) is before start (%d)"
                             % (NOW, TODAY + DAY))


def test_insert_without_timestamp_is_now(client):
    status, body = client.get("/insert?stat=i.now&value=3", method="POST")
    assert (status, body["timestamp"]) == (200, NOW)
    assert [s["stat"] for s in body["stored"]] == ["i.now", "i.total"]
    assert datapoints(client, "stat=i.now") == [[3, NOW - 17]]


# -- customized reads ---------------------------------------------------------------------
def test_macro_with_a_custom_fetch(client):
    assert datapoints(client, "stat=distinct(t.x)&start=%d&end=%d" % (T0, T0 + 60)) == [[2, T0], [1, T0 + 60]]


# -- server-side failures -------------------------------------------------------------
def test_a_failing_transform_is_a_json_500_with_a_logged_traceback(client, caplog):
    with caplog.at_level(logging.ERROR, logger="torus.web"):
        status, body = client.get("/series?stat=boom(c.r)")
    assert (status, body) == (500, {"error": "internal error: ZeroDivisionError: division by zero",
                                    "status": 500})
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


def test_a_bad_macro_is_a_json_500(client):
    status, body = client.get("/series?stat=strange(c.r)")
    assert (status, body) == (500, {"status": 500, "error": (
        "MACROS['strange'] has unknown field(s) 'colour'; a macro may set fetch, process_row, "
        "join_rows, transform, format, condense, collapse, schema, interval, start, end, steps")})
    status, body = client.get("/series?stat=badstart(c.r)")
    assert status == 500
    assert body["error"].startswith("MACROS['badstart'] field 'start': 'whenever' is not a time")


@pytest.fixture
def other_holder(setup, tmp_path):
    """A holder for a one-off configuration written by the test."""
    def make(text):
        path = tmp_path / ("other_%s.py" % uuid.uuid4().hex[:8])
        path.write_text(text)
        return ConfigHolder([str(path)])
    return make


def test_unreachable_storage_is_a_503(other_holder, setup):
    backend = setup[2]
    host = "redis://127.0.0.1:1/0" if backend == "redis" else "postgresql://postgres@127.0.0.1:1/test"
    holder = other_holder("SCHEMAS = {'down': {'type': 'count', 'host': %r, 'match': '.*', "
                          "'intervals': {'minute': {'step': 60}}}}\n" % host)
    app = Client(make_app(holder, now=lambda: NOW))
    for path in ("/series?stat=x", "/list", "/properties?stat=x", "/insert?stat=x&value=1"):
        status, body = app.get(path, method="POST" if path.startswith("/insert") else "GET")
        assert status == 503 and body["status"] == 503, (path, body)
        assert "127.0.0.1" in body["error"] and ":1" in body["error"]


def test_invalid_max_points_fails_the_load(other_holder):
    with pytest.raises(ConfigError, match="MAX_POINTS must be a positive whole number, not 'lots'"):
        other_holder("SCHEMAS = {'x': {'type': 'count', 'host': 'sqlite://', 'match': '.*', "
                     "'intervals': {'minute': {'step': 60}}}}\nMAX_POINTS = 'lots'\n")


def test_cors_origin_setting(other_holder):
    base = ("SCHEMAS = {'x': {'type': 'count', 'host': 'sqlite://', 'match': '.*', "
            "'intervals': {'minute': {'step': 60}}}}\n")
    _status, headers, _body = Client(make_app(other_holder(base + "CORS_ORIGIN = None\n"))).request("/list")
    assert "Access-Control-Allow-Origin" not in headers
    holder = other_holder(base + "CORS_ORIGIN = 'https://dash.example'\n")
    _status, headers, _body = Client(make_app(holder)).request("/list")
    assert headers["Access-Control-Allow-Origin"] == "https://dash.example"


def test_access_log_needs_debug(other_holder, caplog):
    base = ("SCHEMAS = {'x': {'type': 'count', 'host': 'sqlite://', 'match': '.*', "
            "'intervals': {'minute': {'step': 60}}}}\n")
    with caplog.at_level(logging.INFO, logger="torus.access"):
        Client(make_app(other_holder(base + "DEBUG = 0\n"))).request("/list")
        assert caplog.records == []
        Client(make_app(other_holder(base + "DEBUG = 1\n"))).request("/list?a=1")
    assert [r.getMessage().split(" ", 3)[:2] + [r.getMessage().split(" ", 3)[3]]
            for r in caplog.records] == [["192.0.2.1", "200", "GET /list?a=1"]]


def test_too_large_body_is_a_413(client):
    status, _headers, data = client.request(
        "/insert", method="POST", body=b"stat=i.big&value=1",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(2 << 20)})
    assert (status, json.loads(data)) == (413, {"error": "request body of 2097152 bytes is larger "
                                                         "than 1048576", "status": 413})


def test_form_body_and_query_string_merge(client):
    status, body = client.get("/insert?stat=i.form", method="POST", body=b"value=2&timestamp=%d" % T0,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and body["stored"][0] == {"schema": "inserts", "stat": "i.form", "value": 2,
                                                   "timestamp": T0}


def test_gunicorn_entry_point_reads_torus_config(setup, monkeypatch):
    import torus.web as web
    path = setup[0].paths[0]
    monkeypatch.setenv("TORUS_CONFIG", path)
    monkeypatch.setattr(web, "_APPLICATION", None)
    app = web.application
    assert app is web.application  # built once
    status, body = Client(app).get("/series?stat=c.a&start=%d&end=%d" % (T0, T0))
    assert (status, body) == (200, [entry("c.a", schema="counts", interval="minute", datapoints=[[3, T0]])])


def test_gunicorn_entry_point_without_torus_config(monkeypatch):
    import torus.web as web
    from torus.errors import ConfigError
    monkeypatch.delenv("TORUS_CONFIG", raising=False)
    monkeypatch.setattr(web, "_APPLICATION", None)
    with pytest.raises(ConfigError, match="set TORUS_CONFIG"):
        web.application  # noqa: B018 (the attribute access builds the application)


def test_connections_get_tcp_nodelay(monkeypatch):
    """pywsgi writes headers and body apart: without TCP_NODELAY each answer waits ~40 ms for an ACK."""
    import socket

    from gevent.pywsgi import WSGIServer

    from torus.http_server import TorusHTTPServer
    seen = []
    monkeypatch.setattr(WSGIServer, "handle", lambda self, sock, address: seen.append(
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, address = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                TorusHTTPServer(("127.0.0.1", 0), lambda e, s: []).handle(accepted, address)
    assert seen == [1]


def test_an_answer_that_cannot_be_encoded_is_a_json_500(other_holder, caplog):
    holder = other_holder(
        "SCHEMAS = {'x': {'type': 'count', 'host': 'sqlite://', 'match': '.*', "
        "'intervals': {'minute': {'step': 60}}}}\n"
        "loop = []\nloop.append(loop)\nTRANSFORMS = {'loop': lambda row: loop}\n")
    with caplog.at_level(logging.ERROR, logger="torus.web"):
        status, body = Client(make_app(holder, now=lambda: NOW)).get("/series?stat=loop(x)")
    assert (status, body["status"], sorted(body)) == (500, 500, ["error", "status"])
    assert body["error"].startswith("internal error: cannot encode the answer: RecursionError")
    assert "Traceback" in caplog.text


def test_stats_of_one_schema_and_range_are_read_together(setup, client, monkeypatch):
    """A 50-stat dashboard was 50 round trips; stats sharing schema, interval, range and
    options are now one read (and answer exactly as one by one)."""
    holder = setup[0]
    counts = holder.current.schemas["counts"].timeseries
    reads = []
    real_many, real_one, real_dense = counts._fetch_many, counts._fetch, counts._fetch_dense
    monkeypatch.setattr(counts, "_fetch_many", lambda names, *a: (reads.append(list(names)),
                                                                  real_many(names, *a))[1])

    def dense(names, *args):  # Redis reads the buckets of many counts as lists (or declines)
        answer = real_dense(names, *args)
        if answer is not None:
            reads.append(list(names))
        return answer
    monkeypatch.setattr(counts, "_fetch_dense", dense)
    monkeypatch.setattr(counts, "_fetch", lambda name, *a: (reads.append(name), real_one(name, *a))[1])
    stats = ["c.a", "c.b", "c.nothing", "sum(c.a)", "c.a,c.b"]
    query = "&".join("stat=%s" % quote(s) for s in stats) + "&interval=minute&start=%d&end=%d" % (
        T0, T0 + 180)
    status, together = client.get("/series?" + query)
    assert status == 200
    assert reads[0] == ["c.a", "c.b", "c.nothing"]  # one read; sum() and the joined pair alone
    alone = [client.get("/series?stat=%s&interval=minute&start=%d&end=%d" % (quote(s), T0, T0 + 180))[1][0]
             for s in stats]
    assert together == alone
