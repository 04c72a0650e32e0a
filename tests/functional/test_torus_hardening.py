"""Safe and unambiguous queries, in-process (``make_app``) over SQLite, PostgreSQL and Redis:
malformed expressions, bounded time parsing, canonical tagged names, read cost, /insert limits,
stats never stored.
"""
import json
import uuid
from urllib.parse import quote

import pytest

from tests.functional.test_torus_app import Client
from tests.functional.torus_support import (POINTS, STORAGE_BACKENDS, T0, cleanup, load,
                                            write_config)
from torus.config import ConfigHolder
from torus.web import make_app

NOW = T0 + 2 * 86400 + 17
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


EXTRA = """
SCHEMAS['retained'] = _schema('retained', 'count', r'^r\\.', {'day': {'step': 'daily', 'steps': 30}})
SCHEMAS['rolled'] = _schema('rolled', 'count', r'^o\\.', {'month': {'step': 'monthly'}}, rolling=3)
SCHEMAS['kept'] = _schema('kept', 'histogram', r'^k\\.', {'minute': {'step': 60, 'steps': 1440},
                                                       'hour': {'step': 3600, 'resolution': 60}})
"""


@pytest.fixture(scope="module", params=STORAGE_BACKENDS)
def holder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening")
    token = "h" + uuid.uuid4().hex[:10]
    path = write_config(folder / "hardening_conf.py", request.param, folder, token, EXTRA)
    config = load([path], POINTS)
    holder = ConfigHolder([path])
    yield holder
    cleanup(config)
    cleanup(holder.current)


@pytest.fixture
def client(holder):
    return Client(make_app(holder, now=lambda: NOW))


def q(text):
    return quote(text, safe="")


def post(client, path, **fields):
    body = "&".join("%s=%s" % (key, q(str(value))) for key, value in fields.items()).encode()
    return client.get(path, method="POST", body=body, headers=FORM)


# -- malformed expressions are 400s that say what is wrong -------------------------------------
@pytest.mark.parametrize("stat,problem", [
    ("sum(c.a", "has an unclosed '('"),
    ("sum(c.a,c.b))", "has an unexpected ')' at character 13"),
    ("nosuchfunc(c.a)", "unknown function 'nosuchfunc'"),
    ("sum(nosuch(c.a))", "functions cannot be nested ('nosuch' inside 'sum')"),
    ("sum(avg(c.a))", "functions cannot be nested ('avg' inside 'sum')"),
    ("sum(c.a)c.b", "has text after the closing ')'"),
    ("c.a;bad", "is not a valid tagged name"),
])
def test_malformed_expressions_are_400(client, stat, problem):
    status, body = client.get("/series?stat=%s&start=%d&end=%d" % (q(stat), T0, T0))
    assert status == 400, body
    assert body["parameter"] == "stat" and body["status"] == 400
    assert problem in body["error"], body["error"]


# -- time parameters are parsed in bounded time ------------------------------------------------
@pytest.mark.parametrize("parameter", ["start", "end"])
def test_phrases_of_many_words_are_refused_at_once(client, parameter):
    status, body = client.get("/series?stat=c.a&%s=%s" % (parameter, q("ago " * 24)))
    assert status == 400 and body["parameter"] == parameter
    assert "more than 8 words" in body["error"]
    status, body = client.get("/series?stat=c.a&%s=%s" % (parameter, q("1 day ago " * 2000)))
    assert status == 400 and body["parameter"] == parameter


def test_insert_timestamp_phrase_is_bounded(client):
    status, body = post(client, "/insert", stat="i.t", value=1, timestamp="ago " * 24)
    assert status == 400 and body["parameter"] == "timestamp" and "8 words" in body["error"]


