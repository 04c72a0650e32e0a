"""The same points in graphite-web (the reference) and in torus, to compare their answers.

Once per test session (``graphite`` fixture) a fixed dataset is built relative to the
current time (whisper keeps only what its retention covers from now), aligned to the
minute, and written:

* to whisper files served by Debian's graphite-web 1.1.8 under gunicorn
  (``benchmarks/graphite_web.py``, shared with the benchmarks), tagged names registered in
  its tag database;
* to torus (``torus_pair`` fixture, once per backend: SQLite, and Redis when reachable) with
  ``kairos`` ``bulk_insert``, in schemas whose intervals mirror the whisper archives, served
  by a torus process.

Archives: 60 s for 2 days and 3600 s for 30 days, xFilesFactor 0. The hour archive of each
kind of data is aggregated the way its torus schema reduces an hour: gauges keep the last
value (whisper ``last``), counts add up (``sum``), the latency series averages (``average``).

The dataset (``dataset(end)``) spans 47 hours of 1-minute points ending at ``end`` (the
last full minute before the session started):

* ``servers.{web1,web2,web3,db1}.cpu.{user,system}`` gauges with fractional values;
  ``servers.web2.cpu.user`` goes negative, ``servers.web3.cpu.system`` has a null every
  7th minute and a 30-minute hole; ``servers.web1.disk.free`` large values;
* ``apps.api.requests`` and ``apps.api.errors`` counts (requests null every 5th minute),
  ``apps.batch.requests`` only in the last 24 hours, ``apps.api.latency`` a series with nulls;
* tagged gauges ``cpu;dc=..;host=..``, ``mem;dc=eu;host=web1`` and a tagged count
  ``requests;app=api;dc=us;host=web1``.

graphite-web missing: the tests skip, or fail when ``CI`` is set (``.ci/run`` installs it).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import urllib.parse
import uuid
from typing import Dict, List, Optional, Tuple

import pytest

from benchmarks.graphite_web import GraphiteWeb, available
from tests.conftest import IN_CI, require
from tests.functional.torus_support import TorusProcess, http

MINUTE = 60
HOUR = 3600
DAY = 86400
#: minutes of data: 47 hours, inside the 2-day minute archive
POINTS = 47 * 60
#: whisper archives and the torus intervals that mirror them
ARCHIVES = ((MINUTE, 2 * 24 * 60), (HOUR, 30 * 24))
WHISPER_SCHEMAS = {
    "gauges": {"archives": ARCHIVES, "method": "last", "xff": 0},
    "counts": {"archives": ARCHIVES, "method": "sum", "xff": 0},
    "latency": {"archives": ARCHIVES, "method": "average", "xff": 0},
}
#: torus schema -> (kairos type, match)
TORUS_SCHEMAS = {
    "gauges": ("gauge", [r"^servers\.", r"^(cpu|mem);"]),
    "counts": ("count", [r"^apps\.[^.;]+\.(requests|errors)$", r"^requests;"]),
    "latency": ("series", [r"^apps\.[^.;]+\.latency$"]),
}

TAGGED = ("cpu;dc=eu;host=web1", "cpu;dc=eu;host=web2", "cpu;dc=us;host=web3",
          "mem;dc=eu;host=web1", "requests;app=api;dc=us;host=web1")

CONFIG = '''
_HOST = {host!r}
_OPTION = {option!r}
_TOKEN = {token!r}
_INTERVALS = {{'minute': {{'step': 60, 'steps': 2880}}, 'hour': {{'step': 3600, 'steps': 720}}}}


def _schema(name, type, match):
    definition = dict(type=type, host=_HOST, match=match, intervals=_INTERVALS)
    definition[_OPTION] = '%s_%s' % (_TOKEN, name)
    return definition


SCHEMAS = {{name: _schema(name, type, match) for name, (type, match) in {schemas!r}.items()}}
DEBUG = 0
'''


# -- the dataset --------------------------------------------------------------------------
def _gauge(seed: int, i: int) -> float:
    wave = 40 * math.sin((i + 37 * seed) / 90.0)
    return round(50 + wave + ((i * 7919 + seed * 104729) % 1000) / 100.0, 3)


def schema_of(name: str) -> str:
    """The schema (whisper and torus) a name of the dataset belongs to."""
    if name.startswith("servers.") or name.startswith(("cpu;", "mem;")):
        return "gauges"
    return "latency" if name.endswith(".latency") else "counts"


def dataset(end: int) -> Dict[str, List[Tuple[int, Optional[float]]]]:
    """{name: [(timestamp, value or None)]}: POINTS minutes ending at ``end`` (a minute)."""
    assert end % MINUTE == 0
    stamps = [end - (POINTS - 1 - i) * MINUTE for i in range(POINTS)]
    out: Dict[str, List[Tuple[int, Optional[float]]]] = {}
    seed = 0
    for host in ("web1", "web2", "web3", "db1"):
        for kind in ("user", "system"):
            seed += 1
            out["servers.%s.cpu.%s" % (host, kind)] = [(t, _gauge(seed, i))
                                                        for i, t in enumerate(stamps)]
    out["servers.web2.cpu.user"] = [(t, round(v - 60, 3)) for t, v in out["servers.web2.cpu.user"]]
    out["servers.web3.cpu.system"] = [
        (t, None if i % 7 == 0 or 600 <= i < 630 else v)
        for i, (t, v) in enumerate(out["servers.web3.cpu.system"])]
    out["servers.web1.disk.free"] = [(t, 1.5e9 - i * 12345.678) for i, t in enumerate(stamps)]
    out["apps.api.requests"] = [(t, None if i % 5 == 0 else (i * 31) % 97 + 100)
                                for i, t in enumerate(stamps)]
    out["apps.api.errors"] = [(t, (i * 13) % 7 // 5) for i, t in enumerate(stamps)]
    out["apps.batch.requests"] = [(t, (i * 17) % 50) for i, t in enumerate(stamps)
                                  if t > end - DAY]
    out["apps.api.latency"] = [(t, None if i % 11 == 3 else round(0.25 + (i % 40) / 8.0, 4))
                               for i, t in enumerate(stamps)]
    for k, name in enumerate(TAGGED):
        if name.startswith("requests;"):
            out[name] = [(t, (i * 7 + k) % 20) for i, t in enumerate(stamps)]
        else:
            out[name] = [(t, _gauge(100 + k, i)) for i, t in enumerate(stamps)]
    return out


# -- graphite-web ---------------------------------------------------------------------------
def graphite_missing() -> str:
    return available()


class Graphite:
    """graphite-web over the dataset; ``end`` is the dataset's last minute."""

    def __init__(self, folder: str):
        now = int(time.time())
        self.end = now - now % MINUTE - MINUTE
        self.data = dataset(self.end)
        self.peer = GraphiteWeb(folder)
        began = time.time()
        self.peer.write(self.data, WHISPER_SCHEMAS, {n: schema_of(n) for n in self.data})
        self.peer.start(workers=2)
        self.peer.tag([n for n in self.data if ";" in n])
        self.url = self.peer.url
        self.took = time.time() - began

    def stop(self):
        self.peer.stop()


