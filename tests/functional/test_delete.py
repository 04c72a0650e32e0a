"""Deleting stats through a real torus (DELETE /series) and the torus_delete tool, on SQLite,
PostgreSQL, MySQL and Redis: what a dry run lists, what goes, what stays, and refusals."""
import subprocess
import sys
import uuid
from urllib.parse import quote

import pytest

from tests.conftest import ROOT
from tests.functional.torus_support import (T0, TorusProcess, cleanup, load, write_config)
from torus.config import Configuration

M = 60
BACKENDS = ["sqlite", "postgresql", "mysql", "redis"]


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request, tmp_path_factory):
    """``(torus process, configuration path)`` on one backend, nothing stored yet."""
    folder = tmp_path_factory.mktemp("delete_" + request.param)
    token = "d" + uuid.uuid4().hex[:10]
    path = write_config(folder / "delete_conf.py", request.param, folder, token)
    config = Configuration([path])
    process = TorusProcess([path])
    yield process, path
    code = process.stop()
    cleanup(config)
    assert code == 0, process.log


@pytest.fixture
def names():
    """A prefix of stat names no other test uses."""
    return "n" + uuid.uuid4().hex[:8]


def q(text):
    return quote(text, safe="")


def delete(server, query):
    return server.get("/series?" + query, method="DELETE")


def spans(server, stat):
    """``{schema: intervals}`` holding ``stat``, from /properties (empty schemas left out)."""
    status, body = server.get("/properties?stat=" + q(stat))
    assert status == 200, body
    return {schema: intervals for schema, intervals in body[stat].items() if intervals}


# -- DELETE /series ---------------------------------------------------------------
def test_dry_run_lists_then_delete_removes_only_the_stat(setup, names):
    server, path = setup
    gone, kept = "c.%s_gone" % names, "c.%s_kept" % names  # both feed the aggregate c.all
    load([path], [(gone, 3, T0 + 30), (gone, 2, T0 + 3610), (kept, 1, T0 + 30),
                  ("t.%s" % names, 1.5, T0 + 10)])
    expected = {
        "counts": {gone: {"minute": {"first": T0, "last": T0 + 3600},
                          "hour": {"first": T0, "last": T0 + 3600}}},
        "counts_daily": {gone: {"day": {"first": T0, "last": T0}}},
    }
    status, body = delete(server, "stat=%s&dry_run=true" % q(gone))
    assert (status, body) == (200, {"dry_run": True, "deleted": expected, "not_found": []})
    assert set(spans(server, gone)) == {"counts", "counts_daily"}  # a dry run deletes nothing

    status, body = delete(server, "stat=%s&stat=c.%s.never" % (q(gone), names))
    assert (status, body) == (200, {"dry_run": False, "deleted": expected,
                                    "not_found": ["c.%s.never" % names]})
    assert spans(server, gone) == {}
    status, series = server.get("/series?stat=%s&start=%d&end=%d" % (q(gone), T0, T0 + M))
    assert status == 200 and series[0]["datapoints"] == [[0, T0], [0, T0 + M]]
    # the neighbours are untouched: another stat of the schema, the aggregate, another schema
    assert set(spans(server, kept)) == {"counts", "counts_daily"}
    assert "counts" in spans(server, "c.all")
    assert set(spans(server, "t.%s" % names)) == {"timers"}
    assert "DELETE %s from schema counts" % gone in server.log

    status, body = delete(server, "stat=%s" % q(gone))  # again: nothing left, not an error
    assert (status, body) == (200, {"dry_run": False, "deleted": {}, "not_found": [gone]})


def test_schema_parameter_limits_the_deletion(setup, names):
    server, path = setup
    stat = "c.%s" % names
    load([path], [(stat, 1, T0 + 30)])
    status, body = delete(server, "stat=%s&schema=counts_daily" % stat)
    assert status == 200, body
    assert body["deleted"] == {"counts_daily": {stat: {"day": {"first": T0, "last": T0}}}}
    assert set(spans(server, stat)) == {"counts"}


def test_tagged_names_in_any_tag_order(setup, names):
    server, path = setup
    stored = "s.%s;a=1;b=2" % names
    load([path], [(stored, 4, T0 + 5)])
    status, body = delete(server, "stat=%s" % q("s.%s;b=2;a=1" % names))
    assert status == 200, body
    assert body["deleted"] == {"series": {stored: {"minute": {"first": T0, "last": T0}}}}
    assert spans(server, stored) == {}