# -- tagged names are canonical on read as on write ---------------------------------------------
def test_tagged_names_read_in_any_tag_order(client):
    status, body = post(client, "/insert", stat="c.tagged;z=1;b=2", value=3, timestamp=T0 + 5)
    assert status == 200, body
    assert body["stat"] == "c.tagged;b=2;z=1"
    for spelling in ("c.tagged;z=1;b=2", "c.tagged;b=2;z=1"):
        status, body = client.get("/series?stat=%s&start=%d&end=%d" % (q(spelling), T0, T0))
        assert status == 200 and body[0]["datapoints"] == [[3, T0]], (spelling, body)
        assert body[0]["stat"] == spelling and body[0]["target"] == "c.tagged;b=2;z=1"
        status, body = client.get("/properties?stat=%s" % q(spelling))
        assert status == 200 and body[spelling]["counts"]["minute"] == {"first": T0, "last": T0}
    status, body = client.get("/series?stat=%s&start=%d&end=%d"
                              % (q("sum(c.tagged;z=1;b=2,c.a)"), T0, T0))
    assert status == 200 and body[0]["datapoints"] == [[6, T0]]


def test_malformed_tagged_names_are_400_on_properties(client):
    status, body = client.get("/properties?stat=%s" % q("c.a;=x"))
    assert status == 400 and body["parameter"] == "stat"


# -- MAX_POINTS counts every key read, resolution buckets included ---------------------------
def test_condensed_reads_count_their_resolution_buckets(client):
    # 20 hours of minutes: 20 points in the answer, 1,200 keys read (MAX_POINTS = 1000)
    status, body = client.get("/series?stat=c.a&interval=hour&start=%d&steps=20" % T0)
    assert status == 400 and body["parameter"] == "stat"
    assert "would read 1200 buckets, more than the limit of 1000 (MAX_POINTS" in body["error"]
    status, body = client.get("/series?stat=sum(c.a)&interval=hour&start=%d&steps=16&collapse=1" % T0)
    assert status == 200 and body[0]["datapoints"] == [[10, T0]]
    status, body = client.get("/series?stat=c.a&stat=c.b&interval=hour&start=%d&steps=9" % T0)
    assert status == 400 and "would read 1080 buckets" in body["error"]


def test_the_limit_is_checked_before_any_read(tmp_path):
    """Against storage that cannot answer, an oversized request is a 400, not a 503."""
    path = tmp_path / "down_conf.py"
    path.write_text("SCHEMAS = {'down': {'type': 'count', 'host': 'redis://127.0.0.1:1/0', "
                    "'match': '.*', 'intervals': {'day': {'step': 86400, 'resolution': 60}}}}\n"
                    "MAX_POINTS = 10000\n")
    app = Client(make_app(ConfigHolder([str(path)]), now=lambda: NOW))
    status, body = app.get("/series?stat=x&interval=day&steps=7")  # 7 x 1,440 keys
    assert status == 400 and "would read 10080 buckets" in body["error"]
    status, body = app.get("/series?stat=x&interval=day&steps=6")
    assert status == 503, body


def test_a_request_names_at_most_max_stats_stats(tmp_path):
    """/properties scans the key space per stat on Redis: the count of stats is capped too."""
    path = tmp_path / "down_conf.py"
    path.write_text("SCHEMAS = {'down': {'type': 'count', 'host': 'redis://127.0.0.1:1/0', "
                    "'match': '.*', 'intervals': {'m': {'step': 60}}}}\nMAX_STATS = 3\n")
    app = Client(make_app(ConfigHolder([str(path)]), now=lambda: NOW))
    for command in ("/properties", "/series"):
        status, body = app.get(command + "?" + "&".join("stat=s%d" % n for n in range(4)))
        assert status == 400 and "4 stats asked, more than the 3" in body["error"], body
        assert body["parameter"] == "stat"
        status, body = app.get(command + "?" + "&".join("stat=s%d" % n for n in range(3)))
        assert status == 503, body  # within the limit: storage is asked (and is down)


# -- /insert: limits, methods, CORS ----------------------------------------------------------
@pytest.mark.parametrize("value", ["9" * 4301, "-" + "9" * 4301, "9" * 400, "1e400", "-inf"],
                         ids=lambda value: "%s..%d" % (value[:3], len(value)))
def test_insert_values_out_of_range_are_400(client, value):
    status, body = post(client, "/insert", stat="i.big", value=value, timestamp=T0)
    assert status == 400 and body["parameter"] == "value", body
    assert len(body["error"]) < 300  # the value is shortened in the message


