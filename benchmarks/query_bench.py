#!/usr/bin/env python3
"""/series latency (p50/p99) and requests/s of a real torus process under concurrent load.

Scenarios, each on SQLite and on Redis (when its engine imports and the server answers):

* ``1 stat``: one count stat, 48 hourly buckets;
* ``50 stats``: 50 stats x 48 hourly buckets in one request (2,400 points).

The data (one value per stat and hour, the last 48 full hours) is written through
the karbon path (``processing.plan`` + ``store``). Load comes from another process:
``wrk`` when installed (``apt-get install wrk``), else a gevent client in a child
process; both keep ``--connections`` keep-alive connections busy for ``--duration``
seconds. With ``--graphite`` (the default when Debian's graphite-web, whisper and
gunicorn are installed for /usr/bin/python3) the same data is written to whisper
files and graphite-web's ``/render?format=json`` is measured beside torus under
gunicorn with ``--graphite-workers`` sync workers (``1,3`` measures both).

Scale-out: with ``--torus-workers 1,2`` (the default) torus is also served the way
its manual shows for several processes, ``gunicorn -k gevent -w N
torus.web:application``, once per N, on the same Redis data (SQLite without Redis),
and the ratio of requests/s of the largest N to N = 1 is printed.

    python3 benchmarks/query_bench.py [--duration 10] [--connections 8] [--no-graphite]
                                      [--graphite-workers 1,3] [--torus-workers 1,2]
                                      [--json FILE]

Figures depend on the machine; the load generator shares its CPUs with the server.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, Iterator, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench_support import free_port, stop_process, wait_port  # noqa: E402
from peers import graphite_available, start_graphite  # noqa: E402

STATS = 50
HOURS = 48
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

CONFIG = """
SCHEMAS = {{
    'bench_sqlite': {{'type': 'count', 'host': {sqlite!r}, 'match': r'^sq\\.',
                      'table_name': {token!r}, 'intervals': {{'hour': {{'step': 3600}}}}}},
    {redis}
}}
DEBUG = 0
"""
REDIS_SCHEMA = """'bench_redis': {{'type': 'count', 'host': {url!r}, 'match': r'^rd\\.',
                     'prefix': {token!r}, 'intervals': {{'hour': {{'step': 3600}}}}}},"""


# -- data ----------------------------------------------------------------------
def hours() -> List[int]:
    now = int(time.time())
    last = now - now % 3600 - 3600
    return [last - 3600 * (HOURS - 1 - i) for i in range(HOURS)]


def value(stat: int, hour: int) -> int:
    return (stat * 7919 + hour * 104729) % 1000


def redis_available() -> bool:
    try:
        import kairos.backends.redis_store  # noqa: F401
        import redis
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True
    except Exception as err:  # any reason is a reason to skip
        print("redis: skipped (%s: %s)" % (type(err).__name__, err))
        return False


def write_torus_data(config_path: str, prefixes: List[str], stamps: List[int]) -> None:
    from torus.config import Configuration
    from torus.processing import plan, store
    config = Configuration([config_path])
    points = [("%s.s%02d" % (prefix, s), value(s, h), stamp)
              for prefix in prefixes for s in range(STATS) for h, stamp in enumerate(stamps)]
    batches, stats = plan(config, points)
    assert stats.unmatched == 0 and stats.rejected == 0, stats
    for batch in batches.values():
        assert store(batch) == []


def clear_torus_data(config_path: str) -> None:
    from torus.config import Configuration
    for schema in Configuration([config_path]).schemas.values():
        try:
            schema.timeseries.delete_all()
        except Exception:
            pass


# -- servers -----------------------------------------------------------------------
def start_torus(config_path: str) -> Tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "bin", "torus"), "--tcp", "127.0.0.1:0",
                             "--config", config_path], stderr=subprocess.PIPE, cwd=ROOT)
    line = proc.stderr.readline().decode()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        raise SystemExit("torus did not start: %s%s" % (line, proc.stderr.read().decode()))
    return proc, match.group(1)


def gunicorn_available() -> Optional[str]:
    """Why torus cannot run under gunicorn here (None: it can)."""
    try:
        import gunicorn  # noqa: F401
        import gevent  # noqa: F401
    except ImportError as err:
        return "gunicorn or gevent not installed for %s (%s)" % (sys.executable, err)
    return None


def start_torus_gunicorn(config_path: str, workers: int, log_path: str,
                         timeout: float = 60) -> Tuple[subprocess.Popen, str]:
    """torus as docs/torus.rst shows it under another WSGI server:
    ``TORUS_CONFIG=... gunicorn -k gevent -w N torus.web:application``. Returns once every
    worker has booted and loaded the application (so every load connection can land on
    any of them), with the base URL."""
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
         "--bind", "127.0.0.1:%d" % port, "torus.web:application"],
        cwd=ROOT, env=dict(os.environ, TORUS_CONFIG=config_path), stdout=log,
        stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        with open(log_path) as handle:
            booted = handle.read().count("Booting worker")
        if booted >= workers:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc, 20)
            with open(log_path) as handle:
                raise SystemExit("gunicorn -w %d did not boot: %s" % (workers, handle.read()[-2000:]))
        time.sleep(0.1)
    wait_port(port, [proc], timeout)
    time.sleep(1)  # the application is built at boot; let the last worker finish it
    return proc, "http://127.0.0.1:%d" % port


def gunicorn_label(backend: str, workers: int) -> str:
    return "torus %s, gunicorn -w %d" % (backend, workers)


def gunicorn_runs(why: Optional[str], counts: List[int], config_path: str, folder: str,
                  servers: list, prefixes) -> Iterator[Tuple[int, str, str, str]]:
    """For each worker count: torus under gunicorn started on the same data, yielded as
    ``(workers, base URL, key prefix, backend name)`` and stopped once the caller has
    measured it (``why``: the reason it is skipped, then nothing runs)."""
    if why:
        print("torus under gunicorn: skipped (%s)" % why)
        return
    prefix, backend = ("rd", "Redis") if "rd" in prefixes else ("sq", "SQLite")
    for workers in counts:
        proc, base = start_torus_gunicorn(config_path, workers,
                                          os.path.join(folder, "gunicorn%d.log" % workers))
        servers.append(proc)
        yield workers, base, prefix, backend
        stop_process(servers.pop(), 20)


def worker_ratios(results: List[Tuple[str, str, Dict[str, float]]]) -> List[str]:
    """``request: N1 vs N2 req/s = ratio`` for every request measured with several
    gunicorn worker counts (the largest count over the smallest)."""
    by_case: Dict[str, Dict[int, float]] = {}
    for _, case, figures in results:
        if figures.get("processes"):
            by_case.setdefault(case, {})[int(figures["processes"])] = figures["rps"]
    lines = []
    for case, rps in by_case.items():
        low, high = min(rps), max(rps)
        if low != high and rps[low]:
            lines.append("%s: %d workers %.1f req/s vs %d worker%s %.1f req/s = %.2fx"
                         % (case, high, rps[high], low, "" if low == 1 else "s", rps[low],
                            rps[high] / rps[low]))
    return lines


def int_list(text: str) -> List[int]:
    return [int(n) for n in text.split(",") if n.strip() and int(n)]


# -- load ---------------------------------------------------------------------------
def run_wrk(url: str, duration: int, connections: int) -> Dict[str, float]:
    command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", "%ds" % duration,
               "--latency", "--timeout", "10s", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        number, unit = float(match.group(1)), match.group(2)
        return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": ms("50%"), "p99": ms("99%"),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0}


CLIENT = r"""
import sys, time, json
from gevent import monkey; monkey.patch_all()
import gevent, http.client
from urllib.parse import urlsplit
url, duration, connections = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
parts = urlsplit(url)
target = parts.path + '?' + parts.query
latencies, errors = [], [0]
def worker(deadline):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        conn.request('GET', target)
        response = conn.getresponse(); response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200: errors[0] += 1
