#!/usr/bin/env python3
"""The whole comparison in one go: torus beside the software users would otherwise pick.

Runs ``ingest_bench.py`` (karbon on SQLite, Redis and PostgreSQL, carbon-cache +
whisper, InfluxDB 1.x's graphite input, VictoriaMetrics' graphite listener; one
case per process, in rounds so that no case runs twice in a row) and then
``query_bench.py`` (torus /series beside graphite-web /render) and ``render_bench.py``
(torus /render beside graphite-web /render), and writes
``benchmarks/RESULTS.md`` with the machine, the versions and the tables.
Raw figures go to ``benchmarks/out/``.

    bash benchmarks/run_all.sh                  # installs the peers first, then runs this
    python3 benchmarks/run_all.py --rounds 1    # peers already installed
    python3 benchmarks/run_all.py --quick       # a 1-minute smoke run (benchmarks/out/RESULTS-quick.md)

Every server listens on 127.0.0.1 only, keeps its data under /tmp and is started
and stopped by the harness. ``--budget`` keeps the whole run (counted from
``$BENCH_STARTED`` when run_all.sh set it) within its seconds (570 by default) by
dropping the last ingest rounds when they would not fit; the first round always runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402
from render_bench import TEN_FUNCTIONS  # noqa: E402
from peers import package_versions  # noqa: E402

OUT = os.path.join(HERE, "out")
CASES = ("karbon-sqlite", "karbon-sqlite-name", "karbon-redis", "karbon-redis-key",
         "karbon-postgresql", "karbon-postgresql-name", "carbon", "influxdb", "victoria",
         "karbon-redis-cluster", "karbon-redis-x2", "karbon-redis-key-x2", "karbon-sqlite-x2",
         "karbon-postgresql-x2")
STORAGE = {
    "karbon-sqlite": "SQLite file (kairos SQL engine)",
    "karbon-redis": "Redis (kairos Redis engine; window hashes, its default for a new prefix)",
    "karbon-redis-key": "Redis, layout='key' (kairos Redis engine)",
    "karbon-redis-cluster": "Redis Cluster, 3 primaries + 3 replicas on loopback (kairos Redis engine; "
                            "window hashes, its default for a new prefix)",
    "karbon-redis-x2": "Redis (kairos Redis engine; window hashes, its default for a new prefix), "
                       "karbon --workers 2",
    "karbon-redis-key-x2": "Redis, layout='key' (kairos Redis engine), karbon --workers 2",
    "karbon-sqlite-x2": "SQLite file (kairos SQL engine), karbon --workers 2",
    "karbon-postgresql-x2": "PostgreSQL (kairos SQL engine), karbon --workers 2",
    "karbon-postgresql": "PostgreSQL (kairos SQL engine)",
    "karbon-sqlite-name": "SQLite file, layout='name' (kairos SQL engine)",
    "karbon-postgresql-name": "PostgreSQL, layout='name' (kairos SQL engine)",
    "carbon": "whisper files",
    "influxdb": "TSM engine",
    "victoria": "VictoriaMetrics storage",
}
LABELS = {
    "karbon-sqlite": "karbon on SQLite",
    "karbon-redis": "karbon on Redis",
    "karbon-redis-key": "karbon on Redis, a key per bucket",
    "karbon-redis-cluster": "karbon on a Redis Cluster",
    "karbon-redis-x2": "2 karbon workers on Redis",
    "karbon-redis-key-x2": "2 karbon workers on Redis, a key per bucket",
    "karbon-sqlite-x2": "2 karbon workers on SQLite",
    "karbon-postgresql-x2": "2 karbon workers on PostgreSQL",
    "karbon-postgresql": "karbon on PostgreSQL",
    "karbon-sqlite-name": "karbon on SQLite, rows keyed by name",
    "karbon-postgresql-name": "karbon on PostgreSQL, rows keyed by name",
    "carbon": "carbon-cache + whisper",
    "influxdb": "InfluxDB 1.x graphite input",
    "victoria": "VictoriaMetrics graphite listener",
}
READ_PATH = {
    "karbon-sqlite": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "karbon-redis": "fields of the 10 s interval's window hashes (what torus /series reads)",
    "karbon-redis-key": "keys of the 10 s interval in the Redis database (what torus /series reads)",
    "karbon-redis-cluster": "fields of the 10 s interval's window hashes on the cluster (what torus /series reads)",
    "karbon-redis-x2": "fields of the 10 s interval's window hashes (what torus /series reads)",
    "karbon-redis-key-x2": "keys of the 10 s interval in the Redis database (what torus /series reads)",
    "karbon-sqlite-x2": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "karbon-postgresql-x2": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "karbon-postgresql": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "karbon-sqlite-name": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "karbon-postgresql-name": "rows of the 10 s interval in the kairos tables (what torus /series reads)",
    "carbon": "points in the whisper files, read with `whisper.fetch` (what graphite-web reads)",
    "influxdb": "`SELECT count(value) FROM /^stats/ WHERE time ...` on its HTTP /query API",
    "victoria": "`sum(count_over_time({__name__=~\"stats.*\"}[window]))` on its /api/v1/query API",
}


def _elapsed(started: float) -> float:
    return time.time() - started


def _run(cmd: List[str], timeout: float) -> Tuple[int, str]:
    """Run ``cmd`` in its own session (stderr shown), killing its process group on timeout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        return -1, (out or "") + "\n# timed out after %.0f s" % timeout


