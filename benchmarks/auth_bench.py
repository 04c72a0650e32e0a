#!/usr/bin/env python3
"""The cost of access control on /series: requests/s of torus without TOKENS and with TOKENS, same run.

Two torus processes serve the same SQLite data (``query_bench``'s: stats x 48 hourly
buckets), one with no ``TOKENS`` and one with ``--tokens`` entries (the request's token
last, so every hash is compared; its read scope a pattern that covers the stats). Each
scenario (1 stat, 50 stats) is loaded in alternating rounds, off then on, ``--rounds``
times; reported are the median requests/s of each side and the median CPU time the
torus process spent per request (from /proc: steadier than requests/s when other work
shares the machine), with the differences.

    python3 benchmarks/auth_bench.py [--duration 5] [--rounds 3] [--connections 8] [--tokens 20]
                                     [--wsgi]

With ``--wsgi`` the application is called in this process instead (no HTTP, no load
generator): the CPU time per request of each side (``time.process_time``) over
alternating rounds, which isolates what access control adds from network noise.

Load comes from ``wrk`` when installed (else query_bench's gevent client, which sends the
token too); it shares the machine's CPUs with torus.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench_support import stop_process  # noqa: E402
from query_bench import HOURS, STATS, clear_torus_data, hours, start_torus, write_torus_data  # noqa: E402

from torus.access import token_digest  # noqa: E402

CONFIG = """
SCHEMAS = {{
    'bench_sqlite': {{'type': 'count', 'host': {sqlite!r}, 'match': r'^sq\\.',
                      'table_name': {token!r}, 'intervals': {{'hour': {{'step': 3600}}}}}},
}}
DEBUG = 0
"""

CLIENT = r"""
import sys, time, json
from gevent import monkey; monkey.patch_all()
import gevent, http.client
from urllib.parse import urlsplit
url, duration, connections, auth = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
parts = urlsplit(url)
target = parts.path + '?' + parts.query
headers = {'Authorization': auth} if auth else {}
count, errors = [0], [0]
def worker(deadline):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    while time.perf_counter() < deadline:
        conn.request('GET', target, headers=headers)
        response = conn.getresponse(); response.read()
        count[0] += 1
        if response.status != 200: errors[0] += 1
began = time.perf_counter()
gevent.joinall([gevent.spawn(worker, began + duration) for _ in range(connections)])
print(json.dumps({'rps': count[0] / (time.perf_counter() - began), 'requests': count[0],
                  'errors': errors[0]}))
"""


def load(url: str, auth: str, duration: int, connections: int) -> Dict[str, float]:
    if shutil.which("wrk"):
        command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections),
                   "-d", "%ds" % duration, "--timeout", "10s", url]
        if auth:
            command[1:1] = ["-H", "Authorization: " + auth]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "requests": int(re.search(r"(\d+) requests in", out).group(1)),
                "errors": int(errors.group(1)) if errors else 0}
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(duration), str(connections), auth],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(proc: subprocess.Popen, url: str, auth: str, duration: int,
            connections: int) -> Dict[str, float]:
    """Requests/s, and the server's CPU microseconds per request (steadier on a busy machine)."""
    before = cpu_seconds(proc.pid)
    figures = load(url, auth, duration, connections)
    figures["cpu_us"] = (cpu_seconds(proc.pid) - before) / max(figures["requests"], 1) * 1e6
    return figures


def check(url: str, auth: str, expected_points: int) -> None:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    body = json.loads(urllib.request.urlopen(request, timeout=30).read())
    points = sum(len([p for p in entry["datapoints"] if p[0] is not None]) for entry in body)
    if points != expected_points:
        raise SystemExit("%s answered %d points, expected %d" % (url, points, expected_points))


def status_without_token(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=30).status
    except urllib.error.HTTPError as err:
        return err.code


