#!/usr/bin/env python3
"""Carbon ingest benchmark: karbon (SQLite, Redis, PostgreSQL) against carbon-cache, InfluxDB, VictoriaMetrics.

Per case: start the server(s), let a separate sender process push a statsd-shaped
workload (M metrics x P points, timestamps 10 s apart) over C connections, and time

* drain: until the server has read every byte (it closed every connection after
  our EOF), reported as lines/s;
* ready: until every point is readable in storage, reported as points/s
  end-to-end; then the values of a sample of metrics are read back through
  kairos (or whisper) and compared exactly;
* peak RSS (VmHWM summed over the server processes) and server CPU seconds.

Readiness is counted at the storage level for karbon and carbon-cache (rows of
the 10 s interval in SQL; on Redis, fields of the 10 s window hashes, or with
layout='key' keys of a database that must start empty; points in the whisper
files), because asking for 20 000 metrics one by one would cost more than the ingest; InfluxDB and VictoriaMetrics are asked through their query
APIs (one counting query per poll). The peers live in peers.py.

    python3 benchmarks/ingest_bench.py                        # every case, 600k points
    python3 benchmarks/ingest_bench.py --cases karbon-sqlite,carbon -M 2000
    python3 benchmarks/ingest_bench.py --cases karbon-redis --processes 2   # karbon --workers 2
    python3 benchmarks/ingest_bench.py --cases karbon-redis,karbon-redis-key --regime steady

carbon-cache runs when ``carbon-cache`` and the whisper module are installed
(``apt-get install graphite-carbon python3-whisper``), with the update and create
rate limits lifted; ``influxdb`` and ``victoria`` need Debian's influxdb and
victoria-metrics (``benchmarks/install_peers.sh`` installs them all); a case whose
server is missing is skipped with a note.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench_support import (WORK, ProcWatch, Workload, drop_sql_tables, free_port, postgres_pids,  # noqa: E402
                           run_sender, wait_port)
from peers import INGEST_PEERS  # noqa: E402

from kairos.backends.redis_layout_choice import DEFAULT as REDIS_DEFAULT_LAYOUT, MARKER as LAYOUT_MARKER  # noqa: E402,E501

CASES = ("karbon-sqlite", "karbon-sqlite-name", "karbon-redis", "karbon-redis-key",
         "karbon-postgresql", "karbon-postgresql-name", "carbon", "influxdb", "victoria")
#: cases run only when named: karbon on a 3-primary Redis Cluster started for the run, and
#: karbon --workers 2 on the single Redis (the scale-out comparison of RESULTS.md)
SCALE_OUT_CASES = ("karbon-redis-cluster", "karbon-redis-x2", "karbon-redis-key-x2",
                   "karbon-sqlite-x2", "karbon-postgresql-x2")


# -- karbon ------------------------------------------------------------------------
KARBON_CONFIG = """
# written by benchmarks/ingest_bench.py
SCHEMAS = {
    'counts': {'type': 'count', 'host': %(url)r, 'match': r'^stats_counts\\.', %(counts)s
               'intervals': %(intervals)s},
    'gauges': {'type': 'gauge', 'host': %(url)r, 'match': r'^stats\\.', %(gauges)s
               'intervals': %(intervals)s},
}
DEBUG = 0
"""
INTERVALS = {"10s": {"step": 10, "steps": 2160}, "1m": {"step": 60, "steps": 10080}}


def write_karbon_config(path, url, token, layout=None):
    """The benchmark's karbon config at ``path``: its two schemas on ``url``, kept apart from
    other runs by ``token`` (a key prefix on Redis, table names on SQL); ``layout``: the
    engine's option ('key' or 'hash' on Redis, 'name' or 'id' on SQL; None: none written, the
    engine's default: window hashes for a new Redis prefix, 'id' for new SQL tables). Returns
    ``path``."""
    extra = "" if layout is None else "'layout': %r," % layout
    if url.startswith("redis"):
        opts = {"counts": "'prefix': '%sc', %s" % (token, extra),
                "gauges": "'prefix': '%sg', %s" % (token, extra)}
    else:
        opts = {"counts": "'table_name': '%s_c', %s" % (token, extra),
                "gauges": "'table_name': '%s_g', %s" % (token, extra)}
    with open(path, "w") as handle:
        handle.write(KARBON_CONFIG % dict(url=url, intervals=INTERVALS, **opts))
    return path


def delete_markers(schemas):
    """Delete what ``delete_all`` leaves of the Redis ``schemas`` of a single Redis, once no
    process writes them: the layout markers (``{prefix}!layout``) and the batch markers
    (``{prefix}!batch:<id>``, they would expire), so the benchmark's database is left empty."""
    for schema in schemas.values():
        ts = schema.timeseries
        if getattr(ts, "engine", None) == "redis":
            keys = [ts.keys.prefix + LAYOUT_MARKER]
            keys += ts.client.scan_iter(match=ts.keys.prefix + "!batch:*", count=100000)
            ts.client.delete(*keys)


