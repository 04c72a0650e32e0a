#!/usr/bin/env python3
"""CPU microseconds per point of each stage of karbon's hot path, in one process.

    python3 benchmarks/stage_profile.py --backend sqlite --backend redis [-M 20000 -P 30] [-r 3]

``--backend redis`` is Redis with the engine's default (no ``layout`` option: window hashes
for the new prefixes of the run), ``redis-key`` Redis with ``layout='key'`` (a key per
bucket); ``sqlite-name`` and ``postgresql-name`` the SQL engine with ``layout='name'``
(``sqlite`` and ``postgresql``: its default, ``layout='id'`` for new tables).

The steady state of karbon: the benchmark's config (a count and a gauge schema, 10 s and
1 min intervals), its series written once beforehand (``Workload.before``), then the
measured workload parsed, planned and stored block by block, as ``profile_ingest.py``
does. Each stage is timed in process CPU seconds (``time.process_time``), not wall
time, so helpers sharing the machine change the figures little:

* parse: ``carbon.parse_block``;
* plan: ``processing.plan`` (routing, write_func, the batches);
* buckets: kairos' ``bulk_insert`` before the engine (bucket keys, aggregation, the
  name-index check);
* rows: the engine's rows or commands from the aggregated batch (SQL ``_rows``; on Redis
  it is inside ``driver+db``);
* driver+db: the rest of the engine's write (``_prepare_write`` and the call it
  returns): the driver, and on SQLite libsqlite3
  (in this process). Redis and PostgreSQL servers run elsewhere: the Redis server's own
  CPU is read from ``INFO cpu`` and shown apart.

Medians of ``-r`` runs. Why: PERF_NOTES ranks speed-ups by stage; this shows which stage a
change moved, where the end-to-end figure alone cannot.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gevent import monkey  # noqa: E402

monkey.patch_all()

from bench_support import Workload, drop_sql_tables  # noqa: E402
from ingest_bench import delete_markers, write_karbon_config  # noqa: E402
from torus.carbon import ParseStats, parse_block  # noqa: E402
from torus.config import Configuration  # noqa: E402
from torus.daemon import tune_gc  # noqa: E402
from torus.processing import plan, store  # noqa: E402

BLOCK = 2 * 1024 * 1024
STAGES = ("parse", "plan", "buckets", "rows", "driver+db")
cpu = time.process_time


def blocks_of(data: bytes):
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK) + 1 or len(data)
        yield data[start:end]
        start = end


def configure(backend: str, args, folder: str) -> Configuration:
    sqlite_url = "sqlite:///%s/p.db" % folder
    url = {"sqlite": sqlite_url, "redis": args.redis_url,
           "redis-key": args.redis_url, "postgresql": args.postgres_url,
           "sqlite-name": sqlite_url, "postgresql-name": args.postgres_url}[backend]
    layout = {"redis-key": "key", "sqlite-name": "name", "postgresql-name": "name"}.get(backend)  # None: default
    path = write_karbon_config(os.path.join(folder, "conf.py"), url, "stage%d" % os.getpid(), layout)
    return Configuration([path])


class Meter:
    """Process CPU spent in the engine's write of each timeseries (``_prepare_write`` and
    the call it returns: every write goes through both) and in its ``_rows``."""

    def __init__(self, config: Configuration):
        self.write = self.rows = 0.0
        self.has_rows = False
        for schema in config.schemas.values():
            ts = schema.timeseries
            prepare = self._timed(ts._prepare_write, "write")
            ts._prepare_write = lambda *args, _prepare=prepare, **kwargs: self._timed(
                _prepare(*args, **kwargs), "write")
            if hasattr(ts, "_rows"):
                ts._rows = self._timed(ts._rows, "rows")
                self.has_rows = True

    def _timed(self, method, slot):
        def timed(*args, **kwargs):
            began = cpu()
            try:
                return method(*args, **kwargs)
            finally:
                setattr(self, slot, getattr(self, slot) + cpu() - began)
        return timed


def redis_cpu(url: str) -> float:
    import redis
    info = redis.Redis.from_url(url).info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def run(backend: str, args) -> dict:
    folder = "/tmp/stage_profile"
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    config = configure(backend, args, folder)
    wl = Workload(args.metrics, args.points)
    try:
        for block in blocks_of(wl.before().payload(0, 1)):  # the series exist: steady state
            for batch in plan(config, parse_block(block, time.time(), ParseStats()))[0].values():
                store(batch)
        meter = Meter(config)
        blocks = list(blocks_of(wl.payload(0, 1)))
        tune_gc()  # as karbon does after start-up
        spent = dict.fromkeys(("parse", "plan", "store"), 0.0)
        server = redis_cpu(args.redis_url) if backend.startswith("redis") else None
        began, wall = cpu(), time.perf_counter()
        for block in blocks:
            t0 = cpu()
            points = parse_block(block, time.time(), ParseStats())
            t1 = cpu()
            batches, _ = plan(config, points)
            t2 = cpu()
            for batch in batches.values():
                store(batch)
            t3 = cpu()
            spent["parse"] += t1 - t0
            spent["plan"] += t2 - t1
            spent["store"] += t3 - t2
        total, wall = cpu() - began, time.perf_counter() - wall
        per = 1e6 / wl.total
        out = {"parse": spent["parse"] * per, "plan": spent["plan"] * per,
               "buckets": (spent["store"] - meter.write) * per,
               "driver+db": (meter.write - meter.rows) * per,
               "total": total * per, "points/s": wl.total / wall}
        if meter.has_rows:
            out["rows"] = meter.rows * per
        if server is not None:
            out["redis server"] = (redis_cpu(args.redis_url) - server) * per
        return out
    finally:
        for schema in config.schemas.values():
            schema.timeseries.delete_all()
            if not backend.startswith("redis"):
                drop_sql_tables(schema.timeseries)
        if backend.startswith("redis"):
            delete_markers(config.schemas)  # delete_all leaves them (and its batch markers)
        for schema in config.schemas.values():
            schema.timeseries.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "sqlite-name", "redis", "redis-key",
                                                                  "postgresql", "postgresql-name"))
    parser.add_argument("-M", "--metrics", type=int, default=20000)
    parser.add_argument("-P", "--points", type=int, default=30)
    parser.add_argument("-r", "--runs", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true",
                        help="print each run as a JSON line instead of the table")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "redis"]
    results = {backend: [] for backend in backends}
    for _ in range(args.runs):  # backends alternate, so a busy moment hits each alike
        for backend in backends:
            results[backend].append(run(backend, args))
            if args.json:
                print(json.dumps(dict(results[backend][-1], backend=backend,
                                      load=os.getloadavg()[0])), flush=True)
    if args.json:
        return
    print("load average %.2f %.2f %.2f; %d points, median of %d runs, CPU us/point"
          % (os.getloadavg() + (args.metrics * args.points, args.runs)))
    columns = list(STAGES) + ["total", "points/s"]
    if any(backend.startswith("redis") for backend in backends):
        columns.append("redis server")
    print("| backend | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for backend, runs in results.items():
        cells = []
        for column in columns:
            values = [r[column] for r in runs if column in r]
            if not values:
                cells.append("")
            elif column == "points/s":
                cells.append("%.0fk" % (statistics.median(values) / 1000))
            else:
                cells.append("%.2f" % statistics.median(values))
        print("| %s | %s |" % (backend, " | ".join(cells)))


if __name__ == "__main__":
    main()
