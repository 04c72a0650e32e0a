"""What karbon keeps under faults and hostile input: sent, stored, lost, counted twice.

Runs each case against the karbon of one or more checkouts (``--root DIR``, default
this one) and prints one markdown table per checkout, so a change can be judged
before and after on the same machine in the same run::

    git worktree add /tmp/before <commit>
    python3 benchmarks/fault_report.py --root /tmp/before --root .

Each case starts its own karbon (and, for Redis faults, its own redis-server on a
free port, paused with SIGSTOP); PostgreSQL is the machine's own (tables named per
run, dropped after). Cases:

* hostile-sqlite / hostile-redis: 3 connections, each 9 good count lines between 8
  hostile ones (5,000-digit values and timestamps, 1e30, nanosecond and millisecond
  timestamps, a 300-character name, a 400-digit int, 1e400);
* redis-paused: 100 points stored, Redis paused, 50 more sent (karbon times out and
  retries), Redis resumed; then the dead letters replayed when karbon_replay exists;
* pg-lost-commit: PostgreSQL commits a batch whose reply a proxy drops; karbon retries;
* big-bucket: 30,000 values of one series stat in one 10 s bucket (Redis);
* sigterm-backpressure: 4 clients keep sending while Redis is paused; SIGTERM; Redis
  resumed a second later; dead letters replayed when possible;
* stalled-4000: RSS of karbon (MiB) with 4,000 connections stalled by a paused Redis.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from gevent import monkey  # noqa: E402

monkey.patch_all()

import gevent  # noqa: E402

from tests.functional.redis_server import RedisServer  # noqa: E402
from tests.functional.tcp_proxy import LosingProxy  # noqa: E402

BASE_TS = 1700000000
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Karbon:
    """karbon of a checkout, as a subprocess on a free port."""

    def __init__(self, root, workdir, config, *args):
        self.root = root
        path = os.path.join(workdir, "conf.py")
        with open(path, "w") as handle:
            handle.write(config)
        self.config = path
        self.log = os.path.join(workdir, "karbon.log")
        flags = []
        keep = True
        for arg in args:  # an option the checkout lacks goes with its value
            if arg.startswith("--"):
                keep = self.supports(arg)
            if keep:
                flags.append(arg)
        self.proc = subprocess.Popen([sys.executable, os.path.join(root, "bin", "karbon"),
                                      "--tcp", "127.0.0.1:0", "--config", path, *flags],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        self.port = int(self.wait_for(r"listening on tcp 127\.0\.0\.1:(\d+)").group(1))

    def supports(self, arg):
        if not hasattr(Karbon, "_help"):
            Karbon._help = {}
        if self.root not in Karbon._help:
            Karbon._help[self.root] = subprocess.run(
                [sys.executable, os.path.join(self.root, "bin", "karbon"), "--help"],
                capture_output=True, text=True).stdout
        return arg in Karbon._help[self.root]

    def output(self):
        with open(self.log) as handle:
            return handle.read()

    def wait_for(self, pattern, timeout=60):
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.proc.poll() is not None:
                raise RuntimeError("karbon exited:\n" + self.output())
            gevent.sleep(0.05)
        raise RuntimeError("timed out waiting for %r" % pattern)

    def stop(self, timeout=120):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def send(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        try:
            sock.recv(1)
        except OSError:
            pass


def lines(name, count, ts=BASE_TS):
    return b"".join(b"%s 1 %d\n" % (name.encode(), ts) for _ in range(count))


def wait(predicate, timeout=60):
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            if predicate():
                return True
        except Exception:
            pass
        gevent.sleep(0.1)
    return False


def read_total(root, config, schema, name, interval, ts=BASE_TS):
    """A stored total read with the checkout's own kairos, in a subprocess."""
    code = textwrap.dedent("""
        import sys; sys.path.insert(0, %r)
        from torus.config import Configuration
        ts = Configuration([%r]).schemas[%r].timeseries
        row = list(ts.get(%r, %r, timestamp=%d).values())[0]
        print(len(row) if isinstance(row, (list, set, dict)) else (row or 0))
        """) % (root, config, schema, name, interval, ts)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return float(out.stdout.strip() or "nan")


