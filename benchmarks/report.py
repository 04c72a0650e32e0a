"""What run_all.py writes: machine facts, versions, and the markdown of RESULTS.md.

Facts are read from /proc, /sys, dpkg and the servers themselves, so a
RESULTS.md says where and with what its figures were measured.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
from importlib import metadata
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _run(cmd: List[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


# -- machine ------------------------------------------------------------------------
def _disk(path: str) -> str:
    source, _, fstype = _run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", path]).partition(" ")
    if not source:
        return "unknown"
    text = "%s on %s (%s)" % (path, source, fstype.strip())
    dev = os.path.basename(os.path.realpath(source))
    block = "/sys/class/block/%s" % dev
    if os.path.exists(os.path.join(block, "partition")):
        block = os.path.dirname(os.path.realpath(block))
    size = _read(os.path.join(block, "size")).strip()
    rotational = _read(os.path.join(block, "queue", "rotational")).strip()
    if size:
        text += ", %.0f GiB" % (int(size) * 512 / 2 ** 30)
    if rotational:
        text += ", kernel says %s" % ("rotational" if rotational == "1" else "non-rotational")
    usage = shutil.disk_usage(path)
    return text + ", %.0f GiB free" % (usage.free / 2 ** 30)


def machine_facts() -> Dict[str, str]:
    """CPU, cores, memory, kernel, OS, virtualisation, the disk under /tmp, load."""
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.M)
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    virt = _run(["systemd-detect-virt"]) if shutil.which("systemd-detect-virt") else ""
    if " hypervisor " in " %s " % " ".join(re.findall(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)[:1]):
        virt = ", ".join(filter(None, [virt, "CPU reports a hypervisor"]))
    return {
        "CPU": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores (os.cpu_count)": str(os.cpu_count()),
        "memory": "%.1f GiB" % (int(mem.group(1)) / 2 ** 20) if mem else "unknown",
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "OS": os_name.group(1) if os_name else "unknown",
        "virtualisation": virt or "none detected",
        "disk (data of every server)": _disk("/tmp"),
        "load average at start": " ".join(_read("/proc/loadavg").split()[:3]),
    }


# -- versions ----------------------------------------------------------------------------
def _dist(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def torus_version() -> str:
    version = re.search(r'__version__ = "([^"]+)"', _read(os.path.join(ROOT, "kairos", "__init__.py")))
    text = version.group(1) if version else "unknown"
    commit = _run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if commit:
        dirty = _run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
        text += " (git %s%s)" % (commit, ", with uncommitted changes" if dirty else "")
    return text


def server_versions(redis_url: str, postgres_url: str) -> Dict[str, str]:
    """Versions of the database servers karbon stores into ('' when unreachable)."""
    out = {"SQLite (Python's sqlite3)": sqlite3.sqlite_version}
    try:
        import redis
        out["Redis server"] = redis.Redis.from_url(redis_url, socket_connect_timeout=3).info("server")[
            "redis_version"]
    except Exception as err:  # reported, not fatal: the case is skipped
        out["Redis server"] = "unreachable (%s)" % type(err).__name__
    try:
        import psycopg
        with psycopg.connect(postgres_url, connect_timeout=5) as conn:
            out["PostgreSQL server"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as err:
        out["PostgreSQL server"] = "unreachable (%s)" % type(err).__name__
    return out


def software_versions(packages: Dict[str, str], servers: Dict[str, str]) -> Dict[str, str]:
    out = {"torus / karbon / kairos": torus_version(),
           "Python (torus)": platform.python_version()}
    for dist in ("gevent", "SQLAlchemy", "redis", "psycopg"):
        out["%s (PyPI)" % dist] = _dist(dist)
    out.update(servers)
    for name, version in packages.items():
        out["%s (Debian)" % name] = version or "not installed"
    system_python = _run(["/usr/bin/python3", "--version"])
    if system_python:
        out["Python (graphite-web, carbon-cache)"] = system_python.replace("Python ", "")
    return out


# -- figures ---------------------------------------------------------------------------------
def median(values: List[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _num(value: Optional[float], digits: int = 0) -> str:
    if value is None:
        return "-"
    return "{:,.{}f}".format(value, digits)


def _ratio(value: Optional[float], reference: Optional[float]) -> str:
    return "%.2fx" % (value / reference) if value and reference else "-"


def summarise_ingest(runs: Dict[tuple, List[dict]]) -> List[dict]:
    """One row per (case, regime): medians over its runs (end-to-end from the median ready time)."""
    rows = []
    for (case, regime), items in runs.items():
        ready = [r["ready_s"] for r in items if r.get("ready_s")]
        points = items[0]["points"] if items else 0
        drain = [r["points"] / r["drain_s"] for r in items if r.get("drain_s")]
        cpu = median([r.get("server_cpu_s") for r in items])
        database = median([r.get("database_cpu_s") for r in items])
        rows.append({
            "case": case, "regime": regime, "label": items[0]["case"] if items else case,
            "runs": len(items),
            "complete": len(ready), "points": points,
            "e2e": points / median(ready) if ready else None,
            "e2e_each": sorted(points / s for s in ready),
            "ready": median(ready), "drain": median(drain),
            "rss": median([r.get("peak_rss_mib") for r in items]),
            "cpu": cpu,
            "cpu_us": cpu * 1e6 / points if cpu is not None and points else None,
            "database_us": database * 1e6 / points if database is not None and points else None,
            "cpu_each": [r.get("server_cpu_s") for r in items if r.get("server_cpu_s") is not None],
            "values": "ok" if items and all(not r.get("check") for r in items) else
            "; ".join(str(r.get("check"))[:80] for r in items if r.get("check")),
        })
    return rows


def ingest_table(rows: List[dict], storage: Dict[str, str], regime: str) -> str:
    rows = [r for r in rows if r["regime"] == regime]
    carbon = next((r["e2e"] for r in rows if r["case"] == "carbon"), None)
    lines = ["| server | stores into | end-to-end points/s | vs carbon-cache | runs (points/s each) "
             "| ready s | drain lines/s | peak RSS MiB | server CPU s | server CPU us/point "
             "| database server CPU us/point | values |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        each = ", ".join(_num(v) for v in r["e2e_each"]) or "none complete"
        if r["complete"] < r["runs"]:
            each += " (%d of %d runs not ready)" % (r["runs"] - r["complete"], r["runs"])
        lines.append("| %s | %s | **%s** | %s | %d: %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], storage.get(r["case"], ""), _num(r["e2e"]), _ratio(r["e2e"], carbon), r["runs"],
            each, _num(r["ready"], 2), _num(r["drain"]), _num(r["rss"]), _num(r["cpu"], 1),
            _num(r["cpu_us"], 1), _num(r["database_us"], 1), r["values"]))
    return "\n".join(lines)


def query_table(results: List[dict]) -> str:
    reference = {r["stats"]: r["rps"] for r in results if r["server"] == "graphite-web (1 worker)"}
    lines = ["| server | request | p50 ms | p99 ms | requests/s | vs graphite-web (1 worker) | errors |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for _, r in sorted(enumerate(results), key=lambda item: (item[1]["stats"], item[0])):
        what = "%d stat%s x %d steps" % (r["stats"], "" if r["stats"] == 1 else "s", r["steps"])
        lines.append("| %s | %s | %s | %s | **%s** | %s | %d |" % (
            r["server"], what, _num(r["p50"], 2), _num(r["p99"], 2), _num(r["rps"], 1),
            _ratio(r["rps"], reference.get(r["stats"])), r["errors"]))
    return "\n".join(lines)


RENDER_CASES = ("1 series", "50 series", "10 functions")


def render_table(results: List[dict]) -> str:
    """/render figures, per request: each server, and its requests/s over graphite-web's 3 workers."""
    reference = {r["case"]: r["rps"] for r in results if r["server"] == "graphite-web (3 workers)"}
    lines = ["| server | request | p50 ms | p99 ms | requests/s | vs graphite-web (3 workers) | errors |",
             "|---|---|---:|---:|---:|---:|---:|"]
    order = {case: i for i, case in enumerate(RENDER_CASES)}
    for _, r in sorted(enumerate(results), key=lambda item: (order.get(item[1]["case"], 9), item[0])):
        lines.append("| %s | %s x %d steps | %s | %s | **%s** | %s | %d |" % (
            r["server"], r["case"], r["steps"], _num(r["p50"], 2), _num(r["p99"], 2),
            _num(r["rps"], 1), _ratio(r["rps"], reference.get(r["case"])), r["errors"]))
    return "\n".join(lines)