@pytest.mark.parametrize("query,status,parameter", [
    ("", 400, "stat"),
    ("stat=c.*", 400, "stat"),
    ("stat=c.%7Ba%2Cb%7D", 400, "stat"),
    ("pattern=c.*", 400, "pattern"),
    ("pattern=c.*&stat=c.a", 400, "pattern"),
    ("stat=c.a&dry_run=perhaps", 400, "dry_run"),
    ("stat=c.a;broken", 400, "stat"),
    ("stat=c.a&schema=nope", 404, "schema"),
    ("&".join("stat=c.%d" % n for n in range(101)), 400, "stat"),
])
def test_bad_parameters_are_refused_and_nothing_is_deleted(setup, names, query, status, parameter):
    server, path = setup
    load([path], [("c.a", 1, T0 + 30)])
    got, body = delete(server, query)
    assert (got, body["status"], body["parameter"]) == (status, status, parameter), body
    assert set(spans(server, "c.a")) == {"counts", "counts_daily"}


def test_delete_is_a_write_a_web_page_may_not_send(setup, names):
    server, path = setup
    stat = "c.%s" % names
    load([path], [(stat, 1, T0 + 30)])
    status, body = server.get("/series?stat=%s" % stat, method="DELETE",
                              headers={"Origin": "https://evil.example"})
    assert status == 403 and "DELETE /series from a web page" in body["error"], body
    assert set(spans(server, stat)) == {"counts", "counts_daily"}
    status, headers, _ = server.request("/series", method="OPTIONS")
    assert status == 204 and "DELETE" in headers["Allow"]
    status, body = server.get("/list", method="DELETE")
    assert status == 405 and "DELETE" not in body["error"].split("use")[1], body


# -- torus_delete -----------------------------------------------------------------
def tool(path, *args, stdin=""):
    return subprocess.run([sys.executable, "%s/bin/torus_delete" % ROOT, "--config", path,
                           *args], input=stdin, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_tool_dry_run_prompt_pattern_regex_and_exact_names(setup, names):
    server, path = setup
    a, b, deep, other = ("c.%s.a" % names, "c.%s.b" % names, "c.%s.deep.x" % names,
                         "c.%sz" % names)
    timer = "t.%s.a" % names
    load([path], [(a, 1, T0 + 30), (b, 2, T0 + 90), (deep, 3, T0 + 30), (other, 4, T0 + 30),
                  (timer, 1.5, T0 + 10)])
    glob = "c.%s.*" % names

    result = tool(path, "--pattern", glob, "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "schema counts (" in out and "schema counts_daily (" in out
    for name in (a, b):
        assert out.count("  %s\n" % name) == 2  # in counts and counts_daily
    assert deep not in out and other not in out and timer not in out
    assert "dry run: would delete 2 stat(s) in 2 schema(s); nothing deleted" in out
    assert set(spans(server, a)) == {"counts", "counts_daily"}

    declined = tool(path, "--pattern", glob, stdin="n\n")
    assert declined.returncode == 1, declined.stderr
    assert "delete 2 stat(s) in 2 schema(s)? [y/N]" in declined.stdout
    assert "declined: nothing deleted" in declined.stdout
    assert set(spans(server, a)) == {"counts", "counts_daily"}

    done = tool(path, "--pattern", glob, stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert "deleted %s from counts" % a in done.stdout
    assert "deleted 2 stat(s) from 2 schema(s)" in done.stdout
    assert spans(server, a) == {} and spans(server, b) == {}
    for name in (deep, other):
        assert set(spans(server, name)) == {"counts", "counts_daily"}
    assert set(spans(server, timer)) == {"timers"}

    regex = tool(path, "--regex", r"c\.%s\..*" % names, "--schema", "counts", "--yes")
    assert regex.returncode == 0, regex.stderr
    assert "deleted %s from counts" % deep in regex.stdout
    assert set(spans(server, deep)) == {"counts_daily"}
    assert set(spans(server, other)) == {"counts", "counts_daily"}

    exact = tool(path, timer, "c.%s.never" % names, "--yes")
    assert exact.returncode == 0, exact.stderr
    assert "not found: c.%s.never (no schema holds it)" % names in exact.stdout
    day = "2013-03-01 00:00:00..2013-03-01 00:00:00"
    assert "  %s  minute %s, hour %s\n" % (timer, day, day) in exact.stdout, exact.stdout
    assert spans(server, timer) == {}

    nothing = tool(path, "c.%s.never" % names, "--yes")
    assert nothing.returncode == 0 and "nothing to delete" in nothing.stdout