class KarbonCase:
    """karbon (with --workers N for --processes N) storing into one backend."""

    def __init__(self, args, backend, workload, processes=None, layout=None):
        self.args, self.backend, self.wl = args, backend, workload
        self.layout = layout  # the engine's layout option written in the config (None: none)
        # the layout the Redis data is stored in: the option, else the engine's for the bench's
        # new prefixes (window hashes); on SQL it does not change how points are counted
        self.stored = (layout or REDIS_DEFAULT_LAYOUT) if backend.startswith("redis") else None
        self.processes = processes or args.processes
        self.dir = os.path.join(WORK, "karbon-%s%s" % (backend, self.layout_suffix))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        token = self.token = "bench%d" % os.getpid()
        if backend == "sqlite":
            self.url = "sqlite:///%s" % os.path.join(self.dir, "karbon.db")
        elif backend == "postgresql":
            self.url = args.postgres_url
        elif backend == "redis-cluster":
            sys.path.insert(0, ROOT)
            from tests import redis_cluster
            self.cluster = redis_cluster.start(os.path.join(self.dir, "cluster"))
            self.url = self.cluster.url
        else:
            self.url = args.redis_url
        self.config = write_karbon_config(os.path.join(self.dir, "bench_conf.py"), self.url, token,
                                          layout)
        self.procs = []
        self.keys_before = 0
        self.fields_before = 0
        self.port = free_port()
        from torus.config import Configuration
        self.schemas = Configuration([self.config]).schemas
        if backend.startswith("redis"):
            self.redis = _KeyCounter(self.url)
            # what earlier runs left: their batches' markers (they expire) and their prefixes'
            # layout markers (``delete_all`` leaves them; ``stop`` deletes this run's)
            markers = self.batch_markers() + self.layout_markers("bench*")
            if markers:
                self.redis.delete(*markers)
            if self.redis.dbsize():
                raise SystemExit("the Redis database of %s is not empty: pick an empty one with "
                                 "--redis-url (the bench counts its keys)" % self.url)

    @property
    def layout_suffix(self):
        return "" if self.layout is None else "-" + self.layout

    @property
    def label(self):
        n = self.processes
        return "karbon %s%s%s" % (self.backend, self.layout_suffix, " x%d" % n if n > 1 else "")

    def start(self):
        cmd = [sys.executable, os.path.join(ROOT, "bin", "karbon"), "--tcp", "127.0.0.1:%d" % self.port,
               "--config", self.config]
        if self.processes > 1:
            cmd += ["--workers", str(self.processes)]  # a parent and N workers on one port
        log = open(os.path.join(self.dir, "karbon.log"), "ab")
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL))
        wait_port(self.port, self.procs)
        return [p.pid for p in self.procs]

    def begin(self, workload):
        """Count the points of ``workload`` from now on (the steady regime's main run)."""
        self.wl = workload
        self.keys_before = (self.redis.dbsize() - len(self.batch_markers())
                            if self.backend.startswith("redis") else 0)
        if self.stored == "hash":
            self.fields_before = self._hash_fields()

    def database_pids(self):
        """The database server's processes (their CPU is not karbon's), or []."""
        if self.backend.startswith("redis"):
            return self.redis.pids()
        if self.backend == "postgresql":
            return postgres_pids()
        return []

    def visible(self):
        """Points stored: rows / keys of the 10 s interval (one per point) in the workload's window."""
        if self.stored == "hash":
            return self._hash_visible()
        if self.backend.startswith("redis"):
            # every point makes one 10s key; the 1m keys are known in advance; kairos also keeps
            # a short-lived marker per batch, and a cold run makes a name index and a layout
            # marker per schema: counted (filtered by Redis) only once the key count says the
            # run may be complete, so the scan does not slow the run down
            keys = self.redis.dbsize() - self.keys_before - self.wl.minute_keys()
            if keys < self.wl.total:
                return keys
            return keys - len(self.batch_markers()) - len(self.new_indexes())
        import sqlalchemy as sa
        total = 0
        for schema in self.schemas.values():
            ts = schema.timeseries
            query = sa.select(sa.func.count()).select_from(ts.table).where(
                ts.table.c.interval == "10s", ts.table.c.i_time >= self.wl.start // 10,
                ts.table.c.i_time <= self.wl.end // 10)
            try:
                with ts.db.connect() as conn:
                    total += conn.execute(query).scalar()
            except sa.exc.OperationalError:
                pass  # not created yet
            except sa.exc.ProgrammingError:
                pass
        return total

    def _ten_second_hashes(self):
        """The 10s window hashes of the workload, as the engine names them."""
        from kairos.backends.redis_keys import WINDOW
        windows = sorted({ts // 10 - ts // 10 % WINDOW for ts in (self.wl.start, self.wl.end)}
                         | set(range(self.wl.start // 10 - self.wl.start // 10 % WINDOW,
                                     self.wl.end // 10 + 1, WINDOW)))
        for i in range(self.wl.metrics):
            name = self.wl.name(i)
            keys = self._timeseries(name).keys
            for window in windows:
                yield keys.hash_key(name, "10s", window)

    def _hash_fields(self):
        """Fields in the workload's 10s hashes: one per point stored (HLEN, pipelined; on a
        cluster the pipeline sends each command to its key's node)."""
        pipe = self.redis.client.pipeline(transaction=False)
        for key in self._ten_second_hashes():
            pipe.hlen(key)
        return sum(pipe.execute())

    def _timeseries(self, name):
        return self.schemas["counts" if name.startswith("stats_counts.") else "gauges"].timeseries

    def has_last_point(self, i):
        """Whether metric ``i``'s point at the workload's end reads back, by a lookup of its
        own: HEXISTS in its window hash, EXISTS of its key, its last bucket in a table
        (``properties``: the table is made, as karbon would, if it is not yet)."""
        name = self.wl.name(i)
        ts = self._timeseries(name)
        bucket = self.wl.end // 10
        if self.stored == "hash":
            from kairos.backends.redis_keys import WINDOW
            # a RedisCluster on a cluster: HEXISTS goes to the key's node
            return bool(self.redis.client.hexists(
                ts.keys.hash_key(name, "10s", bucket - bucket % WINDOW), str(bucket)))
        if self.backend.startswith("redis"):
            return bool(self.redis.client.exists(ts.keys.key(name, "10s", bucket)))
        return ts.properties(name).get("10s", {}).get("last", -1) >= self.wl.end

    def _hash_visible(self):
        """Points stored in window hashes."""
        return self._hash_fields() - self.fields_before

    def new_indexes(self):
        """The name indexes (``...!names``) and layout markers (``...!layout``), one each per
        schema, a cold run creates: not points."""
        if self.keys_before:
            return []
        return list(self.redis.scan_iter(match="*!names", count=100000)) + self.layout_markers()

    def layout_markers(self, prefix_pattern="*"):
        """The layout markers of kairos (``{prefix}!layout``) whose prefix matches ``prefix_pattern``."""
        return list(self.redis.scan_iter(match=prefix_pattern + LAYOUT_MARKER, count=100000))

    def batch_markers(self):
        """The batch markers of kairos in the database (``...!batch:<id>``)."""
        return list(self.redis.scan_iter(match="*!batch:*", count=100000))

    def check(self, indices):
        bad = []
        for i in indices:
            name = self.wl.name(i)
            got = self._timeseries(name).series(name, "10s", start=self.wl.start, end=self.wl.end)
            bad += self.wl.compare(i, got)
        return bad

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        codes = [proc.wait(120) for proc in self.procs]
        for schema in self.schemas.values():
            try:
                schema.timeseries.delete_all()
                if not self.backend.startswith("redis"):
                    drop_sql_tables(schema.timeseries)
            except Exception as err:  # report, go on with the next case
                print("cleanup of %s failed: %s" % (schema.name, err), file=sys.stderr)
        if self.backend.startswith("redis"):
            try:  # delete_all leaves the prefixes' layout markers and karbon, stopped, its batch
                # markers (they would expire): the database is left empty
                markers = (self.layout_markers(self.token + "*")
                           + list(self.redis.scan_iter(match=self.token + "*!batch:*", count=100000)))
                self.redis.delete(*markers)
            except Exception as err:
                print("cleanup of the layout markers failed: %s" % err, file=sys.stderr)
        if self.backend == "redis-cluster":
            self.cluster.stop()
        return codes


class _KeyCounter:
    """DBSIZE, markers and server pids over a single Redis or every primary of a cluster, and
    ``client`` for commands on one key (a RedisCluster on a cluster)."""

    def __init__(self, url):
        import redis
        if url.startswith("redis+cluster://"):
            from redis.cluster import RedisCluster
            first = url.split("://", 1)[1].split(",")[0]
            cluster = RedisCluster(host=first.split(":")[0], port=int(first.split(":")[1]))
            self.nodes = [redis.Redis(host=node.host, port=node.port) for node in cluster.get_primaries()]
            self.client = cluster  # per-key commands (HLEN, HEXISTS) go to the key's node
        else:
            self.nodes = [redis.Redis.from_url(url)]
            self.client = self.nodes[0]

    def dbsize(self):
        return sum(node.dbsize() for node in self.nodes)

    def scan_iter(self, match, count):
        for node in self.nodes:
            yield from node.scan_iter(match=match, count=count)

    def delete(self, *keys):
        for key in keys:
            for node in self.nodes:
                try:
                    node.delete(key)
                except Exception:  # another node's slot
                    pass

    def pids(self):
        return [int(node.info("server")["process_id"]) for node in self.nodes]


# -- one run ------------------------------------------------------------------------------------
def _visible(case, workload, args):
    """The points of ``workload`` a server shows. The last point of every connection is
    looked up first (``has_last_point``), and the server's points are counted only once
    all are there: a count scans a whole table or every series, and scanning while the
    server writes took up to a core of the machine (a PostgreSQL count, every 0.25 s).
    carbon-cache's count reads only the files changed since the last poll: its
    ``has_last_point`` is always true, and it is counted at every poll, as before."""
    if not all(case.has_last_point(i) for i in workload.last_sent(args.connections)):
        return 0
    return case.visible()


def _wait_visible(case, workload, args, deadline):
    """Poll until every point of ``workload`` is visible; the monotonic time then, or None."""
    while time.monotonic() < deadline:
        if _visible(case, workload, args) >= workload.total:
            return time.monotonic()
        time.sleep(args.poll)
    return None


def measure(case, args, wl):
    """One run: in the steady regime the same names are stored first (a warm-up, not timed)."""
    pids = case.start()
    try:
        if args.regime == "steady":
            warm = wl.before()
            case.begin(warm)
            warm_sender = run_sender(case.port, warm, args.connections)
            warm_sender.go()
            if _wait_visible(case, warm, args, time.monotonic() + args.timeout) is None:
                raise RuntimeError("the warm-up never became visible")
            warm_sender.result()
            case.begin(wl)
        watch = ProcWatch(pids)
        database = ProcWatch(case.database_pids())
        sender = run_sender(case.port, wl, args.connections)
        go = sender.go()
        ready_at = None
        visible = 0
        deadline = go + args.timeout
        while time.monotonic() < deadline:
            visible = _visible(case, wl, args)
            watch.sample()
            database.sample()
            if visible >= wl.total:
                ready_at = time.monotonic()
                break
            time.sleep(args.poll)
        if ready_at is None:
            visible = case.visible()  # how far it got, counted
        drained = sender.result()
        watch.sample()
        database.sample()
        result = {
            "case": case.label, "regime": args.regime, "points": wl.total, "visible": visible,
            "drain_s": drained - go if drained else None,
            "ready_s": ready_at - go if ready_at else None,
            "peak_rss_mib": watch.peak_rss_mib(), "server_cpu_s": watch.cpu_s(),
            "database_cpu_s": database.cpu_s() if database.pids else None,
        }
        step = max(1, wl.metrics // args.check)
        result["check"] = case.check(range(0, wl.metrics, step)[:args.check]) if ready_at else ["not ready"]
        return result
    finally:
        result_codes = case.stop()
        if any(code not in (0, -15) for code in result_codes):
            print("%s exited with %s" % (case.label, result_codes), file=sys.stderr)


def make_case(name, args, wl):
    if name in INGEST_PEERS:
        peer = INGEST_PEERS[name]
        why = peer.missing()
        return (None, why) if why else (peer(args, wl), None)
    if name == "karbon-redis-x2":
        return KarbonCase(args, "redis", wl, processes=2), None
    if name == "karbon-redis-key-x2":
        return KarbonCase(args, "redis", wl, layout="key", processes=2), None
    if name in ("karbon-sqlite-x2", "karbon-postgresql-x2"):
        return KarbonCase(args, name.split("-")[1], wl, processes=2), None
    if name == "karbon-redis-key":
        return KarbonCase(args, "redis", wl, layout="key"), None
    if name in ("karbon-sqlite-name", "karbon-postgresql-name"):
        return KarbonCase(args, name.split("-")[1], wl, layout="name"), None
    backend = name.split("-", 1)[1]
    return KarbonCase(args, backend, wl), None


def rate(count, seconds):
    return round(count / seconds) if seconds else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES + SCALE_OUT_CASES))
    parser.add_argument("-M", "--metrics", type=int, default=20000)
    parser.add_argument("-P", "--points", type=int, default=30)
    parser.add_argument("-c", "--connections", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1, help="karbon --workers N")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is shown")
    parser.add_argument("--check", type=int, default=50, help="metrics whose values are compared")
    parser.add_argument("--poll", type=float, default=0.05,
                        help="seconds between two looks for the last points (the ready time is "
                             "known to within it: 0.25 s was up to 15%% of a Redis run)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", help="append one JSON line per case to this file")
    parser.add_argument("--regime", choices=("cold", "steady"), default="cold",
                        help="cold: every server starts empty; steady: the same names were stored "
                             "just before (a warm-up run, not timed)")
    args = parser.parse_args(argv)
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for name in args.cases.split(","):
        runs = []
        for _ in range(args.repeat):
            wl = Workload(args.metrics, args.points)
            case, why = make_case(name, args, wl)
            if case is None:
                print("# %s skipped: %s" % (name, why))
                break
            runs.append(measure(case, args, wl))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        if runs:
            runs.sort(key=lambda r: r["ready_s"] or float("inf"))
            rows.append(runs[len(runs) // 2])
    carbon = next((r for r in rows if r["case"] == "carbon-cache"), None)
    print("| case | points | drain lines/s | end-to-end points/s | ready s | peak RSS MiB "
          "| server CPU s | vs carbon-cache | values |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        e2e = rate(r["points"], r["ready_s"])
        ratio = "-"
        if carbon and carbon["ready_s"] and r["ready_s"]:
            ratio = "%.2fx" % (carbon["ready_s"] / r["ready_s"])
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["case"], r["points"], _fmt(rate(r["points"], r["drain_s"])), _fmt(e2e),
            "%.2f" % r["ready_s"] if r["ready_s"] else "not ready (%d visible)" % r["visible"],
            r["peak_rss_mib"], r["server_cpu_s"], ratio, "ok" if not r["check"] else r["check"][:2]))
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(dict(r, e2e_points_per_s=e2e)) + "\n")
    return 0


def _fmt(value):
    return "-" if value is None else "{:,}".format(value)


if __name__ == "__main__":
    sys.exit(main())
