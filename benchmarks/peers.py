"""The software torus is measured against: start, readiness and stop of each peer.

Ingest cases (used by ingest_bench.py) share one interface with its ``KarbonCase``:
``label`` and ``port`` (the Carbon plaintext listener), ``start() -> pids``,
``visible() -> points readable through the peer's own read path``,
``has_last_point(i) -> whether metric i's last point reads back`` (one lookup: polling
counts ``visible()`` only once every connection's last point is there),
``check(indices) -> mismatches`` and ``stop() -> exit codes``. Each case lives in
its own folder under ``/tmp/ingest_bench``, listens on free 127.0.0.1 ports, and
is started and stopped by pid.

* ``CarbonCase``: Graphite's carbon-cache with whisper files (rate limits lifted);
* ``InfluxCase``: InfluxDB 1.x with its ``[[graphite]]`` input;
* ``VictoriaCase``: single-node VictoriaMetrics with its Graphite listener.

graphite-web (used by query_bench.py and render_bench.py) runs under gunicorn with Debian's
``/usr/bin/python3``: ``graphite_available`` and ``start_graphite``, from ``graphite_web.py``.

The peers come from Debian's packages (``benchmarks/install_peers.sh``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Dict, Sequence

from bench_support import (WORK, free_port, load_whisper, start_process, stop_process, wait_http,
                           wait_port)

#: Debian packages of the peers, as reported in RESULTS.md
PACKAGES = ("graphite-carbon", "python3-whisper", "graphite-web", "python3-django", "python3-gunicorn",
            "influxdb", "victoria-metrics", "wrk")


def package_versions(names: Sequence[str] = PACKAGES) -> Dict[str, str]:
    """Installed Debian version of each package ('' when it is not installed)."""
    out = {}
    for name in names:
        try:
            proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}|${Status}", name],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            out[name] = ""
            continue
        version, _, status = proc.stdout.partition("|")
        out[name] = version if proc.returncode == 0 and status.endswith(" installed") else ""
    return out


def _fresh_dir(name: str) -> str:
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def _get_json(url: str, timeout: float = 60):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


# -- carbon-cache ------------------------------------------------------------------------
CARBON_CONF = """[cache]
STORAGE_DIR = %(dir)s/storage/
LOCAL_DATA_DIR = %(dir)s/storage/whisper/
WHITELISTS_DIR = %(dir)s/storage/lists/
CONF_DIR = %(dir)s/conf/
LOG_DIR = %(dir)s/storage/log/
PID_DIR = %(dir)s/storage/run/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %(port)d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %(pickle)d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %(query)d
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
LOG_CACHE_QUEUE_SORTS = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_FALLOCATE_CREATE = True
ENABLE_TAGS = False
"""
CARBON_SCHEMAS = """[carbon]
pattern = ^carbon\\.
retentions = 60s:1d

