#!/usr/bin/env python3
"""Profile karbon's hot path in one process, without sockets: parse -> plan -> store.

    python3 benchmarks/profile_ingest.py --backend sqlite -M 20000 -P 30 [--profile]

Prints the wall seconds spent in each stage and the process CPU seconds of the whole (and
with --profile the top functions), so
the parser, ``processing.plan`` and the engine's ``bulk_insert`` can be tuned apart.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gevent import monkey  # noqa: E402

monkey.patch_all()

from bench_support import Workload  # noqa: E402
from ingest_bench import INTERVALS, KARBON_CONFIG  # noqa: E402
from torus.carbon import ParseStats, parse_block  # noqa: E402
from torus.config import Configuration  # noqa: E402
from torus.daemon import tune_gc  # noqa: E402
from torus.processing import plan, store  # noqa: E402

BLOCK = 2 * 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "redis", "postgresql"))
    parser.add_argument("-M", "--metrics", type=int, default=20000)
    parser.add_argument("-P", "--points", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    folder = "/tmp/ingest_profile"
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    url = {"sqlite": "sqlite:///%s/p.db" % folder, "redis": args.redis_url,
           "postgresql": args.postgres_url}[args.backend]
    token = "prof%d" % os.getpid()
    if args.backend == "redis":
        opts = {"counts": "'prefix': '%sc'," % token, "gauges": "'prefix': '%sg'," % token}
    else:
        opts = {"counts": "'table_name': '%s_c'," % token, "gauges": "'table_name': '%s_g'," % token}
    path = os.path.join(folder, "conf.py")
    with open(path, "w") as handle:
        handle.write(KARBON_CONFIG % dict(url=url, intervals=INTERVALS, **opts))
    config = Configuration([path])
    wl = Workload(args.metrics, args.points)
    data = wl.payload(0, 1)
    blocks = []
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK) + 1 or len(data)
        blocks.append(data[start:end])
        start = end
    timings = {"parse": 0.0, "plan": 0.0, "store": 0.0}
    tune_gc()  # as karbon does after start-up
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    began, cpu_began = time.perf_counter(), time.process_time()
    for block in blocks:
        t0 = time.perf_counter()
        points = parse_block(block, time.time(), ParseStats())
        t1 = time.perf_counter()
        batches, _ = plan(config, points)
        t2 = time.perf_counter()
        for batch in batches.values():
            store(batch)
        t3 = time.perf_counter()
        timings["parse"] += t1 - t0
        timings["plan"] += t2 - t1
        timings["store"] += t3 - t2
    total = time.perf_counter() - began
    cpu = time.process_time() - cpu_began  # this process only: not a database server's
    if profiler:
        profiler.disable()
    print("%d points, %s: %.2f s = %.0f points/s, CPU %.2f s = %.2f us/point (%s)" % (
        wl.total, args.backend, total, wl.total / total, cpu, cpu * 1e6 / wl.total,
        ", ".join("%s %.2f s" % kv for kv in timings.items())))
    for schema in config.schemas.values():
        schema.timeseries.delete_all()
        if args.backend != "redis":
            schema.timeseries.table.drop(schema.timeseries.db, checkfirst=True)
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
