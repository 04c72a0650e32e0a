#!/usr/bin/env python3
"""CPU per request of torus queries in one process, without sockets: the WSGI application called directly.

    python3 benchmarks/profile_query.py [--requests 200] [--rounds 3] [--profile CASE]

Builds the data of ``query_bench.py`` (50 count stats x 48 hours, SQLite and Redis)
and of ``render_bench.py`` (50 gauges x 24 h of minutes), then calls
``torus.web``'s application for each case and prints the process CPU seconds per
request (median of ``--rounds``), the figure that stays put on a shared machine
where wall-clock latency does not. ``--profile CASE`` prints the top functions of
one case (cProfile), to see where a request's time goes.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gevent import monkey  # noqa: E402

monkey.patch_all()

import query_bench  # noqa: E402
import render_bench  # noqa: E402


def call(app: Callable, path: str) -> bytes:
    """One GET through the WSGI application; raises unless it answers 200."""
    target, _, query = path.partition("?")
    status: List[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": target, "QUERY_STRING": query,
               "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(b"")}
    body = b"".join(app(environ, lambda code, headers: status.append(code)))
    if not status or not status[0].startswith("200"):
        raise SystemExit("%s answered %s: %s" % (path, status, body[:300]))
    return body


def cpu_per_request(app: Callable, path: str, requests: int) -> float:
    began = time.process_time()
    for _ in range(requests):
        call(app, path)
    return (time.process_time() - began) / requests


def series_cases(folder: str, use_redis: bool) -> Tuple[str, Dict[str, str]]:
    token = "pq" + uuid.uuid4().hex[:8]
    config_path = os.path.join(folder, "series_conf.py")
    redis = query_bench.REDIS_SCHEMA.format(url=query_bench.REDIS_URL, token=token) if use_redis else ""
    with open(config_path, "w") as handle:
        handle.write(query_bench.CONFIG.format(sqlite="sqlite:///%s/series.db" % folder, token=token,
                                               redis=redis))
    stamps = query_bench.hours()
    prefixes = ["sq"] + (["rd"] if use_redis else [])
    query_bench.write_torus_data(config_path, prefixes, stamps)
    window = "start=%d&end=%d" % (stamps[0], stamps[-1])
    cases = {}
    for prefix, label in (("sq", "SQLite"), ("rd", "Redis")):
        if prefix in prefixes:
            for count in (1, query_bench.STATS):
                stats = "&".join("stat=%s.s%02d" % (prefix, s) for s in range(count))
                cases["/series %d stat%s %s" % (count, "s" if count > 1 else "", label)] = \
                    "/series?%s&%s" % (stats, window)
    return config_path, cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="print the cProfile top functions of the case named so")
    parser.add_argument("--only", help="measure only the cases whose name holds this text")
    parser.add_argument("--no-render", action="store_true")
    args = parser.parse_args()
    from torus.config import ConfigHolder
    from torus.daemon import tune_gc
    from torus.web import make_app

    folder = tempfile.mkdtemp(prefix="profile_query_")
    use_redis = query_bench.redis_available()
    configs: List[str] = []
    try:
        config_path, cases = series_cases(folder, use_redis)
        configs.append(config_path)
        apps = {name: make_app(ConfigHolder([config_path])) for name in cases}
        if not args.no_render:
            render_path, render_cases = render_bench.prepare_torus(folder, use_redis)
            configs.append(render_path)
            render_app = make_app(ConfigHolder([render_path]))
            for name, path in render_cases.items():
                cases[name] = path
                apps[name] = render_app
        selected = [name for name in cases if not args.only or args.only in name]
        tune_gc()  # as the torus command does before it serves
        for name in selected:  # warm: connections, caches, first-time imports
            call(apps[name], cases[name])
        figures: Dict[str, List[float]] = {name: [] for name in selected}
        for _ in range(args.rounds):
            for name in selected:
                figures[name].append(cpu_per_request(apps[name], cases[name], args.requests))
        load = os.getloadavg()
        print("CPU ms per request, median of %d rounds of %d requests (load average %.2f %.2f %.2f)"
              % (args.rounds, args.requests, *load))
        for name in selected:
            print("%-32s %9.3f ms  (%s)" % (name, statistics.median(figures[name]) * 1000,
                                            ", ".join("%.3f" % (f * 1000) for f in figures[name])))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                call(apps[args.profile], cases[args.profile])
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    finally:
        for path in configs:
            query_bench.clear_torus_data(path)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