[statsd]
pattern = .*
retentions = 10s:6h,1m:7d
"""


class CarbonCase:
    """Graphite's carbon-cache 1.1 with whisper files (same retention as the karbon schemas).

    Debian's carbon.conf throttles creates to 50 a minute and drops the points of
    the metrics it could not create, so both limits are lifted; tags (which POST
    every new name to a graphite-web) are off. A point counts once it is in its
    whisper file, which is what graphite-web reads.
    """

    label = "carbon-cache"

    @staticmethod
    def missing() -> str:
        """Why the case cannot run here ('' when it can)."""
        if not shutil.which("carbon-cache"):
            return "carbon-cache is not installed (apt-get install graphite-carbon python3-whisper)"
        try:
            load_whisper()
        except ImportError as err:
            return str(err)
        return ""

    def __init__(self, args, workload):
        self.args, self.wl = args, workload
        self.whisper = load_whisper()
        self.dir = _fresh_dir("carbon")
        for sub in ("conf", "storage/whisper", "storage/log", "storage/run", "storage/lists"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = free_port()
        with open(os.path.join(self.dir, "conf", "carbon.conf"), "w") as handle:
            handle.write(CARBON_CONF % {"dir": self.dir, "port": self.port, "pickle": free_port(),
                                        "query": free_port()})
        with open(os.path.join(self.dir, "conf", "storage-schemas.conf"), "w") as handle:
            handle.write(CARBON_SCHEMAS)
        self.pending = {i: 0 for i in range(workload.metrics)}
        self.seen_mtime = {}
        self.done = 0
        self.proc = None

    def start(self):
        cmd = ["carbon-cache", "--config=%s/conf/carbon.conf" % self.dir, "--nodaemon",
               "--pidfile=%s/storage/run/carbon-cache.pid" % self.dir,
               "--logdir=%s/storage/log" % self.dir, "start"]
        self.proc = start_process(cmd, os.path.join(self.dir, "server.log"))
        wait_port(self.port, [self.proc], timeout=120)
        return [self.proc.pid]

    def begin(self, workload):
        """Count the points of ``workload`` from now on (the steady regime's main run)."""
        self.wl = workload
        self.pending = {i: 0 for i in range(workload.metrics)}
        self.seen_mtime = {}
        self.done = 0

    @staticmethod
    def database_pids():
        return []  # whisper files: carbon-cache is its own storage

    def path(self, i):
        return os.path.join(self.dir, "storage", "whisper", *self.wl.name(i).split(".")) + ".wsp"

    def fetch(self, i):
        (start, _end, step), values = self.whisper.fetch(self.path(i), self.wl.start - 1, self.wl.end)
        return {start + k * step: v for k, v in enumerate(values) if v is not None}

    @staticmethod
    def has_last_point(_i):
        """Always: ``visible`` reads only the files changed since the last poll and keeps the
        count of those done, so it is cheap enough to count at every poll."""
        return True

    def visible(self):
        # files whose mtime has not moved since a read well after it are not read again
        for i in list(self.pending):
            try:
                mtime = os.stat(self.path(i)).st_mtime_ns
            except OSError:
                continue
            if self.seen_mtime.get(i) == mtime:
                continue
            try:
                count = len(self.fetch(i))
            except Exception:  # being created
                continue
            if time.time_ns() - mtime > 200_000_000:
                self.seen_mtime[i] = mtime
            if count >= self.wl.points:
                del self.pending[i]
                self.done += self.wl.points
            else:
                self.pending[i] = count
        return self.done + sum(self.pending.values())

    def check(self, indices):
        bad = []
        for i in indices:
            bad += self.wl.compare(i, self.fetch(i))
        return bad

    def stop(self):
        code = stop_process(self.proc, 120)
        shutil.rmtree(os.path.join(self.dir, "storage"), ignore_errors=True)
        return [code]


# -- InfluxDB 1.x --------------------------------------------------------------------------
INFLUX_CONF = """reporting-disabled = true
bind-address = "127.0.0.1:%(rpc)d"
[meta]
  dir = "%(dir)s/data/meta"
[data]
  dir = "%(dir)s/data/data"
  wal-dir = "%(dir)s/data/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%(http)d"
  log-enabled = false
[monitor]
  store-enabled = false
[[graphite]]
  enabled = true
  bind-address = "127.0.0.1:%(port)d"
  protocol = "tcp"
  database = "graphite"
"""


class _ServerWithDataDir:
    """A peer run as one process keeping its data under ``self.dir/data``."""

    def begin(self, workload):
        """Count the points of ``workload`` from now on (the steady regime's main run)."""
        self.wl = workload

    @staticmethod
    def database_pids():
        return []  # its own storage

    def stop(self):
        code = stop_process(self.proc, 60)
        shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
        return [code]


class InfluxCase(_ServerWithDataDir):
    """InfluxDB 1.x's Graphite input with its defaults (no template: the whole name is
    the measurement, the value its field ``value``; batches of 5,000 points or 1 s).
    A point counts once ``SELECT count(value)`` over the workload's window sees it."""

    label = "InfluxDB graphite input"
    database = "graphite"

    @staticmethod
    def missing() -> str:
        return "" if shutil.which("influxd") else "influxd is not installed (apt-get install influxdb)"

    def __init__(self, args, workload):
        self.args, self.wl = args, workload
        self.dir = _fresh_dir("influxdb")
        self.port, http = free_port(), free_port()
        self.base = "http://127.0.0.1:%d" % http
        self.config = os.path.join(self.dir, "influxdb.conf")
        with open(self.config, "w") as handle:
            handle.write(INFLUX_CONF % {"dir": self.dir, "rpc": free_port(), "http": http, "port": self.port})
        self.proc = None

    def query(self, q: str, timeout: float = 120):
        qs = urllib.parse.urlencode({"db": self.database, "q": q, "epoch": "s"})
        return _get_json("%s/query?%s" % (self.base, qs), timeout)

    def start(self):
        self.proc = start_process(["influxd", "-config", self.config], os.path.join(self.dir, "server.log"))
        wait_http(self.base + "/ping", 60, [self.proc])
        wait_port(self.port, [self.proc])  # the graphite input creates its database on first write
        return [self.proc.pid]

    def _series(self, q: str):
        for result in self.query(q).get("results", []):
            for series in result.get("series", []):
                yield series

    def has_last_point(self, i):
        q = 'SELECT value FROM "%s" WHERE time = %ds' % (self.wl.name(i), self.wl.end)
        try:
            return any(series["values"] for series in self._series(q))
        except Exception:  # the database is not created yet
            return False

    def visible(self):
        q = "SELECT count(value) FROM /^stats/ WHERE time >= %ds AND time <= %ds" % (self.wl.start, self.wl.end)
        return sum(int(row[1]) for series in self._series(q) for row in series["values"])

    def check(self, indices):
        bad = []
        for i in indices:
            q = 'SELECT value FROM "%s" WHERE time >= %ds AND time <= %ds' % (
                self.wl.name(i), self.wl.start, self.wl.end)
            got = {int(row[0]): row[1] for series in self._series(q) for row in series["values"]}
            bad += self.wl.compare(i, got)
        return bad



# -- VictoriaMetrics -------------------------------------------------------------------------
class VictoriaCase(_ServerWithDataDir):
    """Single-node VictoriaMetrics with its Graphite listener (the name becomes ``__name__``).

    Readiness is ``sum(count_over_time(...))`` over exactly the workload's timestamps
    through /api/v1/query. VictoriaMetrics caches tag-filter lookups: a selector asked
    before the series existed can keep answering "nothing" for seconds, so every poll
    adds a no-op filter of its own. Points reach queries after VictoriaMetrics'
    in-memory buffer is flushed (about a second); no forced flush is used.
    """

    label = "VictoriaMetrics graphite listener"

    @staticmethod
    def missing() -> str:
        return "" if shutil.which("victoria-metrics") else \
            "victoria-metrics is not installed (apt-get install victoria-metrics)"

    def __init__(self, args, workload):
        self.args, self.wl = args, workload
        self.dir = _fresh_dir("victoria")
        self.port, http = free_port(), free_port()
        self.http = "127.0.0.1:%d" % http
        self.base = "http://" + self.http
        self.polls = 0
        self.proc = None

    def start(self):
        cmd = ["victoria-metrics", "-storageDataPath=%s/data" % self.dir, "-httpListenAddr=" + self.http,
               "-graphiteListenAddr=127.0.0.1:%d" % self.port, "-search.latencyOffset=0s",
               "-search.disableCache", "-loggerLevel=WARN"]
        self.proc = start_process(cmd, os.path.join(self.dir, "server.log"))
        wait_http(self.base + "/health", 60, [self.proc])
        wait_port(self.port, [self.proc])
        return [self.proc.pid]

    def visible(self):
        self.polls += 1
        window_ms = int((self.wl.points - 0.5) * self.wl.step * 1000)  # the workload's timestamps only
        selector = '{__name__=~"stats.*",bench_poll!="%d"}' % self.polls
        qs = urllib.parse.urlencode({"query": "sum(count_over_time(%s[%dms]))" % (selector, window_ms),
                                     "time": self.wl.end, "nocache": 1})
        result = _get_json("%s/api/v1/query?%s" % (self.base, qs))["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def _export(self, i, start, end, fresh=False):
        """Metric ``i``'s points from ``start`` to ``end`` (seconds) as ``{timestamp: value}``;
        ``fresh``: with a no-op filter of its own, as ``visible`` (a selector asked before its
        series existed can be answered from the cache)."""
        selector = '__name__="%s"' % self.wl.name(i)
        if fresh:
            self.polls += 1
            selector += ',bench_poll!="%d"' % self.polls
        qs = urllib.parse.urlencode({"match[]": "{%s}" % selector, "start": start, "end": end})
        with urllib.request.urlopen("%s/api/v1/export?%s" % (self.base, qs), timeout=60) as response:
            lines = response.read().decode().splitlines()
        got = {}
        for line in lines:
            row = json.loads(line)
            got.update({ms // 1000: v for ms, v in zip(row["timestamps"], row["values"])})
        return got

    def has_last_point(self, i):
        try:
            return self.wl.end in self._export(i, self.wl.end - 1, self.wl.end + 1, fresh=True)
        except OSError:  # not answering yet: not there yet
            return False

    def check(self, indices):
        bad = []
        for i in indices:
            bad += self.wl.compare(i, self._export(i, self.wl.start - 1, self.wl.end + 1))
        return bad



#: ingest case name -> class
INGEST_PEERS = {"carbon": CarbonCase, "influxdb": InfluxCase, "victoria": VictoriaCase}


# -- graphite-web ------------------------------------------------------------------------------
# one implementation with the CI comparison (tests/functional/graphite_oracle.py): graphite_web.py
from graphite_web import available as graphite_available  # noqa: E402,F401
from graphite_web import start_graphite  # noqa: E402,F401
