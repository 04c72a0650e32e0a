#!/usr/bin/env python3
"""torus /render beside graphite-web /render: requests/s and p50/p99 under concurrent load.

The same data in both: 50 gauges (``<prefix>.s00`` .. ``<prefix>.s49``) with one point a
minute over the last 24 hours (72,000 points), written with kairos ``bulk_insert`` into
torus (one schema on SQLite, the same on Redis when it answers; intervals 60 s x 2,880 and
3,600 s x 720) and into whisper files (``60s:2d,1h:30d``, ``last``, xFilesFactor 0) for
graphite-web. Requests, ``format=json`` over the 24 hours (1,440 steps of each series):

* ``1 series``: one name;
* ``50 series``: one wildcard target matching the 50 names;
* ``10 functions``: ten functions nested over the 50 series
  (``TEN_FUNCTIONS``, summed into one series).

torus runs as one process (gevent); graphite-web 1.1 under gunicorn with sync workers
(``--graphite-workers 1,3`` measures each), in the same run. With ``--torus-workers 1,2``
(the default) torus is also served by ``gunicorn -k gevent -w N torus.web:application``
for each N, on the Redis data (SQLite without Redis), and the ratio of the largest N
to N = 1 is printed (``query_bench.py`` has the same option for /series). Load comes from another
process: ``wrk`` when installed, else a gevent client (``query_bench.py``'s). Each answer
is checked before the load starts.

    python3 benchmarks/render_bench.py [--duration 10] [--connections 8] [--no-graphite]
                                       [--graphite-workers 1,3] [--torus-workers 1,2]
                                       [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench_support import stop_process  # noqa: E402
from graphite_web import GraphiteWeb, available  # noqa: E402
from query_bench import (REDIS_URL, clear_torus_data, gunicorn_available,  # noqa: E402
                         gunicorn_label, int_list, redis_available, run_python_client, run_wrk,
                         gunicorn_runs, start_torus, worker_ratios)

SERIES = 50
MINUTES = 24 * 60
#: ten functions nested over the 50 series (``%s``: their wildcard)
TEN_FUNCTIONS = ("alias(movingAverage(scale(offset(absolute(keepLastValue(transformNull(derivative("
                 "sumSeries(removeBelowValue(%s,-1000))),0),2)),1),0.5),5),'ten')")
INTERVALS = "{'minute': {'step': 60, 'steps': 2880}, 'hour': {'step': 3600, 'steps': 720}}"
CONFIG = """
SCHEMAS = {{
    'render_sqlite': {{'type': 'gauge', 'host': {sqlite!r}, 'match': r'^sq\\.',
                       'table_name': {token!r}, 'intervals': {intervals}}},
    {redis}
}}
DEBUG = 0
"""
REDIS_SCHEMA = """'render_redis': {{'type': 'gauge', 'host': {url!r}, 'match': r'^rd\\.',
                      'prefix': {token!r}, 'intervals': {intervals}}},"""
WHISPER = {"default": {"archives": [(60, 2 * 24 * 60), (3600, 30 * 24)], "method": "last",
                       "xff": 0}}


def value(series: int, minute: int) -> float:
    return round(((series * 7919 + minute * 104729) % 100000) / 100.0 - 100, 2)


def minutes() -> List[int]:
    now = int(time.time())
    last = now - now % 60 - 60
    return [last - 60 * (MINUTES - 1 - i) for i in range(MINUTES)]


def points(prefix: str, stamps: List[int]) -> Dict[str, List[Tuple[int, float]]]:
    return {"%s.s%02d" % (prefix, s): [(t, value(s, m)) for m, t in enumerate(stamps)]
            for s in range(SERIES)}


def write_torus(config_path: str, prefixes: List[str], stamps: List[int]) -> None:
    from torus.config import Configuration
    config = Configuration([config_path])
    for prefix in prefixes:
        (schema,) = config.schemas_for(prefix + ".s00")
        inserts: Dict[int, Dict[str, list]] = {}
        for name, series in points(prefix, stamps).items():
            for stamp, v in series:
                inserts.setdefault(stamp, {})[name] = [v]
        schema.timeseries.bulk_insert(inserts)


def cases(prefix: str) -> List[Tuple[str, str, int]]:
    """(case, target, non-null points expected)."""
    return [("1 series", prefix + ".s00", MINUTES),
            ("50 series", prefix + ".*", SERIES * MINUTES),
            ("10 functions", TEN_FUNCTIONS % (prefix + ".*"), -1)]


def prepare_torus(folder: str, use_redis: bool,
                  stamps: Optional[List[int]] = None) -> Tuple[str, Dict[str, str]]:
    """Write the torus configuration and data under ``folder``: the configuration's path, and
    ``{"/render <case> <backend>": path and query}`` of every case (``profile_query.py``)."""
    token = "rb" + uuid.uuid4().hex[:8]
    stamps = stamps or minutes()
    config_path = os.path.join(folder, "render_conf.py")
    with open(config_path, "w") as handle:
        redis = REDIS_SCHEMA.format(url=REDIS_URL, token=token, intervals=INTERVALS) if use_redis else ""
        handle.write(CONFIG.format(sqlite="sqlite:///%s/render.db" % folder, token=token,
                                   intervals=INTERVALS, redis=redis))
    prefixes = ["sq"] + (["rd"] if use_redis else [])
    write_torus(config_path, prefixes, stamps)
    paths = {}
    for prefix, backend in (("sq", "SQLite"), ("rd", "Redis")):
        if prefix in prefixes:
            for case, target, _ in cases(prefix):
                paths["/render %s %s" % (case, backend)] = url_of("", target, stamps)
    return config_path, paths


def url_of(base: str, target: str, stamps: List[int]) -> str:
    # the first point is the step after "from": one step earlier gives the same 24 hours
    query = urllib.parse.urlencode([("target", target), ("from", stamps[0] - 60),
                                    ("until", stamps[-1]), ("format", "json")])
    return "%s/render?%s" % (base, query)


def check(url: str, expected: int) -> None:
    """The answer holds ``expected`` non-null points (-1: one series with some)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise SystemExit("%s answered %d: %s" % (url[:200], err.code, err.read()[:500]))
    count = sum(1 for entry in body for p in entry["datapoints"] if p[0] is not None)
    ok = count == expected if expected >= 0 else (len(body) == 1 and count > MINUTES - 10)
    if not ok:
        raise SystemExit("%s answered %d series, %d points (expected %s)"
                         % (url[:200], len(body), count, expected))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per scenario")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-graphite", action="store_true", help="skip graphite-web")
    parser.add_argument("--no-redis", action="store_true", help="torus on SQLite only")
    parser.add_argument("--no-torus", action="store_true", help="graphite-web only")
    parser.add_argument("--graphite-workers", type=lambda text: [int(n) for n in text.split(",")],
                        default=[1, 3], help="gunicorn sync workers of graphite-web, a list")
    parser.add_argument("--cases", default="1 series,50 series,10 functions",
                        help="comma-separated subset of: 1 series, 50 series, 10 functions")
    parser.add_argument("--torus-workers", type=int_list, default=[1, 2],
                        help="also serve torus with gunicorn -k gevent -w N, once per N of this "
                        "comma-separated list, on Redis (SQLite without it); 0: not at all")
    parser.add_argument("--json", help="append one JSON line per scenario to this file")
    args = parser.parse_args(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    load = run_wrk if client == "wrk" else run_python_client
    wanted = set(args.cases.split(","))

    folder = tempfile.mkdtemp(prefix="render_bench_")
    stamps = minutes()
    use_redis = not args.no_redis and redis_available()
    prefixes = ["sq"] + (["rd"] if use_redis else [])
    began = time.perf_counter()
    config_path, _ = prepare_torus(folder, use_redis, stamps)
    print("wrote %d points in %.1fs; client: %s, %d connections, %ds per scenario; %d CPUs"
          % (len(prefixes) * SERIES * MINUTES, time.perf_counter() - began, client,
             args.connections, args.duration, os.cpu_count() or 0))

    results = []
    servers = []
    peer = None
    try:
        proc, base = start_torus(config_path)
        servers.append(proc)
        for prefix, label in (("sq", "torus SQLite"), ("rd", "torus Redis")):
            if prefix not in prefixes or args.no_torus:
                continue
            for case, target, expected in cases(prefix):
                if case in wanted:
                    url = url_of(base, target, stamps)
                    print("%s, %s: checking, then %d s of load" % (label, case, args.duration), flush=True)
                    check(url, expected)
                    results.append((label, case, load(url, args.duration, args.connections)))
        stop_process(servers.pop(), 20)
        why = gunicorn_available() if args.torus_workers and not args.no_torus else "not asked"
        for workers, gbase, prefix, backend in gunicorn_runs(why, args.torus_workers, config_path,
                                                             folder, servers, prefixes):
            label = gunicorn_label(backend, workers)
            for case, target, expected in cases(prefix):
                if case in wanted:
                    url = url_of(gbase, target, stamps)
                    print("%s, %s: checking, then %d s of load" % (label, case, args.duration),
                          flush=True)
                    check(url, expected)
                    figures = dict(load(url, args.duration, args.connections), processes=workers)
                    results.append((label, case, figures))
        why = "--no-graphite" if args.no_graphite else available()
        if why:
            print("graphite-web: skipped (%s)" % why)
        else:
            peer = GraphiteWeb(os.path.join(folder, "graphite"))
            peer.write(points("bench", stamps), WHISPER)
            for workers in args.graphite_workers:
                peer.start(workers)
                label = "graphite-web (%d worker%s)" % (workers, "" if workers == 1 else "s")
                for case, target, expected in cases("bench"):
                    if case in wanted:
                        url = url_of(peer.url, target, stamps)
                        print("%s, %s: checking, then %d s of load" % (label, case, args.duration),
                              flush=True)
                        check(url, expected)
                        results.append((label, case, load(url, args.duration, args.connections)))
                peer.stop()
    finally:
        if peer is not None:
            peer.stop()
        for proc in servers:
            stop_process(proc, 20)
        clear_torus_data(config_path)
        shutil.rmtree(folder, ignore_errors=True)

    print("%-26s %-13s %9s %9s %9s %7s" % ("server", "request", "p50 ms", "p99 ms", "req/s", "errors"))
    for label, case, figures in results:
        print("%-26s %-13s %9.2f %9.2f %9.1f %7d" % (label, case, figures["p50"], figures["p99"],
                                                     figures["rps"], figures["errors"]))
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(dict(figures, server=label, case=case, steps=MINUTES,
                                             client=client, connections=args.connections,
                                             duration=args.duration)) + "\n")
    for line in worker_ratios(results):
        print("torus under gunicorn -k gevent, /render " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