def preflight(args) -> Dict[str, str]:
    """Cases that cannot run here, with the reason."""
    skip = {}
    try:
        import redis
        client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=3)
        if client.dbsize():
            skip["karbon-redis"] = "the Redis database %s is not empty (the bench counts its keys)" % args.redis_url
    except Exception as err:
        skip["karbon-redis"] = "Redis at %s unreachable: %s" % (args.redis_url, err)
    if "karbon-redis" in skip:
        for case in ("karbon-redis-x2", "karbon-redis-key", "karbon-redis-key-x2"):
            skip[case] = skip["karbon-redis"]
    try:
        import psycopg
        with psycopg.connect(args.postgres_url, connect_timeout=5):
            pass
    except Exception as err:
        skip["karbon-postgresql"] = "PostgreSQL at %s unreachable: %s" % (args.postgres_url, err)
        skip["karbon-postgresql-name"] = skip["karbon-postgresql-x2"] = skip["karbon-postgresql"]
    return skip


REGIMES = ("steady", "cold")


def run_ingest_case(name: str, args, round_no: int, regime: str) -> Tuple[dict, str]:
    """One run of one case in its own process: (figures or {}, note)."""
    path = os.path.join(OUT, "ingest-%s-%s-%d.jsonl" % (name, regime, round_no))
    if os.path.exists(path):
        os.remove(path)
    cmd = [sys.executable, os.path.join(HERE, "ingest_bench.py"), "--cases", name, "-M", str(args.metrics),
           "-P", str(args.points), "-c", str(args.connections), "--timeout", str(args.ready_timeout),
           "--redis-url", args.redis_url, "--postgres-url", args.postgres_url, "--json", path,
           "--regime", regime]
    code, out = _run(cmd, 2 * args.ready_timeout + 240)
    notes = [line.lstrip("# ") for line in out.splitlines() if line.startswith("#")]
    if os.path.exists(path):
        with open(path) as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
        if lines:
            return lines[-1], "; ".join(notes)
    return {}, "; ".join(notes) or "ingest_bench.py exited with %s" % code


def _run_http_bench(args, script: str, out_name: str, timeout: float) -> Tuple[List[dict], str]:
    """Run one of the HTTP load benchmarks (query_bench.py, render_bench.py): its JSON lines
    and the notes it printed (skipped cases, comments, a failing exit)."""
    path = os.path.join(OUT, out_name)
    if os.path.exists(path):
        os.remove(path)
    cmd = [sys.executable, os.path.join(HERE, script), "--duration", str(args.query_duration),
           "--connections", str(args.query_connections), "--graphite-workers", args.graphite_workers,
           "--torus-workers", args.torus_workers or "0", "--json", path]
    code, out = _run(cmd, timeout)
    print(out, end="")
    results = []
    if os.path.exists(path):
        with open(path) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    notes = [line for line in out.splitlines() if "skipped" in line or line.startswith("#")]
    if code:
        notes.append("%s exited with %s" % (script, code))
    return results, "; ".join(notes)