@pytest.mark.parametrize("timestamp", ["9999-12-31", "253402300799", "10000-01-01", "1e12",
                                       str(2 ** 70), "-62135596801"])
def test_insert_timestamps_out_of_range_are_400(client, timestamp):
    """Year 9999 with a 30-day retention ends past what a calendar holds: refused, never a 500."""
    status, body = post(client, "/insert", stat="r.late", value=1, timestamp=timestamp)
    assert status == 400 and body["parameter"] == "timestamp", body


def test_insert_rolling_copies_past_year_9999_are_400(client):
    status, body = post(client, "/insert", stat="o.late", value=1, timestamp="9999-11-01")
    assert status == 400 and body["parameter"] == "timestamp", body
    assert "rolled" in body["error"]
    status, body = post(client, "/insert", stat="o.late", value=1, timestamp="9999-08-01")
    assert status == 200, body


def test_insert_late_but_storable_timestamps_are_stored(client):
    status, body = post(client, "/insert", stat="r.late", value=1, timestamp="9999-06-01")
    assert status == 200 and body["timestamp"] == 253383811200, body


@pytest.mark.parametrize("timestamp", ["-1", "-1.0"])
def test_insert_timestamp_minus_one_is_now(client, timestamp):
    status, body = post(client, "/insert", stat="i.now1", value=2, timestamp=timestamp)
    assert status == 200 and body["timestamp"] == NOW
    assert {entry["timestamp"] for entry in body["stored"]} == {NOW}


def test_insert_needs_post(client):
    for method in ("GET", "HEAD"):
        status, headers, data = client.request("/insert?stat=i.get&value=1", method=method)
        assert status == 405 and headers["Allow"] == "POST, OPTIONS"
        if method == "GET":
            assert json.loads(data) == {"status": 405, "error": "method GET is not allowed on "
                                        "/insert, which writes data: use POST"}
    status, body = client.get("/properties?stat=i.get")
    assert body == {"i.get": {"inserts": {}}}  # nothing was written
    status, headers, _ = client.request("/insert", method="OPTIONS")
    assert status == 204 and headers["Allow"] == "POST, OPTIONS"
    assert headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_default_cors_allows_reads_from_anywhere_and_writes_from_no_browser(client):
    status, headers, _ = client.request("/series?stat=c.a")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = client.request("/insert", method="POST", body=b"stat=i.cors&value=1",
                                        headers=FORM)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = client.request("/insert", method="OPTIONS")
    assert "Access-Control-Allow-Origin" not in headers
    # a form posted by a page of another site (browsers send its Origin): refused, nothing stored
    status, headers, data = client.request("/insert", method="POST", body=b"stat=i.evil&value=1",
                                           headers=dict(FORM, Origin="https://evil.example"))
    assert status == 403 and json.loads(data) == {
        "status": 403, "error": "/insert from a web page of https://evil.example is not allowed "
                                "(CORS_INSERT_ORIGIN)"}
    assert client.get("/properties?stat=i.evil")[1] == {"i.evil": {"inserts": {}}}


def test_cors_insert_origin_setting(tmp_path):
    path = tmp_path / "cors_conf.py"
    path.write_text("SCHEMAS = {'x': {'type': 'count', 'host': 'sqlite://', 'match': '.*', "
                    "'intervals': {'minute': {'step': 60}}}}\n"
                    "CORS_ORIGIN = 'https://read.example'\n"
                    "CORS_INSERT_ORIGIN = 'https://dash.example'\n")
    app = Client(make_app(ConfigHolder([str(path)]), now=lambda: NOW))
    _, headers, _ = app.request("/list")
    assert headers["Access-Control-Allow-Origin"] == "https://read.example"
    status, headers, _ = app.request("/insert", method="POST", body=b"stat=x&value=1",
                                     headers=dict(FORM, Origin="https://dash.example"))
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://dash.example"
    status, _, _ = app.request("/insert", method="POST", body=b"stat=x&value=1",
                               headers=dict(FORM, Origin="https://read.example"))
    assert status == 403
    status, _, _ = app.request("/insert", method="POST", body=b"stat=x&value=1", headers=FORM)
    assert status == 200  # no Origin: not a browser page (curl, scripts)


