"""Helpers for the torus query server tests: a configuration over SQLite or Redis, data written
through the karbon path (processing.plan + store), a real torus process and an HTTP client.
"""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid

import gevent
import pytest

from tests.conftest import ROOT, require
from torus.config import Configuration
from torus.processing import plan, store

#: 2013-03-01 00:00:00 UTC, a Friday
T0 = 1362096000
BACKENDS = ["sqlite", "redis"]
#: the backends of the hardening tests: every kind of storage torus reads differently
STORAGE_BACKENDS = ["sqlite", "postgresql", "redis"]

CONFIG = '''
_HOST = {host!r}
_STORE = {store!r}
_TOKEN = {token!r}


def _schema(name, type, match, intervals, **extra):
    definition = dict(type=type, host=_HOST, match=match, intervals=intervals, **extra)
    definition[_STORE] = "%s_%s" % (_TOKEN, name)
    return definition


_MINUTES = {{'minute': {{'step': 60}}, 'hour': {{'step': 3600, 'resolution': 60}}}}
SCHEMAS = {{
    'counts': _schema('counts', 'count', r'^c\\.', _MINUTES),
    'counts_daily': _schema('counts_daily', 'count', r'^c\\.', {{'day': {{'step': 'daily'}}}}),
    'timers': _schema('timers', 'histogram', r'^t\\.', _MINUTES),
    'series': _schema('series', 'series', r'^s\\.', {{'minute': {{'step': 60}}}}),
    'gauges': _schema('gauges', 'gauge', r'^g\\.', {{'minute': {{'step': 60}}}}),
    'sets': _schema('sets', 'set', r'^u\\.', {{'minute': {{'step': 60}}}}),
    'inserts': _schema('inserts', 'count', r'^i\\.', {{'minute': {{'step': 60}}}}),
    'labels': _schema('labels', 'count', r'^l\\.', {{'minute': {{'step': 60}}}},
                      transform=lambda s, v: (None, None) if s.endswith('.skip') else (s, v)),
}}
AGGREGATES = [('c.all', 'c.*'), ('i.total', 'i.*')]
TRANSFORMS = {{
    'size': lambda row: len(row),
    'double': lambda row, duration: row * 2,
    'per_second': lambda row, duration: row / duration,
}}
MACROS = {{
    'total': {{'collapse': True, 'transform': 'sum'}},
    'hourly': {{'interval': 'hour', 'format': 'json', 'condense': 'false'}},
    'peak': {{'interval': 'hour', 'condense': lambda data: max(data.values()) if data else 0}},
    'most': {{'join_rows': lambda rows: max(rows)}},
    'tenfold': {{'process_row': lambda raw: float(raw) * 10}},
    'sized': {{'transform': 'size'}},
    'firsttwo': {{'start': {t0}, 'steps': '2'}},
    'overall': {{'collapse': lambda data: sum(data.values()) * 100}},
}}
MAX_POINTS = 1000
DEBUG = 1
'''

POINTS = [
    ("c.a", 3, T0 + 30), ("c.a", 2, T0 + 90), ("c.a", 5, T0 + 3610),
    ("c.b", 1, T0 + 30), ("c.b", 4, T0 + 150),
    ("t.x", 1.5, T0 + 10), ("t.x", 2, T0 + 20), ("t.x", 2, T0 + 70),
    ("s.x", 1, T0 + 5), ("s.x", 2.5, T0 + 65), ("s.x", 4, T0 + 70),
    ("g.x", 7, T0 + 10), ("g.x", 9, T0 + 20),
    ("u.x", 3, T0 + 1), ("u.x", 1, T0 + 2), ("u.x", 3, T0 + 3), ("u.x", 2, T0 + 4),
]


def storage(backend, folder, token):
    """``(host, storage option)`` for a backend, skipping when it cannot run here."""
    if backend == "sqlite":
        return "sqlite:///%s" % os.path.join(str(folder), "torus.db"), "table_name"
    if backend in ("postgresql", "mysql"):
        return require(backend), "table_name"
    url = require("redis")
    try:
        import kairos.backends.redis_store  # noqa: F401
    except ImportError:
        pytest.skip("the Redis engine (kairos.backends.redis_store) is not built yet")
    return url, "prefix"