def replay(root, config, letters):
    """Store the dead letters as the checkout's README says: karbon_replay, or else (before it
    existed) send them to a karbon whose configuration has no AGGREGATES."""
    if not os.path.isdir(letters) or not os.listdir(letters):
        return "no dead letters"
    tool = os.path.join(root, "bin", "karbon_replay")
    if os.path.exists(tool):
        subprocess.run([sys.executable, tool, "--config", config, letters], capture_output=True,
                       timeout=120)
        return "dead letters replayed (karbon_replay)"
    with open(config) as handle:
        text = handle.read().replace("AGGREGATES = [('c.all', 'c.*')]", "AGGREGATES = []")
    work = tempfile.mkdtemp()
    karbon = Karbon(root, work, text)
    for name in os.listdir(letters):
        with open(os.path.join(letters, name), "rb") as handle:
            send(karbon.port, handle.read())
    karbon.stop()
    return "dead letters sent to karbon without aggregates"


def count_config(host, store, token, timeout=0.5, extra=""):
    # no connection handshake: every retry sends its batch again, as it would to a Redis
    # that answers the handshake but stalls on the batch
    client = ("'client_config': {'socket_timeout': %r, 'socket_connect_timeout': %r, "
              "'protocol': 2, 'driver_info': None}," % (timeout, timeout)) if host.startswith("redis") else ""
    return textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, %r: %r, 'match': r'^c\\.', %s
                              'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}}%s}
        AGGREGATES = [('c.all', 'c.*')]
        DEBUG = 1
        """) % (host, store, token, client, extra)


def row(case, sent, stored, note=""):
    lost = max(0, sent - stored)
    double = max(0, stored - sent)
    return {"case": case, "sent": sent, "stored": stored, "lost": lost, "double": double,
            "note": note}


# -- cases ---------------------------------------------------------------------
HOSTILE = [b"c.h " + b"9" * 5000 + b" %d" % BASE_TS, b"c.h 1 " + b"9" * 5000, b"c.h 1 1e30",
           b"c.h 1 %d" % (BASE_TS * 10 ** 9), b"c.h 1 %d" % (BASE_TS * 1000),
           b"c.%s 1 %d" % (b"n" * 300, BASE_TS), b"c.h -" + b"9" * 400 + b" %d" % BASE_TS,
           b"c.h 1e400 %d" % BASE_TS]


def case_hostile(root, work, backend):
    token = "f" + uuid.uuid4().hex[:8]
    if backend == "sqlite":
        server, host, store = None, "sqlite:///%s/h.db" % work, "table_name"
    else:
        server = RedisServer(work)
        host, store = server.url, "prefix"
    try:
        karbon = Karbon(root, work, count_config(host, store, token))
        good = [b"c.g %d %d" % (1, BASE_TS) for _ in range(len(HOSTILE) + 1)]
        mixed = [line for pair in zip(good, HOSTILE + [b""]) for line in pair if line]
        for _ in range(3):
            send(karbon.port, b"\n".join(mixed) + b"\n")
        karbon.stop()
        stored = read_total(root, karbon.config, "counts", "c.g", "10s")
        return row("hostile-%s" % backend, 3 * len(good), int(stored), "good lines among hostile ones")
    finally:
        if server:
            server.stop()


def case_redis_paused(root, work):
    server = RedisServer(work)
    letters = os.path.join(work, "letters")
    try:
        karbon = Karbon(root, work, count_config(server.url, "prefix", "p"), "--dead-letter", letters,
                        "--retry-delays", "0.2,0.2")
        send(karbon.port, lines("c.a", 100))
        wait(lambda: read_total(root, karbon.config, "counts", "c.a", "hour") == 100)
        server.pause()
        send(karbon.port, lines("c.a", 50))
        wait(lambda: os.path.isdir(letters) and os.listdir(letters), timeout=90)
        server.resume()
        gevent.sleep(2)
        karbon.stop()
        note = replay(root, karbon.config, letters)
        stored = read_total(root, karbon.config, "counts", "c.a", "hour")
        return row("redis-paused", 150, int(stored), note)
    finally:
        server.stop()


def case_pg_lost_commit(root, work):
    parts = urlsplit(PG_URL)
    proxy = LosingProxy((parts.hostname, parts.port or 5432), b"COMMIT")
    proxy.armed = False
    token = "f" + uuid.uuid4().hex[:8]
    host = PG_URL.replace(parts.netloc, "%s@127.0.0.1:%d" % (parts.username, proxy.port))
    try:
        karbon = Karbon(root, work, count_config(host, "table_name", token), "--retry-delays", "0.2,0.2")
        direct = count_config(PG_URL, "table_name", token)
        direct_path = os.path.join(work, "direct.py")
        with open(direct_path, "w") as handle:
            handle.write(direct)
        send(karbon.port, lines("c.a", 10))
        wait(lambda: read_total(root, direct_path, "counts", "c.a", "10s") == 10)
        proxy.armed = True
        send(karbon.port, lines("c.a", 5))
        wait(lambda: proxy.lost == 1)
        gevent.sleep(3)
        karbon.stop()
        stored = read_total(root, direct_path, "counts", "c.a", "10s")
        subprocess.run(["psql", PG_URL, "-qc", "DROP TABLE IF EXISTS %s" % token],
                       capture_output=True)
        return row("pg-lost-commit", 15, int(stored), "the reply to one COMMIT dropped")
    finally:
        proxy.stop()


def case_big_bucket(root, work):
    server = RedisServer(work)
    try:
        config = count_config(server.url, "prefix", "b").replace("'type': 'count'", "'type': 'series'")
        karbon = Karbon(root, work, config, "--retry-delays", "0.1")
        send(karbon.port, lines("c.x", 30000))
        karbon.stop()
        stored = read_total(root, karbon.config, "counts", "c.x", "10s")
        return row("big-bucket", 30000, int(stored), "30,000 values of one stat in one bucket")
    finally:
        server.stop()


def case_sigterm(root, work):
    server = RedisServer(work)
    letters = os.path.join(work, "letters")
    try:
        karbon = Karbon(root, work, count_config(server.url, "prefix", "s", timeout=1.0),
                        "--queue-size", "1", "--dead-letter", letters, "--retry-delays", "0.5,0.5")
        server.pause()
        sent = [0] * 4

        def client(number):
            try:
                with socket.create_connection(("127.0.0.1", karbon.port), timeout=60) as sock:
                    for _ in range(40):
                        sock.sendall(lines("c.a", 2000))
                        sent[number] += 2000
                        gevent.sleep(0.1)
                    sock.shutdown(socket.SHUT_WR)
                    sock.recv(1)
            except OSError:
                pass
        clients = [gevent.spawn(client, n) for n in range(4)]
        gevent.sleep(1.0)
        karbon.proc.send_signal(signal.SIGTERM)
        gevent.sleep(1.5)
        server.resume()
        gevent.joinall(clients, timeout=120)
        karbon.stop()
        note = replay(root, karbon.config, letters)
        stored = read_total(root, karbon.config, "counts", "c.a", "hour")
        return row("sigterm-backpressure", sum(sent), int(stored), note)
    finally:
        server.stop()


def case_stalled(root, work):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    server = RedisServer(work)
    socks = []
    try:
        karbon = Karbon(root, work, count_config(server.url, "prefix", "m", timeout=30),
                        "--queue-size", "8")
        server.pause()
        payload = lines("c.a", 6000)
        for _ in range(4000):
            sock = socket.create_connection(("127.0.0.1", karbon.port), timeout=60)
            sock.setblocking(False)
            try:
                sock.send(payload)
            except BlockingIOError:
                pass
            socks.append(sock)
        gevent.sleep(3)
        with open("/proc/%d/status" % karbon.proc.pid) as status:
            rss = next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))
        karbon.proc.kill()
        return {"case": "stalled-4000", "sent": "", "stored": "", "lost": "", "double": "",
                "note": "karbon RSS %d MiB (--queue-size 8)" % rss}
    finally:
        for sock in socks:
            sock.close()
        server.stop()


CASES = {
    "hostile-sqlite": lambda root, work: case_hostile(root, work, "sqlite"),
    "hostile-redis": lambda root, work: case_hostile(root, work, "redis"),
    "redis-paused": case_redis_paused,
    "pg-lost-commit": case_pg_lost_commit,
    "big-bucket": case_big_bucket,
    "sigterm-backpressure": case_sigterm,
    "stalled-4000": case_stalled,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", action="append", help="a checkout whose karbon is tried "
                        "(repeat for several; default: this one)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, of: %s"
                        % ", ".join(CASES))
    parser.add_argument("--json", help="also write the rows as JSON lines to this file")
    args = parser.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or [ROOT])]
    for root in roots:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        print("\n### karbon at %s (%s)\n" % (root, commit or "?"))
        print("| case | sent | stored | lost | counted twice | note |")
        print("|---|---:|---:|---:|---:|---|")
        for name in args.cases.split(","):
            with tempfile.TemporaryDirectory() as work:
                try:
                    result = CASES[name](root, work)
                except Exception as err:  # a case that breaks says so in its row
                    result = {"case": name, "sent": "", "stored": "", "lost": "", "double": "",
                              "note": "failed: %s" % str(err).splitlines()[0][:100]}
            print("| %(case)s | %(sent)s | %(stored)s | %(lost)s | %(double)s | %(note)s |" % result,
                  flush=True)
            if args.json:
                with open(args.json, "a") as handle:
                    handle.write(json.dumps(dict(result, root=root, commit=commit)) + "\n")


if __name__ == "__main__":
    threading.stack_size(512 * 1024)
    main()