# -- stats never stored are told apart from stats without traffic ----------------------------
@pytest.fixture
def live(holder, monkeypatch):
    """The application on the real clock (Redis expires keys by the real time); Redis may not
    SCAN once the name index is built (as karbon's upkeep pass or a first /metrics/find
    builds it): the lookups must stay cheap on a database of millions of keys."""
    for schema in holder.current.schemas.values():
        schema.timeseries.rebuild_index()
        if schema.timeseries.engine == "redis":
            def refuse(*args, **kwargs):
                raise AssertionError("a presence check scanned the Redis keyspace")
            monkeypatch.setattr(schema.timeseries.client, "scan_iter", refuse)
            monkeypatch.setattr(schema.timeseries.client, "keys", refuse)
    app = Client(make_app(holder))
    status, body = post(app, "/insert", stat="k.seen", value=5, timestamp="-1h")
    assert status == 200, body
    return app


def test_unknown_mark_tells_never_stored_from_no_traffic(live):
    query = "/series?stat=k.seen&stat=avg(k.never)&stat=nothing.matches&start=-5min&format=json"
    status, plain = live.get(query)
    assert status == 200 and all("stored" not in entry for entry in plain)  # the default answer
    status, body = live.get(query + "&unknown=mark")
    assert status == 200
    assert [entry["stored"] for entry in body] == [True, False, False]
    assert [entry["datapoints"] for entry in body[:2]] == [entry["datapoints"] for entry in plain[:2]]
    assert all(not any(entry["datapoints"].values()) for entry in body[:2])  # both look idle
    status, body = live.get("/series?stat=%s&start=-5min&unknown=mark" % q("k.seen,k.never"))
    assert body[0]["stored"] is False  # one name of the join was never stored


def test_unknown_error_is_a_404_naming_the_stats(live):
    status, body = live.get("/series?stat=k.seen&stat=avg(k.never)&stat=nothing.matches"
                            "&start=-5min&unknown=error")
    assert (status, body) == (404, {
        "status": 404, "parameter": "stat",
        "error": "stat: never stored: 'k.never' (schema kept), 'nothing.matches' (no schema "
                 "matches it)"})
    status, body = live.get("/series?stat=k.seen&start=-5min&unknown=error")
    assert status == 200 and body[0]["stat"] == "k.seen"


def test_unknown_omit_leaves_them_out_as_graphite_does(live):
    status, body = live.get("/series?stat=k.never&stat=k.seen&stat=nothing.matches&start=-5min"
                            "&unknown=omit")
    assert status == 200 and [entry["stat"] for entry in body] == ["k.seen"]


def test_unknown_parameter_values(live):
    status, body = live.get("/series?stat=k.seen&unknown=maybe")
    assert status == 400 and body["parameter"] == "unknown"


def test_stored_comes_from_the_name_index_on_every_engine(client, holder):
    """Every engine keeps an index of names: a stat never stored is told apart at once, and
    only a name the index cannot hold (an empty component) is "cannot tell"."""
    status, body = client.get("/series?stat=c.a&stat=c.never&stat=%s&start=%d&end=%d"
                              "&unknown=mark" % (q("c..odd"), T0, T0))
    assert status == 200
    # c.a has data in the range: that proves it without any lookup
    assert [entry["stored"] for entry in body] == [True, False, None]
    status, body = client.get("/series?stat=c.never&start=%d&end=%d&unknown=error" % (T0, T0))
    assert status == 404 and "'c.never' (schema counts)" in body["error"]
    counts = holder.current.schemas["counts"].timeseries
    counts.insert("c.gone", 1, timestamp=T0 - 3600)
    status, body = client.get("/series?stat=c.gone&start=%d&end=%d&unknown=mark" % (T0, T0))
    assert [entry["stored"] for entry in body] == [True]  # idle in the range, but stored
    counts.delete("c.gone")
    status, body = client.get("/series?stat=c.gone&start=%d&end=%d&unknown=mark" % (T0, T0))
    assert [entry["stored"] for entry in body] == [False]
