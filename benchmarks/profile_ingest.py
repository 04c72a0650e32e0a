#!/usr/bin/env python3
"""Profile karbon's hot path in one process, without sockets: parse -> plan -> store.

    python3 benchmarks/profile_ingest.py --backend sqlite -M 20000 -P 30 [--profile]
    python3 benchmarks/profile_ingest.py --backend redis --steady    # window hashes (the default)
    python3 benchmarks/profile_ingest.py --backend redis --redis-layout key --steady

Prints the seconds spent in each stage (and with --profile the top functions), so
the parser, ``processing.plan`` and the engine's ``bulk_insert`` can be tuned apart,
and the CPU time per point of this process and, on Redis, of the Redis server (INFO
cpu before and after: the server's share, which wall-clock figures hide on a busy
machine). ``--steady`` stores the same names once first (not measured), as karbon
finds them in steady state.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gevent import monkey  # noqa: E402

monkey.patch_all()

from bench_support import Workload  # noqa: E402
from ingest_bench import delete_markers, write_karbon_config  # noqa: E402
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
    parser.add_argument("--redis-layout", default="default", choices=("default", "key", "hash"),
                        help="the Redis engine's layout option (default: none given, the "
                             "engine's choice: window hashes for the run's new prefixes)")
    parser.add_argument("--steady", action="store_true",
                        help="store the same names just before (not measured)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    folder = "/tmp/ingest_profile"
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    url = {"sqlite": "sqlite:///%s/p.db" % folder, "redis": args.redis_url,
           "postgresql": args.postgres_url}[args.backend]
    path = write_karbon_config(os.path.join(folder, "conf.py"), url, "prof%d" % os.getpid(),
                               None if args.redis_layout == "default" else args.redis_layout)
    config = Configuration([path])
    wl = Workload(args.metrics, args.points)
    if args.steady:
        for block in _blocks(wl.before().payload(0, 1)):
            for batch in plan(config, parse_block(block, time.time(), ParseStats()))[0].values():
                store(batch)
    blocks = _blocks(wl.payload(0, 1))
    server = _RedisCpu(url) if args.backend == "redis" else None
    server_before = server.seconds() if server else 0.0
    cpu_before = _cpu_seconds()
    timings = {"parse": 0.0, "plan": 0.0, "store": 0.0}
    tune_gc()  # as karbon does after start-up
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    began = time.perf_counter()
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
    cpu = _cpu_seconds() - cpu_before
    server_cpu = server.seconds() - server_before if server else None
    if profiler:
        profiler.disable()
    label = args.backend + ("-" + args.redis_layout if args.backend == "redis" else "")
    print("%d points, %s: %.2f s = %.0f points/s (%s)" % (
        wl.total, label, total, wl.total / total,
        ", ".join("%s %.2f s" % kv for kv in timings.items())))
    print("CPU us/point: karbon %.2f%s; load average %.2f" % (
        cpu * 1e6 / wl.total,
        "" if server_cpu is None else ", Redis server %.2f" % (server_cpu * 1e6 / wl.total),
        os.getloadavg()[0]))
    for schema in config.schemas.values():
        schema.timeseries.delete_all()
        if args.backend != "redis":
            schema.timeseries.table.drop(schema.timeseries.db, checkfirst=True)
    if args.backend == "redis":
        delete_markers(config.schemas)  # delete_all leaves them (and its batch markers)
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def _blocks(data):
    """``data`` cut at line ends into blocks of about ``BLOCK`` bytes, as karbon reads them."""
    blocks = []
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK) + 1 or len(data)
        blocks.append(data[start:end])
        start = end
    return blocks


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _RedisCpu:
    """The Redis server's CPU seconds (INFO cpu: its main thread and the others)."""

    def __init__(self, url):
        import redis
        self.client = redis.Redis.from_url(url)

    def seconds(self):
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


if __name__ == "__main__":
    main()
