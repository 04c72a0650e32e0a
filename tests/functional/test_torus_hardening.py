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


@pytest.fixture(scope="module", params=STORAGE_BACKENDS)
def holder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening")
    token = "h" + uuid.uuid4().hex[:10]
    path = write_config(folder / "hardening_conf.py", request.param, folder, token)
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
