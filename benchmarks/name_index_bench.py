#!/usr/bin/env python3
"""kairos name index benchmark: ``nodes()`` and ``lookup()`` latency with a million names.

Fills the name index of an empty timeseries per engine with ``--names`` names shaped
``dc{0..9}.host{0..N}.metric{0..99}`` (entries written straight into the index: the
data tables stay empty, which ``nodes`` never reads), then times ``--queries`` calls of

* ``nodes("")``            -> the 10 data centres
* ``nodes("dc3")``         -> its hosts (1,000 with a million names)
* ``nodes("dc3.host42")``  -> its 100 metrics
* ``lookup([20 paths])``   -> 20 exact paths, one read

and reports p50/p99 in milliseconds, and the fill rate.

    python3 benchmarks/name_index_bench.py                       # sqlite, postgresql, mysql, redis
    python3 benchmarks/name_index_bench.py --backends sqlite redis --names 100000

URLs: BENCH_POSTGRES_URL, BENCH_MYSQL_URL, BENCH_REDIS_URL (defaults: this machine's).
Each run uses its own table / key prefix and removes it afterwards.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from kairos import Timeseries  # noqa: E402
from kairos.names import entries_of  # noqa: E402

URLS = {
    "postgresql": os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    "redis": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
}
METRICS = 100
DCS = 10


def names(count: int) -> List[str]:
    """``count`` names, 10 data centres x hosts x 100 metrics."""
    hosts = max(1, count // (DCS * METRICS))
    return ["dc%d.host%d.metric%d" % (dc, host, metric)
            for dc in range(DCS) for host in range(hosts) for metric in range(METRICS)][:count]


def build(backend: str, token: str, tmp: str) -> Timeseries:
    options: Dict[str, Any] = {"type": "gauge", "intervals": {"minute": {"step": 60}}}
    if backend == "sqlite":
        return Timeseries("sqlite:///%s" % os.path.join(tmp, "names.db"), table_name=token,
                          **options)
    if backend == "redis":
        return Timeseries(URLS["redis"], prefix=token, **options)
    return Timeseries(URLS[backend], table_name=token, **options)


def fill(ts: Timeseries, all_names: List[str]) -> float:
    """Write the index entries of every name; returns seconds taken."""
    started = time.perf_counter()
    entries = entries_of(all_names)
    for start in range(0, len(entries), 50000):
        ts._index_add(entries[start:start + 50000])
    ts._index_set_built()
    if ts.engine == "sql" and ts.db.dialect.name == "postgresql":
        with ts.db.begin() as conn:
            conn.exec_driver_sql("ANALYZE %s" % ts.names.name)
    return time.perf_counter() - started


def timed(call: Callable[[], Any], queries: int) -> Dict[str, float]:
    call()  # warm: connection, statement caches
    samples = []
    for _ in range(queries):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50": statistics.median(samples), "p99": samples[min(len(samples) - 1,
                                                                  int(len(samples) * 0.99))]}


def cleanup(ts: Timeseries) -> None:
    if ts.engine == "sql":
        ts.names.drop(ts.db, checkfirst=True)
        ts.table.drop(ts.db, checkfirst=True)
    else:
        ts.client.delete(ts._names_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql", "mysql", "redis"])
    parser.add_argument("--names", type=int, default=1000000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    all_names = names(args.names)
    probe = ["dc%d.host%d" % (i % DCS, i) for i in range(10)] + \
            ["dc3.host%d.metric%d" % (i, i) for i in range(10)]
    print("%d names; nodes() and lookup() latency in ms (p50 / p99 of %d calls)"
          % (len(all_names), args.queries))
    print("| engine | fill (entries/s) | nodes(\"\") | nodes(\"dc3\") | nodes(\"dc3.host42\") "
          "| lookup(20) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            ts = build(backend, "nb_" + uuid.uuid4().hex[:8], tmp)
            try:
                seconds = fill(ts, all_names)
                rate = len(entries_of(all_names[:1000])) * len(all_names) / 1000 / seconds
                assert len(ts.nodes("dc3.host42")) == min(METRICS, len(all_names))
                cells = [timed(lambda ts=ts: ts.nodes(""), args.queries),
                         timed(lambda ts=ts: ts.nodes("dc3"), args.queries),
                         timed(lambda ts=ts: ts.nodes("dc3.host42"), args.queries),
                         timed(lambda ts=ts: ts.lookup(probe), args.queries)]
                print("| %s | %.0f | %s |" % (backend, rate, " | ".join(
                    "%.2f / %.2f" % (c["p50"], c["p99"]) for c in cells)), flush=True)
            finally:
                cleanup(ts)


if __name__ == "__main__":
    main()