#: (case, label, the single-process case it is compared with, and that case's label)
SCALE_OUT_INGEST = (("karbon-redis-cluster", "karbon on a Redis Cluster", "karbon-redis", "karbon on Redis"),
                    ("karbon-redis-x2", "2 karbon workers on Redis", "karbon-redis", "karbon on Redis"),
                    ("karbon-redis-key-x2", "2 karbon workers on Redis, a key per bucket",
                     "karbon-redis-key", "karbon on Redis, a key per bucket"),
                    ("karbon-sqlite-x2", "2 karbon workers on SQLite", "karbon-sqlite", "karbon on SQLite"),
                    ("karbon-postgresql-x2", "2 karbon workers on PostgreSQL", "karbon-postgresql",
                     "karbon on PostgreSQL"))


def scale_out_table(rows: List[dict], query: List[dict], renders: List[dict]) -> str:
    """Scale-out in one table: karbon on one Redis beside a Redis Cluster and beside 2 karbon
    workers (end-to-end points/s), and torus under ``gunicorn -k gevent`` with 1 and 2
    workers (requests/s), each with its ratio to the single case of its line."""
    lines = ["| what | single | figure | scaled out | figure | scaled / single |",
             "|---|---|---:|---|---:|---:|"]
    scaled_cases = {r["case"] for r in rows}  # a line per scaled-out case this run measured
    for regime in ("steady", "cold"):
        by_case = {r["case"]: r for r in rows if r["regime"] == regime}
        for case, label, base, base_label in SCALE_OUT_INGEST:
            single = by_case.get(base, {}).get("e2e")
            scaled = by_case.get(case, {}).get("e2e")
            if case not in scaled_cases or (single is None and scaled is None):
                continue
            lines.append("| ingest (%s), end-to-end points/s | %s | %s | %s | %s | %s |"
                         % (regime, base_label, _num(single), label, _num(scaled),
                            _ratio(scaled, single)))
    requests = [("/series %d stat%s x %d" % (q["stats"], "" if q["stats"] == 1 else "s", q["steps"]), q)
                for q in query if q.get("processes")]
    requests += [("/render %s x %d" % (r["case"], r["steps"]), r) for r in renders if r.get("processes")]
    by_request: Dict[str, Dict[int, dict]] = {}
    for what, figures in requests:
        by_request.setdefault(what, {})[int(figures["processes"])] = figures
    for what, by_workers in by_request.items():
        low, high = min(by_workers), max(by_workers)
        if low == high:
            continue
        one, many = by_workers[low], by_workers[high]
        backend = one["server"].split(",")[0]
        lines.append("| %s, requests/s | %s, gunicorn -w %d | %s | %s, gunicorn -w %d | %s | %s |"
                     % (what, backend, low, _num(one["rps"], 1), backend, high, _num(many["rps"], 1),
                        _ratio(many["rps"], one["rps"])))
    return "\n".join(lines) if len(lines) > 2 else ""


def key_value_table(facts: Dict[str, str], head=("what", "value")) -> str:
    lines = ["| %s | %s |" % head, "|---|---|"]
    lines += ["| %s | %s |" % (k, str(v).replace("|", "/")) for k, v in facts.items()]
    return "\n".join(lines)