def wsgi_rounds(open_path: str, tokens_path: str, token: str, query: str, rounds: int,
                count: int) -> Dict[str, List[float]]:
    """CPU microseconds per /series request of the application, called in this process."""
    import io

    from torus.config import ConfigHolder
    from torus.web import make_app
    apps = {"off": make_app(ConfigHolder([open_path])), "on": make_app(ConfigHolder([tokens_path]))}
    path, _, query_string = query.partition("?")

    def start_response(status: str, headers: list) -> None:
        if not status.startswith("200"):
            raise SystemExit("the application answered %s" % status)

    out: Dict[str, List[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for side, app in apps.items():
            began = time.process_time()
            for _ in range(count):
                environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query_string,
                           "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO()}
                if side == "on":
                    environ["HTTP_AUTHORIZATION"] = "Bearer " + token
                app(environ, start_response)
            out[side].append((time.process_time() - began) / count * 1e6)
    return out


def access_layer_cost(tokens_path: str, token: str, query: str) -> float:
    """Microseconds of ``access.authorize`` + ``access.check_request`` for one request (the best
    of several timings: interference from other work only adds)."""
    import timeit

    from torus import access
    from torus.config import Configuration
    from torus.params import Params
    config = Configuration([tokens_path])
    path, _, query_string = query.partition("?")
    command = path.strip("/")
    environ = {"HTTP_AUTHORIZATION": "Bearer " + token}
    params = Params.from_query(query_string)

    def check() -> None:
        grant = access.authorize(config, environ, "GET", command, time.time())
        access.check_request(grant, "GET", command, params)
    number = 2000
    return min(timeit.repeat(check, number=number, repeat=7)) / number * 1e6


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per round and side")
    parser.add_argument("--rounds", type=int, default=3, help="alternating off/on rounds per scenario")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--tokens", type=int, default=20,
                        help="entries in TOKENS (all compared); 0 runs the control: the second "
                             "server without TOKENS too, which shows the noise of the machine")
    parser.add_argument("--json", help="append one JSON line per scenario to this file")
    parser.add_argument("--wsgi", action="store_true",
                        help="call the application in this process (CPU time per request)")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="auth_bench_")
    table = "ab" + uuid.uuid4().hex[:8]
    stamps = hours()
    base_config = CONFIG.format(sqlite="sqlite:///%s/bench.db" % folder, token=table)
    open_path = os.path.join(folder, "open_conf.py")
    tokens_path = os.path.join(folder, "tokens_conf.py")
    token = "torus_bench" + uuid.uuid4().hex
    entries = ["    'other%d': {'sha256': %r, 'read': ['other%d.*']}," % (n, token_digest("x%d" % n), n)
               for n in range(args.tokens - 1)]
    entries.append("    'bench': {'sha256': %r, 'read': ['nothing.*', 'sq.*']}," % token_digest(token))
    with open(open_path, "w") as handle:
        handle.write(base_config)
    with open(tokens_path, "w") as handle:
        handle.write(base_config + ("TOKENS = {\n%s\n}\n" % "\n".join(entries) if args.tokens else ""))
    write_torus_data(open_path, ["sq"], stamps)
    print("client: %s, %d connections, %d rounds of %ds per side; %d tokens; %d CPUs"
          % ("wrk" if shutil.which("wrk") else "python", args.connections, args.rounds,
             args.duration, args.tokens, os.cpu_count() or 0))

    servers = []
    rows = []
    if args.wsgi:
        try:
            window = "start=%d&end=%d" % (stamps[0], stamps[-1])
            for count in (1, STATS):
                query = "/series?%s&%s" % ("&".join("stat=sq.s%02d" % s for s in range(count)), window)
                cpu = wsgi_rounds(open_path, tokens_path, token, query, max(args.rounds, 9),
                                  max(2, 400 // count))
                off, on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
                best_off, best_on = min(cpu["off"]), min(cpu["on"])
                layer = access_layer_cost(tokens_path, token, query)
                print("in process, %d x %d: CPU per request off %.1f us, on %.1f us (%+.1f%%); best "
                      "round off %.1f us, on %.1f us (%+.1f%%); the access layer alone %.1f us "
                      "(%.1f%% of the best request)"
                      % (count, HOURS, off, on, (on - off) / off * 100, best_off, best_on,
                         (best_on - best_off) / best_off * 100, layer, layer / best_off * 100))
        finally:
            clear_torus_data(open_path)
            shutil.rmtree(folder, ignore_errors=True)
        return 0
    try:
        off_proc, off_base = start_torus(open_path)
        servers.append(off_proc)
        on_proc, on_base = start_torus(tokens_path)
        servers.append(on_proc)
        auth = "Bearer " + token
        window = "start=%d&end=%d" % (stamps[0], stamps[-1])
        for count in (1, STATS):
            query = "/series?%s&%s" % ("&".join("stat=sq.s%02d" % s for s in range(count)), window)
            check(off_base + query, "", count * HOURS)
            check(on_base + query, auth, count * HOURS)
            if args.tokens and status_without_token(on_base + query) != 401:
                raise SystemExit("torus with TOKENS answered without a token")
            off, on = [], []
            for _ in range(args.rounds):
                off.append(measure(off_proc, off_base + query, "", args.duration, args.connections))
                on.append(measure(on_proc, on_base + query, auth, args.duration, args.connections))
            errors = sum(r["errors"] for r in off + on)
            if errors:
                raise SystemExit("%d requests failed" % errors)
            off_rps = statistics.median(r["rps"] for r in off)
            on_rps = statistics.median(r["rps"] for r in on)
            rows.append((count, off_rps, on_rps, statistics.median(r["cpu_us"] for r in off),
                         statistics.median(r["cpu_us"] for r in on)))
    finally:
        for proc in servers:
            stop_process(proc, 20)
        clear_torus_data(open_path)
        shutil.rmtree(folder, ignore_errors=True)

    print("%-10s %10s %10s %8s %12s %12s %8s" % ("/series", "off req/s", "on req/s", "cost",
                                                  "off CPU us", "on CPU us", "cost"))
    for count, off_rps, on_rps, off_cpu, on_cpu in rows:
        cost = (off_rps - on_rps) / off_rps * 100
        cpu_cost = (on_cpu - off_cpu) / off_cpu * 100
        print("%-10s %10.1f %10.1f %7.1f%% %12.1f %12.1f %7.1f%%" % (
            "%d x %d" % (count, HOURS), off_rps, on_rps, cost, off_cpu, on_cpu, cpu_cost))
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"stats": count, "steps": HOURS, "off_rps": off_rps,
                                         "on_rps": on_rps, "cost_percent": cost,
                                         "off_cpu_us": off_cpu, "on_cpu_us": on_cpu,
                                         "cpu_cost_percent": cpu_cost,
                                         "tokens": args.tokens, "connections": args.connections,
                                         "duration": args.duration, "rounds": args.rounds,
                                         "time": time.time()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