#: the backends of the stage table, and the ingest case whose skip (a server missing) skips each
STAGE_BACKENDS = (("sqlite", "karbon-sqlite"), ("sqlite-name", "karbon-sqlite-name"),
                  ("redis", "karbon-redis"), ("redis-key", "karbon-redis-key"),
                  ("postgresql", "karbon-postgresql"), ("postgresql-name", "karbon-postgresql-name"))


def run_stages(args, skip: Dict[str, str]) -> Tuple[str, str]:
    """``stage_profile.py``'s table of karbon's CPU per point by stage (one run per backend,
    the steady state), or why there is none."""
    backends = [b for b, case in STAGE_BACKENDS if case not in skip]
    if not backends:
        return "", "no backend reachable"
    cmd = [sys.executable, os.path.join(HERE, "stage_profile.py"), "-r", "1", "-M", str(args.metrics),
           "-P", str(args.points), "--redis-url", args.redis_url, "--postgres-url", args.postgres_url]
    for backend in backends:
        cmd += ["--backend", backend]
    code, out = _run(cmd, 150 * len(backends))
    lines = out.splitlines()
    table = [line for line in lines if line.startswith("|")]
    if code != 0 or not table:
        return "", "stage_profile.py failed (exit %s): %s" % (code, " / ".join(lines[-3:]))
    return "\n".join(table), lines[0] if lines else ""


def run_query(args) -> Tuple[List[dict], str]:
    return _run_http_bench(args, "query_bench.py", "query.jsonl", 12 * args.query_duration + 300)


