#!/usr/bin/env python3
"""kairos storage benchmark: bulk_insert throughput and ``series`` latency per backend.

Writes: statsd-shaped batches (``--names`` stats x ``--values`` values in one
``bulk_insert`` call, one call per 10 s flush, ``--batches`` calls) into a timeseries
with a minute and an hour interval, for the count, histogram and series types.
A point is one value; each point lands in both intervals.

Reads: ``--queries`` calls of ``series(name, "hour", end=..., steps=48)`` on 48 hours
of data (5 values per stat and hour), reporting p50 and p99 latency.

    python3 benchmarks/kairos_bench.py                         # sqlite, postgresql, mysql, redis
    python3 benchmarks/kairos_bench.py --backends sqlite --quick
    BENCH_POSTGRES_URL=postgresql://u@host/db python3 benchmarks/kairos_bench.py
    BENCH_REDIS_URL=redis://host:6379/0 python3 benchmarks/kairos_bench.py --backends redis

Each run uses its own table names / key prefix and removes them afterwards. The
process is monkey-patched with gevent first (as karbon and torus run) unless
``--no-gevent``.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

TYPES = ("count", "histogram", "series")
INTERVALS = {"minute": {"step": 60}, "hour": {"step": 3600}}
START = 1704067200          # 2024-01-01 00:00:00 UTC: fixed, so runs are comparable
FLUSH = 10                  # seconds between statsd flushes
READ_HOURS = 48


class Backend(NamedTuple):
    """Where a backend lives and the options that keep one run's data apart."""
    url: Callable[[], str]
    isolate: Callable[[str], Dict[str, Any]]


def _sqlite_url() -> str:
    return "sqlite:///%s" % os.path.join(tempfile.mkdtemp(prefix="kairos_bench_"), "bench.db")


def _env(name: str, default: str) -> Callable[[], str]:
    return lambda: os.environ.get(name, default)


def _table(token: str) -> Dict[str, Any]:
    return {"table_name": token}


def _prefix(token: str) -> Dict[str, Any]:
    return {"prefix": token}


#: one line per backend
BACKENDS: Dict[str, Backend] = {
    "sqlite": Backend(_sqlite_url, _table),
    "postgresql": Backend(_env("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"), _table),
    "mysql": Backend(_env("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"), _table),
    "redis": Backend(_env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"), _prefix),
}


def _drop(ts: Any) -> None:
    """Remove everything a benchmark timeseries stored (and its table, on SQL)."""
    ts.delete_all()
    table = getattr(ts, "table", None)
    if table is not None and hasattr(ts, "db"):
        table.drop(ts.db, checkfirst=True)


def _percentile(samples: List[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_writes(make: Callable[[str], Any], type_: str, names: int, values: int,
                 batches: int) -> float:
    """Points per second of ``batches`` statsd-like bulk_insert calls."""
    ts = make(type_)
    try:
        ts.insert("warm-up", 1, timestamp=START - 3600)        # table creation is not measured
        stats = ["stats.bench.%05d" % n for n in range(names)]
        elapsed = 0.0
        for batch in range(batches):
            inserts = {START + batch * FLUSH: {s: [(n + k) % 100 for k in range(values)]
                                               for n, s in enumerate(stats)}}
            began = time.perf_counter()
            ts.bulk_insert(inserts)
            elapsed += time.perf_counter() - began
        return names * values * batches / elapsed
    finally:
        _drop(ts)


def bench_reads(make: Callable[[str], Any], type_: str, stats: int, queries: int) -> List[float]:
    """Latencies (seconds) of ``series`` over 48 hour buckets."""
    ts = make(type_)
    try:
        names = ["stats.read.%03d" % n for n in range(stats)]
        inserts = {START + hour * 3600 + minute * 60: {name: [minute + hour % 7] for name in names}
                   for hour in range(READ_HOURS) for minute in (1, 12, 23, 34, 45)}
        ts.bulk_insert(inserts)
        end = START + (READ_HOURS - 1) * 3600
        ts.series(names[0], "hour", end=end, steps=READ_HOURS)            # warm the pool
        rng = random.Random(7)
        latencies = []
        for _ in range(queries):
            name = rng.choice(names)
            began = time.perf_counter()
            result = ts.series(name, "hour", end=end, steps=READ_HOURS)
            latencies.append(time.perf_counter() - began)
            assert len(result) == READ_HOURS
        return latencies
    finally:
        _drop(ts)


def run(backend_name: str, args: argparse.Namespace) -> List[Dict[str, Any]]:
    from kairos import Timeseries
    backend = BACKENDS[backend_name]
    url = backend.url()
    token = "bench_" + uuid.uuid4().hex[:8]
    made = [0]

    def make(type_: str) -> Any:
        made[0] += 1
        return Timeseries(url, type=type_, intervals=INTERVALS,
                          **backend.isolate("%s_%s_%d" % (token, type_, made[0])))

    rows = []
    for type_ in args.types:
        rate = bench_writes(make, type_, args.names, args.values, args.batches)
        latencies = bench_reads(make, type_, args.read_stats, args.queries)
        rows.append({"backend": backend_name, "type": type_, "points_s": rate,
                     "p50_ms": 1000 * statistics.median(latencies),
                     "p99_ms": 1000 * _percentile(latencies, 0.99)})
    return rows


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql,redis",
                        help="comma-separated, from: %s" % ", ".join(BACKENDS))
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated timeseries types")
    parser.add_argument("--names", type=int, default=2000, help="stats per batch (default 2000)")
    parser.add_argument("--values", type=int, default=5, help="values per stat and batch (default 5)")
    parser.add_argument("--batches", type=int, default=10, help="bulk_insert calls (default 10)")
    parser.add_argument("--queries", type=int, default=200, help="series queries (default 200)")
    parser.add_argument("--read-stats", type=int, default=20, help="stats holding read data")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200 names, 2 batches, 20 queries")
    parser.add_argument("--no-gevent", action="store_true", help="do not monkey-patch with gevent")
    args = parser.parse_args(argv)
    if not args.no_gevent:
        from gevent import monkey
        monkey.patch_all()
    if args.quick:
        args.names, args.batches, args.queries, args.read_stats = 200, 2, 20, 5
    args.types = [t for t in args.types.split(",") if t]
    names = [b for b in args.backends.split(",") if b]
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        parser.error("unknown backend(s) %s: choose from %s" % (", ".join(unknown), ", ".join(BACKENDS)))
    print("batch: %d names x %d values, %d batches; reads: %d series of %d buckets; gevent %s"
          % (args.names, args.values, args.batches, args.queries, READ_HOURS,
             "off" if args.no_gevent else "on"))
    print("%-11s %-10s %14s %12s %12s" % ("backend", "type", "insert pts/s", "series p50", "series p99"))
    failed = False
    for name in names:
        try:
            rows = run(name, args)
        except Exception as err:  # one unreachable backend must not hide the others
            print("%-11s %s: %s" % (name, type(err).__name__, err))
            failed = True
            continue
        for row in rows:
            print("%-11s %-10s %14.0f %10.2f ms %10.2f ms" % (
                row["backend"], row["type"], row["points_s"], row["p50_ms"], row["p99_ms"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