began = time.perf_counter()
gevent.joinall([gevent.spawn(worker, began + duration) for _ in range(connections)])
elapsed = time.perf_counter() - began
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
print(json.dumps({'p50': pick(0.5), 'p99': pick(0.99), 'rps': len(latencies) / elapsed, 'errors': errors[0]}))
"""


def run_python_client(url: str, duration: int, connections: int) -> Dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(duration), str(connections)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def check(url: str, expected_points: int) -> None:
    import urllib.request
    body = json.loads(urllib.request.urlopen(url, timeout=30).read())
    points = sum(len([p for p in entry["datapoints"] if p[0] is not None]) for entry in body)
    if points != expected_points:
        raise SystemExit("%s answered %d points, expected %d" % (url, points, expected_points))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per scenario")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-graphite", action="store_true", help="skip graphite-web")
    parser.add_argument("--graphite-workers", type=lambda text: [int(n) for n in text.split(",")],
                        default=[1], help="gunicorn sync workers for graphite-web (torus runs one "
                        "process); a comma-separated list measures each, e.g. 1,3")
    parser.add_argument("--torus-workers", type=int_list, default=[1, 2],
                        help="also serve torus with gunicorn -k gevent -w N, once per N of this "
                        "comma-separated list, on Redis (SQLite without it); 0: not at all")
    parser.add_argument("--json", help="append one JSON line per scenario to this file")
    args = parser.parse_args(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    load = run_wrk if client == "wrk" else run_python_client

    folder = tempfile.mkdtemp(prefix="query_bench_")
    token = "qb" + uuid.uuid4().hex[:8]
    stamps = hours()
    use_redis = redis_available()
    config_path = os.path.join(folder, "bench_conf.py")
    with open(config_path, "w") as handle:
        redis_schema = REDIS_SCHEMA.format(url=REDIS_URL, token=token) if use_redis else ""
        handle.write(CONFIG.format(sqlite="sqlite:///%s/bench.db" % folder, token=token, redis=redis_schema))
    prefixes = ["sq"] + (["rd"] if use_redis else [])
    began = time.perf_counter()
    write_torus_data(config_path, prefixes, stamps)
    print("wrote %d points in %.1fs; client: %s, %d connections, %ds per scenario; %d CPUs"
          % (len(prefixes) * STATS * HOURS, time.perf_counter() - began, client, args.connections,
             args.duration, os.cpu_count() or 0))

    results = []
    servers = []
    try:
        proc, base = start_torus(config_path)
        servers.append(proc)
        window = "start=%d&end=%d" % (stamps[0], stamps[-1])
        for prefix, label in (("sq", "torus SQLite"), ("rd", "torus Redis")):
            if prefix not in prefixes:
                continue
            for count in (1, STATS):
                stats = "&".join("stat=%s.s%02d" % (prefix, s) for s in range(count))
                url = "%s/series?%s&%s" % (base, stats, window)
                check(url, count * HOURS)
                results.append((label, count, load(url, args.duration, args.connections)))
        stop_process(servers.pop(), 20)
        why = gunicorn_available() if args.torus_workers else "--torus-workers 0"
        for workers, gbase, prefix, backend in gunicorn_runs(why, args.torus_workers, config_path,
                                                             folder, servers, prefixes):
            for count in (1, STATS):
                stats = "&".join("stat=%s.s%02d" % (prefix, s) for s in range(count))
                url = "%s/series?%s&%s" % (gbase, stats, window)
                check(url, count * HOURS)
                figures = dict(load(url, args.duration, args.connections), processes=workers)
                results.append((gunicorn_label(backend, workers), count, figures))
        if not args.no_graphite:
            why = graphite_available()
            if why:
                print("graphite-web: skipped (%s)" % why)
            else:
                series = {"bench.s%02d" % s: [(stamp, value(s, h)) for h, stamp in enumerate(stamps)]
                          for s in range(STATS)}
                # whisper starts at the step after "from": one second earlier gives the same 48 hours
                gwindow = "from=%d&until=%d" % (stamps[0] - 1, stamps[-1])
                for workers in args.graphite_workers:
                    gproc, gbase = start_graphite(os.path.join(folder, "graphite%d" % workers), series, workers,
                                                  "/render?format=json&target=bench.s00&from=-1h")
                    servers.append(gproc)
                    for count in (1, STATS):
                        targets = "&".join("target=bench.s%02d" % s for s in range(count))
                        url = "%s/render?format=json&%s&%s" % (gbase, targets, gwindow)
                        check(url, count * HOURS)
                        results.append(("graphite-web (%d worker%s)" % (workers, "" if workers == 1 else "s"),
                                        count, load(url, args.duration, args.connections)))
                    stop_process(gproc, 20)
    finally:
        for proc in servers:
            stop_process(proc, 20)
        clear_torus_data(config_path)
        shutil.rmtree(folder, ignore_errors=True)

    print("%-26s %8s %9s %9s %9s %7s" % ("server", "stats", "p50 ms", "p99 ms", "req/s", "errors"))
    for label, count, figures in results:
        print("%-26s %8s %9.2f %9.2f %9.1f %7d" % (label, "%d x %d" % (count, HOURS), figures["p50"],
                                                   figures["p99"], figures["rps"], figures["errors"]))
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(dict(figures, server=label, stats=count, steps=HOURS, client=client,
                                             connections=args.connections, duration=args.duration)) + "\n")
    for line in worker_ratios([(label, "%d x %d" % (count, HOURS), figures)
                               for label, count, figures in results]):
        print("torus under gunicorn -k gevent, /series " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