@pytest.fixture(scope="session")
def graphite(tmp_path_factory):
    """graphite-web over the dataset for the whole session (skip, or fail under CI, if missing)."""
    why = graphite_missing()
    if why:
        if IN_CI:
            pytest.fail("CI is set and %s" % why, pytrace=False)
        pytest.skip(why)
    server = Graphite(str(tmp_path_factory.mktemp("graphite_web")))
    yield server
    server.stop()


# -- torus -----------------------------------------------------------------------------------
def write_torus_config(path: str, backend: str, folder: str, token: str) -> str:
    if backend == "sqlite":
        host, option = "sqlite:///%s" % os.path.join(folder, "torus.db"), "table_name"
    else:
        host, option = require("redis"), "prefix"
        try:
            import kairos.backends.redis_store  # noqa: F401
        except ImportError:
            pytest.skip("the Redis engine is not built")
    with open(path, "w") as handle:
        handle.write(CONFIG.format(host=host, option=option, token=token,
                                   schemas={k: list(v) for k, v in TORUS_SCHEMAS.items()}))
    return path


def load_torus(config_path: str, data: Dict[str, List[Tuple[int, Optional[float]]]]):
    """The dataset into torus's schemas with one kairos ``bulk_insert`` per schema."""
    from torus.config import Configuration
    config = Configuration([config_path])
    inserts: Dict[str, Dict[int, Dict[str, list]]] = {}
    for name, points in data.items():
        schemas = config.schemas_for(name)
        assert [s.name for s in schemas] == [schema_of(name)], (name, schemas)
        by_time = inserts.setdefault(schema_of(name), {})
        for stamp, value in points:
            if value is not None:
                by_time.setdefault(stamp, {})[name] = [value]
    for schema, by_time in inserts.items():
        config.schemas[schema].timeseries.bulk_insert(dict(sorted(by_time.items())))
    return config


