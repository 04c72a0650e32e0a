"""Helpers of the benchmarks: the workload, the sender process, /proc sampling, ports, processes, whisper."""
from __future__ import annotations

import importlib.util
import multiprocessing as mp
import os
import socket
import subprocess
import threading
import time
import urllib.request

#: statsd's Graphite backend names (legacy namespace) and how their values look
SHAPES = (
    ("stats.timers.{app}.{metric}.mean", "ms"),
    ("stats.timers.{app}.{metric}.upper_90", "ms"),
    ("stats.timers.{app}.{metric}.count", "count"),
    ("stats_counts.{app}.{metric}", "count"),
    ("stats.{app}.{metric}", "rate"),
    ("stats.gauges.{app}.{metric}", "gauge"),
)
APPS = 40
#: where the ingest cases keep their data and logs (wiped per case)
WORK = "/tmp/ingest_bench"


class Workload:
    """``metrics`` names x ``points`` timestamps 10 s apart, ending at the last full 10 s."""

    step = 10

    def __init__(self, metrics: int, points: int, end: float = None):
        self.metrics, self.points = metrics, points
        end = int(time.time() if end is None else end)
        # the first timestamp on a minute boundary: a workload before this one (before())
        # shares no 1-minute bucket with it, so each one's points are counted apart
        span = (points - 1) * self.step
        self.start = (end - span) - (end - span) % 60
        self.end = self.start + span

    def before(self) -> "Workload":
        """The same names and values, at timestamps ending just before this workload's: the
        warm-up of the steady-state regime (the series exist when this one arrives)."""
        return Workload(self.metrics, self.points, end=self.start - self.step)

    @property
    def total(self) -> int:
        return self.metrics * self.points

    def name(self, i: int) -> str:
        template = SHAPES[i % len(SHAPES)][0]
        n = i // len(SHAPES)
        return template.format(app="svc%02d" % (n % APPS), metric="op%05d" % n)

    def value(self, i: int, j: int) -> str:
        seed = (i * 7919 + j * 104729 + 31337) * 2246822519 % 4294967291
        kind = SHAPES[i % len(SHAPES)][1]
        if kind == "count":
            return str(seed % 10000)
        if kind == "ms":
            return "%.3f" % (seed % 2000000 / 1000)
        if kind == "rate":
            return "%.2f" % (seed % 100000 / 100)
        return "%.1f" % (seed % 200000 / 10 - 10000)

    def timestamp(self, j: int) -> int:
        return self.start + j * self.step

    def last_sent(self, conns: int) -> list:
        """The metric each connection sends last (``payload`` is time-major, so its point at
        ``end`` is about the last a server stores)."""
        return sorted({max(range(conn, self.metrics, conns)) for conn in range(min(conns, self.metrics))})

    def minute_keys(self) -> int:
        """Distinct 1-minute buckets per metric, times the metrics."""
        return self.metrics * len({self.timestamp(j) // 60 for j in range(self.points)})

    def payload(self, conn: int, conns: int) -> bytes:
        """The lines of one connection (metrics i with i % conns == conn), time-major like statsd."""
        mine = range(conn, self.metrics, conns)
        names = [(i, self.name(i)) for i in mine]
        lines = []
        for j in range(self.points):
            ts = self.timestamp(j)
            lines.extend("%s %s %d\n" % (name, self.value(i, j), ts) for i, name in names)
        return "".join(lines).encode()

    def compare(self, i: int, got: dict) -> list:
        """Mismatches between metric i's points and ``got`` ({timestamp: value})."""
        bad = []
        for j in range(self.points):
            ts, want = self.timestamp(j), float(self.value(i, j))
            value = got.get(ts)
            if value is None or abs(float(value) - want) > 1e-9 * max(1.0, abs(want)):
                bad.append("%s@%d: want %r, got %r" % (self.name(i), ts, want, value))
        return bad[:3]


# -- the sender ------------------------------------------------------------------
def _sender(port, workload, conns, pipe):
    payloads = [workload.payload(c, conns) for c in range(conns)]
    socks = [socket.create_connection(("127.0.0.1", port), timeout=600) for _ in range(conns)]
    pipe.send("ready")
    pipe.recv()
    closed = [None] * conns

    def push(c):
        sock = socks[c]
        sock.sendall(payloads[c])
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass  # the server closes once it has read everything
        closed[c] = time.monotonic()
        sock.close()

    threads = [threading.Thread(target=push, args=(c,)) for c in range(conns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipe.send(max(closed) if None not in closed else None)


class Sender:
    def __init__(self, port, workload, conns):
        ctx = mp.get_context("fork")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sender, args=(port, workload, conns, child), daemon=True)
        self.proc.start()
        if not self.pipe.poll(300) or self.pipe.recv() != "ready":
            raise RuntimeError("the sender did not get ready")

    def go(self) -> float:
        self.pipe.send("go")
        return time.monotonic()

    def result(self, timeout: float = 600):
        """When the server had read the last byte (monotonic), or None."""
        value = self.pipe.recv() if self.pipe.poll(timeout) else None
        self.proc.join(10)
        return value


def run_sender(port, workload, conns) -> Sender:
    return Sender(port, workload, conns)


# -- processes and ports ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port, procs, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.3)  # let every --reuse-port process bind
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on port %d" % port)


def wait_http(url, timeout=30, procs=()):
    """Until ``url`` answers 2xx; raises if a process of ``procs`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_process(cmd, log_path, **popen) -> subprocess.Popen:
    """``cmd`` with stdout and stderr appended to ``log_path`` and no stdin."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, **popen)


def stop_process(proc, timeout=60):
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def _children(pid):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                out.extend(int(c) for c in handle.read().split())
    except OSError:
        pass
    return out


def drop_sql_tables(series):
    """Drop the tables a kairos SQL timeseries made: data, name ids (layout='id'), name index."""
    for table in (series.table, series.ids, series.names):
        if table is not None:
            table.drop(series.db, checkfirst=True)


def postgres_pids():
    """The PostgreSQL server's processes on this machine (their CPU is the server's)."""
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


class ProcWatch:
    """Peak RSS (VmHWM, summed over the processes and their children) and CPU seconds."""

    def __init__(self, pids):
        self.pids = list(pids)
        self.hwm = {}
        self.cpu = {}
        self.cpu0 = None
        self.sample()

    def sample(self):
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.pids + [c for p in self.pids for c in _children(p)]:
            try:
                with open("/proc/%d/status" % pid) as handle:
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            self.hwm[pid] = max(self.hwm.get(pid, 0), int(line.split()[1]))
                with open("/proc/%d/stat" % pid) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue
        if self.cpu0 is None:
            self.cpu0 = sum(self.cpu.values())

    def peak_rss_mib(self):
        return round(sum(self.hwm.values()) / 1024, 1)

    def cpu_s(self):
        return round(sum(self.cpu.values()) - (self.cpu0 or 0), 2)


def load_whisper():
    """The whisper module: importable, or Debian's python3-whisper file."""
    try:
        import whisper
        return whisper
    except ImportError:
        path = "/usr/lib/python3/dist-packages/whisper.py"
        if not os.path.exists(path):
            raise ImportError("the whisper module is missing (apt-get install python3-whisper)")
        spec = importlib.util.spec_from_file_location("whisper", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