def write_config(path, backend, folder, token, extra=""):
    """Write the test configuration (plus ``extra`` lines) and return its path."""
    host, option = storage(backend, folder, token)
    text = CONFIG.format(host=host, store=option, token=token, t0=T0) + textwrap.dedent(extra)
    with open(str(path), "w") as handle:
        handle.write(text)
    return str(path)


def load(paths, points=()):
    """Write ``points`` through the karbon path; returns the Configuration used."""
    config = Configuration(list(paths))
    batches, stats = plan(config, points)
    assert stats.unmatched == 0 and stats.rejected == 0
    for batch in batches.values():
        assert store(batch) == []
    return config


def cleanup(config):
    """Remove what the tests stored: keys and rows, and the tables on a database server."""
    for schema in config.schemas.values():
        series = schema.timeseries
        try:
            series.delete_all()
            if series.engine == "sql" and series.db.dialect.name != "sqlite":
                series.table.drop(series.db, checkfirst=True)
                series.names.drop(series.db, checkfirst=True)
                series.db.dispose()
        except Exception:
            pass


def serving(tmp_path_factory, label, backend="sqlite", args=()):
    """A generator for module fixtures: the test configuration on ``backend`` with POINTS
    stored, served by a torus process (yielded); stopped and cleaned up afterwards, and
    the stop must exit 0."""
    folder = tmp_path_factory.mktemp(label)
    token = "t" + uuid.uuid4().hex[:10]
    path = write_config(folder / ("%s_conf.py" % label), backend, folder, token)
    config = load([path], POINTS)
    process = TorusProcess([path], args=args)
    yield process
    code = process.stop()
    cleanup(config)
    assert code == 0, process.log


class TorusProcess:
    """``bin/torus`` on an ephemeral port (plus ``args``); stderr is collected while it runs."""

    def __init__(self, paths, env=None, args=(), preexec_fn=None):
        command = [sys.executable, os.path.join(ROOT, "bin", "torus"), "--tcp", "127.0.0.1:0"]
        for path in paths:
            command += ["--config", path]
        command += [str(arg) for arg in args]
        environ = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, env=environ,
                                     preexec_fn=preexec_fn)
        self.lines = []
        self.url = None
        with gevent.Timeout(20, AssertionError("torus did not start: %s" % self.lines)):
            while self.url is None:
                line = self.proc.stderr.readline().decode("utf-8", "replace")
                if not line:
                    raise AssertionError("torus exited: %s" % "".join(self.lines))
                self.lines.append(line)
                match = re.search(r"listening on (https?://\S+)", line)
                if match:
                    self.url = match.group(1)
        self.reader = gevent.spawn(self._drain)
        host, _, port = self.url.split("://", 1)[1].rpartition(":")
        self.address = (host.strip("[]"), int(port))

    def _drain(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.lines.append(line.decode("utf-8", "replace"))

    @property
    def log(self):
        return "".join(self.lines)

    def send(self, signum):
        self.proc.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def wait_for_log(self, pattern, timeout=10):
        with gevent.Timeout(timeout, AssertionError("no %r in torus log: %s" % (pattern, self.log))):
            while not re.search(pattern, self.log):
                gevent.sleep(0.05)

    def request(self, path, method="GET", data=None, headers=None):
        return http(self.url + path, method=method, data=data, headers=headers)

    def get(self, path, **kwargs):
        """``(status, decoded JSON body)``."""
        status, _headers, body = self.request(path, **kwargs)
        return status, json.loads(body) if body else None


def http(url, method="GET", data=None, headers=None):
    """``(status, headers, body bytes)`` of one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def entry(stat, function=None, schema=None, interval=None, datapoints=None, stat_name=None):
    """An expected /series entry (``stat_name``: the stat without its function, by default)."""
    match = re.match(r"^\w+\((.*)\)$", stat)
    name = stat_name or (match.group(1) if match else stat)
    return {"stat": stat, "stat_name": name, "target": name, "function": function,
            "schema": schema, "interval": interval,
            "datapoints": [] if datapoints is None else datapoints}