def run_render(args) -> Tuple[List[dict], str]:
    return _run_http_bench(args, "render_bench.py", "render.jsonl", 20 * args.query_duration + 400)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of every ingest case in each regime; medians are shown")
    parser.add_argument("-M", "--metrics", type=int, default=20000)
    parser.add_argument("-P", "--points", type=int, default=30)
    parser.add_argument("-c", "--connections", type=int, default=4, help="sender connections")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES))
    parser.add_argument("--ready-timeout", type=float, default=180, help="seconds one ingest run may take")
    parser.add_argument("--query-duration", type=int, default=10, help="seconds of load per query scenario")
    parser.add_argument("--query-connections", type=int, default=8)
    parser.add_argument("--graphite-workers", default="1,3", help="gunicorn workers of graphite-web, a list")
    parser.add_argument("--torus-workers", default="1,2",
                        help="gunicorn -k gevent worker counts torus is also measured with (Scale-out); "
                        "0: none")
    parser.add_argument("--no-query", action="store_true")
    parser.add_argument("--no-render", action="store_true", help="skip the /render benchmark")
    parser.add_argument("--no-stages", action="store_true",
                        help="skip the table of karbon's CPU per point by stage (stage_profile.py)")
    parser.add_argument("--budget", type=float, default=570,
                        help="seconds the whole run may take (from $BENCH_STARTED): later rounds are dropped")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--quick", action="store_true", help="2,000 metrics, 1 round, 2 s of load")
    parser.add_argument("--out", help="markdown file (default benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.metrics, args.rounds, args.query_duration, args.graphite_workers = 2000, 1, 2, "1"
    args.out = args.out or (os.path.join(OUT, "RESULTS-quick.md") if args.quick
                            else os.path.join(HERE, "RESULTS.md"))
    started = float(os.environ.get("BENCH_STARTED") or time.time())
    began = time.time()
    os.makedirs(OUT, exist_ok=True)

    facts = report.machine_facts()
    versions = report.software_versions(package_versions(),
                                        report.server_versions(args.redis_url, args.postgres_url))
    skip = preflight(args)
    cases = [c for c in args.cases.split(",") if c]
    notes: Dict[str, List[str]] = {c: [] for c in cases}
    runs: Dict[Tuple[str, str], List[dict]] = {(c, r): [] for r in REGIMES for c in cases}
    torus_workers = len([n for n in args.torus_workers.split(",") if n.strip() not in ("", "0")])
    scenarios = 4 + 2 * len(args.graphite_workers.split(",")) + 2 * torus_workers
    query_estimate = 0 if args.no_query else scenarios * (args.query_duration + 2) + 30
    render_scenarios = 6 + 3 * len(args.graphite_workers.split(",")) + 3 * torus_workers
    query_estimate += 0 if args.no_render else render_scenarios * (args.query_duration + 2) + 60
    query_estimate += 0 if args.no_stages else 25 * len(STAGE_BACKENDS)
    rounds_done, round_times = 0, []
    for round_no in range(1, args.rounds + 1):
        if round_times and _elapsed(started) + max(round_times) + query_estimate > args.budget:
            print("# round %d dropped: it would not fit in the %.0f s budget" % (round_no, args.budget))
            break
        round_began = time.time()
        for name in cases:
            if name in skip:
                continue
            for regime in REGIMES:
                print("== round %d/%d: %s (%s)" % (round_no, args.rounds, name, regime), flush=True)
                figures, note = run_ingest_case(name, args, round_no, regime)
                if note and note not in notes[name]:
                    notes[name].append(note)
                if figures:
                    runs[name, regime].append(figures)
                    print("   ready in %s s, %s points visible" % (
                        "%.2f" % figures["ready_s"] if figures.get("ready_s") else "-",
                        figures.get("visible")))
        rounds_done += 1
        round_times.append(time.time() - round_began)
    for name, why in skip.items():
        if name in notes:
            notes[name].append("skipped: " + why)

    stages, stages_note = ("", "not run (--no-stages)") if args.no_stages else run_stages(args, skip)
    query, query_note = ([], "not run (--no-query)") if args.no_query else run_query(args)
    render_results, render_note = ([], "not run (--no-render)") if args.no_render else run_render(args)
    ingest_rows = report.summarise_ingest({key: r for key, r in runs.items() if r})
    for row in ingest_rows:
        row["label"] = LABELS.get(row["case"], row["label"])
    raw = {"facts": facts, "versions": versions, "args": vars(args),
           "ingest_runs": {"%s %s" % key: r for key, r in runs.items()}, "query": query,
           "render": render_results, "render_note": render_note,
           "notes": notes, "query_note": query_note, "rounds_done": rounds_done,
           "stages": stages, "stages_note": stages_note}
    with open(os.path.join(OUT, "results.json"), "w") as handle:
        json.dump(raw, handle, indent=1, default=str)
    took = {"total": _elapsed(started), "harness": time.time() - began,
            "whole": bool(os.environ.get("BENCH_STARTED"))}
    text = render(args, facts, versions, ingest_rows, query, notes, query_note, rounds_done, took,
                  render_results, render_note, stages, stages_note)
    with open(args.out, "w") as handle:
        handle.write(text)
    print("\nwrote %s (%.0f s in all)" % (os.path.relpath(args.out), took["total"]))
    complete = all(r["complete"] == r["runs"] for r in ingest_rows) and (args.no_query or query) \
        and (args.no_render or render_results)
    return 0 if complete else 1


def _carbon_cpu(rows: List[dict]) -> str:
    row = next((r for r in rows if r["case"] == "carbon" and r["regime"] == "cold"), None)
    if not row or not row["cpu_each"]:
        return "carbon-cache did not run"
    return "carbon-cache's CPU seconds per run here: %s" % ", ".join("%.1f" % c for c in row["cpu_each"])


def _minutes(seconds: float) -> str:
    return "%d min %02d s" % divmod(round(seconds), 60)


def headline(rows: List[dict], query: List[dict], renders: List[dict] = ()) -> str:
    steady = {r["case"]: r for r in rows if r["regime"] == "steady"}
    cold = {r["case"]: r for r in rows if r["regime"] == "cold"}
    columns = [("karbon-sqlite", "torus SQLite"), ("karbon-sqlite-name", None),
               ("karbon-redis", "torus Redis"), ("karbon-redis-key", None),
               ("karbon-postgresql", None), ("karbon-postgresql-name", None),
               ("carbon", "graphite-web (1 worker)"), ("influxdb", None),
               ("victoria", None)]
    titles = ["torus on SQLite", "torus on SQLite (rows keyed by name)", "torus on Redis",
              "torus on Redis (a key per bucket)", "torus on PostgreSQL",
              "torus on PostgreSQL (rows keyed by name)", "carbon-cache + graphite-web", "InfluxDB 1.x",
              "VictoriaMetrics"]
    lines = ["| | %s |" % " | ".join(titles), "|---|%s" % ("---:|" * len(titles))]
    for label, by_case in (("steady state (series exist)", steady), ("cold (empty servers)", cold)):
        e2e = [by_case.get(c, {}).get("e2e") for c, _ in columns]
        carbon = by_case.get("carbon", {}).get("e2e")
        lines.append("| ingest %s, points/s | %s |" % (label, " | ".join(report._num(v) for v in e2e)))
        lines.append("| ingest %s, vs carbon-cache | %s |" % (
            label.split(" (")[0], " | ".join(report._ratio(v, carbon) for v in e2e)))
    for stats in (1, 50):
        got = {q["server"]: q for q in query if q["stats"] == stats}
        cells = [report._num(got[s]["rps"], 0) if s in got else "-" for _, s in columns]
        lines.append("| query %d stat%s x 48, requests/s | %s |" % (stats, "" if stats == 1 else "s",
                                                                    " | ".join(cells)))
    for case in report.RENDER_CASES:
        got = {r["server"]: r for r in renders if r["case"] == case}
        if got:
            cells = [report._num(got[s]["rps"], 0) if s in got else "-" for _, s in columns]
            lines.append("| /render %s x 24 h, requests/s | %s |" % (case, " | ".join(cells)))
    return "\n".join(lines)


def render(args, facts, versions, rows, query, notes, query_note, rounds_done, took,
           renders=(), render_note="", stages="", stages_note="") -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = args.metrics * args.points
    size = "{:,} points ({:,} metrics x {} points)".format(total, args.metrics, args.points)
    if took["whole"]:
        timing = "The whole command took %s (installing the peers included; the measurements %s)." % (
            _minutes(took["total"]), _minutes(took["harness"]))
    else:
        timing = "`benchmarks/run_all.py` took %s (peers installed beforehand)." % _minutes(took["harness"])
    out = ["# torus benchmark results", "",
           "Generated by `bash benchmarks/run_all.sh` on %s. %s Figures depend on the machine below; run "
           "the command again rather than editing this file. How to read each figure: "
           "[README.md](README.md)." % (now, timing), "",
           "## Headline", "", headline(rows, query, renders), "",
           "Ingest: %s, median of %d run%s per server and regime; query: 8 keep-alive connections, %d s per scenario, "
           "one torus process beside one graphite-web worker (more workers below)."
           % (size, rounds_done, "" if rounds_done == 1 else "s", args.query_duration), "",
           "## Machine", "", report.key_value_table(facts), "",
           "## Versions", "", report.key_value_table(versions, ("software", "version")), "",
           "## Ingest: Carbon plaintext, end to end", "",
           "Workload: %s, statsd-shaped names (`stats.timers.<app>.<op>.{mean,upper_90,count}`, "
           "`stats_counts.<app>.<op>`, `stats.<app>.<op>`, `stats.gauges.<app>.<op>`, 40 apps), values "
           "derived from (metric, point) (integers, 1 to 3 decimals, negative gauges), timestamps 10 s "
           "apart ending now, in time-major order as statsd flushes them (%.1f MB). A separate sender "
           "process builds its payload first, then pushes it over %d TCP connections as fast as the server "
           "reads, half-closes and waits for the server to close." % (size, total * 46 / 1e6, args.connections),
           "",
           "Two regimes, each run in its own process on a server started for it. **Steady state** "
           "(the headline: what a Carbon server does most of its life): the same %s metric names were "
           "stored just before, at the 30 timestamps preceding the measured ones (a warm-up run, not "
           "timed), so series, files, keys and rows exist; only the new points are counted. **Cold**: "
           "every server starts empty (new tables, keys, files and series), and creating them is part "
           "of the measure. Either way every server stores with the same retention where it has one: "
           % "{:,}".format(args.metrics) +
           "karbon into a `count` schema for `stats_counts.*` and a "
           "`gauge` schema for `stats.*`, each with a 10 s interval (6 h) and a 1 min interval (7 days); "
           "carbon-cache into whisper files `10s:6h,1m:7d` with `MAX_UPDATES_PER_SECOND` and "
           "`MAX_CREATES_PER_MINUTE` set to `inf` and `MAX_CACHE_SIZE = inf` (Debian's defaults, 500 and "
           "50, drop points); InfluxDB and VictoriaMetrics keep raw points with their defaults "
           "(VictoriaMetrics with `-search.latencyOffset=0s -search.disableCache`).", "",
           "* **end-to-end points/s** = points / **ready s**, the time from the first byte sent until every "
           "point is readable through the server's own read path (polled every 0.05 s: the last point "
           "each connection sent is looked up, and once all are there the points are counted, as fast "
           "as the counting query answers); the median ready time of the runs gives the figure, each "
           "run's own figure follows;",
           "* **vs carbon-cache** = end-to-end points/s over carbon-cache's;",
           "* **drain lines/s** = lines / time until the server had read every byte and closed the "
           "connections (karbon reads into an in-memory queue, so its drain is how fast it empties its "
           "sockets, not how fast it stores);",
           "* **peak RSS** = the largest resident set (VmHWM) of the server processes the harness started, "
           "summed with their children; **server CPU s** = their user + system CPU during the measured run "
           "(the warm-up excluded), and **server CPU us/point** the same per point. For karbon on Redis and "
           "PostgreSQL the database server's own memory and CPU are not included there: **database server "
           "CPU us/point** is that server's CPU (the Redis process; every PostgreSQL process) during the "
           "run, per point;",
           "* **values**: after each run the points of 50 metrics spread over the names are read back through "
           "the same path and compared exactly with what was sent.", "",
           "Read path counted per server:", ""]
    labels = dict((r["label"], r["case"]) for r in rows)  # a row per case and regime: once each
    out += ["* %s: %s" % (label, READ_PATH.get(case, "")) for label, case in labels.items()]
    out += ["", "### Steady state: the series already exist", "",
            report.ingest_table(rows, STORAGE, "steady"), "",
            "### Cold: every server starts empty", "",
            report.ingest_table(rows, STORAGE, "cold"), ""]
    extra = ["* %s: %s" % (case, "; ".join(n)) for case, n in notes.items() if n]
    if rounds_done < args.rounds:
        extra.append("* only %d of %d rounds fitted in the %.0f s budget" % (rounds_done, args.rounds, args.budget))
    if extra:
        out += ["Notes from this run:", ""] + extra + [""]
    out += ["### karbon's CPU per point, by stage (steady state)", "",
            "`benchmarks/stage_profile.py` in the same run: the same workload and schemas as the steady "
            "state above, parsed, planned and stored block by block in one process without sockets, each "
            "stage timed in process CPU (microseconds per point): parse (`carbon.parse_block`), plan "
            "(`processing.plan`), buckets (kairos before the engine), rows (SQL rows), driver+db (the rest "
            "of the engine's write: the driver, and libsqlite3 in process); the Redis server's own CPU "
            "(`INFO cpu`) apart; PostgreSQL's server CPU is in the ingest table's database column. "
            "Writes are synchronous here (no batch in flight), so points/s is not the end-to-end figure.",
            "", stages or "No stage table: %s" % stages_note, ""]
    if stages and stages_note:
        out += ["Conditions: %s" % stages_note, ""]
    out += ["## Query: torus /series beside graphite-web /render", "",
            "The same data in both: 50 count stats with one value per hour over the last 48 full hours, "
            "written through karbon's processing path into torus (SQLite file, Redis) and into whisper files "
            "(`3600s:30d`, sum) for graphite-web. Requests: `/series?stat=...&start=...&end=...` and "
            "`/render?format=json&target=...&from=...&until=...` for 1 stat and for 50 stats x 48 steps; "
            "each answer is checked to hold every point before the load starts. Load: %s from a separate "
            "process, %d keep-alive connections for %d s per scenario. torus runs as one process (gevent); "
            "graphite-web 1.1 runs under gunicorn with sync workers, as many as the row says (the machine has "
            "%s cores). The load generator shares the CPUs with the server."
            % (query[0]["client"] if query else "wrk", args.query_connections, args.query_duration,
               facts.get("cores (os.cpu_count)")), "",
            report.query_table(query) if query else "No query figures: %s" % query_note, ""]
    if query and query_note:
        out += ["Notes from this run: %s" % query_note, ""]
    out += ["## Graphite API: torus /render beside graphite-web /render", "",
            "The same data in both: 50 gauges with one point a minute over the last 24 hours, written with "
            "kairos `bulk_insert` into torus (SQLite file, Redis; intervals 60 s x 2,880 and 3,600 s x 720) "
            "and into whisper files (`60s:2d,1h:30d`, last) for graphite-web. Requests "
            "`/render?format=json&from=...&until=...` over the 24 hours (1,440 steps a series): one name; "
            "one wildcard matching the 50 names; ten functions nested over the 50 series (`%s`)."
            " Each answer is checked before the load starts; load as above (%d keep-alive connections, %d s "
            "per scenario). Aim of issue 13: one torus process at least 3x graphite-web's 3 workers."
            % (TEN_FUNCTIONS % "bench.*", args.query_connections, args.query_duration), "",
            report.render_table(renders) if renders else "No /render figures: %s" % render_note, ""]
    if renders and render_note:
        out += ["Notes from this run: %s" % render_note, ""]
    scale_out = report.scale_out_table(rows, query, renders)
    out += ["## Scale-out: a Redis Cluster, 2 karbon workers, 2 torus processes", "",
            "From the runs above, same run, same data. Ingest: karbon (one process) on the single Redis, "
            "on a Redis Cluster of 3 primaries and 3 replicas started on this machine for the run "
            "(`karbon-redis-cluster`), and `karbon --workers 2` on the single Redis (`karbon-redis-x2`; "
            "with a key per bucket `karbon-redis-key-x2`, beside one process with a key per bucket), and "
            "on SQLite and PostgreSQL (`karbon-sqlite-x2`, `karbon-postgresql-x2`: the two workers share "
            "one database file, or one PostgreSQL, each writing its own batches). "
            "Queries: torus served as its manual shows for several processes, `TORUS_CONFIG=... "
            "gunicorn -k gevent -w N torus.web:application`, with 1 and with 2 workers on the Redis data "
            "of the /series and /render benchmarks, under the same load (%d keep-alive connections, %d s "
            "per request). Every process shares the machine's %s cores with the database servers and the "
            "load generator, so a second process can only add what the cores left idle."
            % (args.query_connections, args.query_duration, facts.get("cores (os.cpu_count)")), "",
            scale_out or "No scale-out figures in this run (cases not run or skipped: see the notes).", ""]
    out += ["## Choices", "",
            "* Sizes and repeats: every ingest case at the full %s, %d round%s (each round runs every case once, "
            "one process per run, so no server runs twice in a row and a slow disk phase hits every server "
            "alike); medians shown, each run listed. The query scenarios run %d s each. Rounds that "
            "would end past the budget (`--budget`, %.0f s here) are dropped, the first never."
            % (size, rounds_done, "" if rounds_done == 1 else "s", args.query_duration, args.budget),
            "* Everything listens on 127.0.0.1 on free ports and keeps its data under /tmp; every server is "
            "started and stopped by the harness; the database servers of karbon (Redis, PostgreSQL) are the "
            "machine's own.",
            "* The machine is shared by the servers, the sender, the poller and the load generator (%s cores); "
            "runs of one case can differ by tens of percent, carbon-cache's most: creating one fallocated "
            "whisper file per metric dominates it, and on this kind of virtual disk that costs more system "
            "time from one run to the next (%s)." % (facts.get("cores (os.cpu_count)"), _carbon_cpu(rows)),
            "* Raw figures of every run: `benchmarks/out/results.json` (not committed).", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