class TorusPair:
    """A torus process over the dataset on one backend."""

    def __init__(self, backend: str, folder: str, data):
        self.backend = backend
        token = "go" + uuid.uuid4().hex[:8]
        path = write_torus_config(os.path.join(folder, "oracle_conf.py"), backend, folder, token)
        self.config = load_torus(path, data)
        self.process = TorusProcess([path])
        self.url = self.process.url

    def stop(self) -> int:
        code = self.process.stop()
        for schema in self.config.schemas.values():
            try:
                schema.timeseries.delete_all()
            except Exception:
                pass
        return code


_PAIRS: Dict[str, TorusPair] = {}


@pytest.fixture(scope="session", params=["sqlite", "redis"])
def torus_server(request, graphite, tmp_path_factory):
    """torus over the same dataset, per backend (one process each for the session)."""
    backend = request.param
    pair = TorusPair(backend, str(tmp_path_factory.mktemp("torus_" + backend)), graphite.data)
    yield pair
    code = pair.stop()
    assert code == 0, pair.process.log


# -- requests ----------------------------------------------------------------------------------
def get(base: str, path: str, params=(), method: str = "GET") -> Tuple[int, bytes]:
    """``(status, body)`` of ``path`` with ``params`` (query string, or a POSTed form)."""
    query = urllib.parse.urlencode(list(params))
    if method == "POST":
        status, _headers, body = http(base + path, method="POST", data=query.encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        status, _headers, body = http(base + path + ("?" + query if query else ""))
    return status, body


def both(graphite_url: str, torus_url: str, path: str, params=(), method: str = "GET",
         relative: bool = False):
    """The answers of both servers to the same request. ``relative``: the request depends on
    the current time, so both are asked within the same second (``constantLine`` and other
    answers stamped by "now" to the second), retried otherwise; on a machine too slow for
    that, within the same minute."""
    for attempt in range(25):
        started = time.time()
        g = get(graphite_url, path, params, method)
        t = get(torus_url, path, params, method)
        if not relative:
            return g, t
        unit = 1 if attempt < 20 else MINUTE
        if int(time.time()) // unit == int(started) // unit:
            return g, t
    raise AssertionError("could not ask both servers within one minute")


def decode_json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


# -- comparisons: each returns a list of differences (empty: the same answer) --------------------
def close(a, b, rel: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)
    return a == b


def diff_render(expected, got, limit: int = 6) -> List[str]:
    """Differences of two /render JSON answers: series (target) in order, tags, timestamps,
    values."""
    if not isinstance(expected, list) or not isinstance(got, list):
        return ["graphite-web answered %.300r, torus %.300r" % (expected, got)]
    out = []
    names_e = [s.get("target") for s in expected]
    names_g = [s.get("target") for s in got]
    if names_e != names_g:
        out.append("targets: graphite-web %r, torus %r" % (names_e, names_g))
        if sorted(map(str, names_e)) != sorted(map(str, names_g)):
            return out
    if names_e != names_g:  # the same names in another order: pair them by name
        key = lambda s: str(s.get("target"))  # noqa: E731 (sorted is stable: duplicates keep order)
        expected, got = sorted(expected, key=key), sorted(got, key=key)
    for series, other in zip(expected, got):
        name = series.get("target")
        if series.get("tags") != other.get("tags"):
            out.append("%s: tags graphite-web %r, torus %r" % (name, series.get("tags"),
                                                               other.get("tags")))
        pe, pg = series.get("datapoints") or [], other.get("datapoints") or []
        te, tg = [p[1] for p in pe], [p[1] for p in pg]
        if te != tg:
            out.append("%s: %d timestamps %s..%s (step %s), torus %d %s..%s (step %s)" % (
                name, len(te), te[:1], te[-1:], te[1] - te[0] if len(te) > 1 else "-",
                len(tg), tg[:1], tg[-1:], tg[1] - tg[0] if len(tg) > 1 else "-"))
            continue
        bad = [(p[1], p[0], q[0]) for p, q in zip(pe, pg) if not close(p[0], q[0])]
        if bad:
            out.append("%s: %d of %d values differ, e.g. (ts, graphite-web, torus) %s" % (
                name, len(bad), len(pe), bad[:limit]))
    return out


def parse_csv(body: bytes):
    rows = []
    for row in csv.reader(io.StringIO(body.decode("utf-8", "replace"))):
        if row:
            rows.append((row[0], row[1], float(row[2]) if row[2] != "" else None))
    return rows


def diff_csv(expected: bytes, got: bytes) -> List[str]:
    try:
        re_, rg = parse_csv(expected), parse_csv(got)
    except (ValueError, IndexError) as err:
        return ["csv unreadable (%s): graphite-web %.200r, torus %.200r" % (err, expected, got)]
    if len(re_) != len(rg):
        return ["csv: graphite-web %d rows, torus %d (first: %r / %r)" % (
            len(re_), len(rg), re_[:1], rg[:1])]
    bad = [(a, b) for a, b in zip(re_, rg) if a[:2] != b[:2] or not close(a[2], b[2])]
    return ["csv: %d rows differ, e.g. %s" % (len(bad), bad[:4])] if bad else []


def parse_raw(body: bytes):
    out = []
    for line in body.decode("utf-8", "replace").splitlines():
        if not line:
            continue
        head, _, values = line.rpartition("|")
        name, start, end, step = head.rsplit(",", 3)
        out.append((name, int(start), int(end), int(step),
                    [None if v == "None" else float(v) for v in values.split(",")]))
    return out


def diff_raw(expected: bytes, got: bytes) -> List[str]:
    try:
        re_, rg = parse_raw(expected), parse_raw(got)
    except ValueError as err:
        return ["raw unreadable (%s): graphite-web %.200r, torus %.200r" % (err, expected, got)]
    out = []
    if [r[:4] for r in re_] != [r[:4] for r in rg]:
        out.append("raw headers: graphite-web %r, torus %r" % ([r[:4] for r in re_],
                                                               [r[:4] for r in rg]))
        return out
    for a, b in zip(re_, rg):
        if len(a[4]) != len(b[4]) or not all(close(x, y) for x, y in zip(a[4], b[4])):
            out.append("raw %s: values differ" % a[0])
    return out


def without_tagged_tree(nodes):
    """graphite-web's whisper finder shows its storage of tagged series (the ``_tagged``
    folder); torus has no such folder (see ALLOWED in test_graphite_oracle)."""
    if isinstance(nodes, list):
        return [n for n in nodes if not (isinstance(n, str) and n.startswith("_tagged"))
                and not (isinstance(n, dict) and str(n.get("id", n.get("path", "")))
                         .startswith("_tagged"))]
    if isinstance(nodes, dict) and "metrics" in nodes:
        # the completer sorts by node name only: equal names come in graphite-web's
        # directory order, which nothing fixes; compare them by path
        return dict(nodes, metrics=sorted(without_tagged_tree(nodes["metrics"]),
                                          key=lambda n: (n.get("name"), n.get("path"))))
    if isinstance(nodes, dict) and "results" in nodes:
        return dict(nodes, results=[r for r in nodes["results"] if not r.startswith("_tagged")])
    return nodes


def without_ids(value):
    """Tag answers without graphite-web's database row ids (torus has no rows)."""
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "id"}
    return value
