"""graphite-web as a peer: whisper files written, the tag database filled, served under gunicorn.

One implementation for the benchmarks (``peers.py``, ``query_bench.py``,
``render_bench.py``) and the CI comparison (``tests/functional/graphite_oracle.py``).
graphite-web is Debian's package and runs under Debian's ``/usr/bin/python3`` (not the
interpreter running this module): the whisper writer, the database migration and the
tag registration are run there in subprocesses. No carbon-cache runs beside it: its cache
is taken as empty (``WSGI``).

Debian's graphite-web 1.1.8 needs two things on Python 3.11 that the settings module
written here provides: ``inspect.getargspec``/``formatargspec`` (removed in 3.11, used by
``/functions``), and a migrated Django database (used by ``/metrics/find`` and the tag
database). Tagged names (``name;k=v``) go to whisper under graphite's ``_tagged`` tree
and are registered with ``POST /tags/tagMultiSeries``.

This module is self-contained (the standard library only) so that the benchmarks and the
tests both import it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

SYSTEM_PYTHON = "/usr/bin/python3"
#: Debian packages graphite-web needs to run here
PACKAGES = ("graphite-web", "python3-whisper", "python3-django", "python3-gunicorn")

SETTINGS = """
import inspect


def _getargspec(func):
    spec = inspect.getfullargspec(func)
    return spec.args, spec.varargs, spec.varkw, spec.defaults


def _formatargspec(args, varargs=None, varkw=None, defaults=None):
    # graphite-web 1.1.8 shows '(a, b=1, *args, **kwargs)' in /functions
    defaults = defaults or ()
    first_default = len(args) - len(defaults)
    parts = [name if i < first_default else '%s=%r' % (name, defaults[i - first_default])
             for i, name in enumerate(args)]
    if varargs:
        parts.append('*' + varargs)
    if varkw:
        parts.append('**' + varkw)
    return '(' + ', '.join(parts) + ')'


if not hasattr(inspect, 'getargspec'):
    inspect.getargspec = _getargspec
if not hasattr(inspect, 'formatargspec'):
    inspect.formatargspec = _formatargspec

SECRET_KEY = 'torus-peer'
GRAPHITE_ROOT = '/usr/share/graphite-web'
STORAGE_DIR = {folder!r}
WHISPER_DIR = {folder!r} + '/whisper'
STANDARD_DIRS = [WHISPER_DIR]
LOG_DIR = {folder!r} + '/log'
INDEX_FILE = {folder!r} + '/index'
CARBONLINK_HOSTS = []
DEFAULT_XFILES_FACTOR = 0
TIME_ZONE = {tz!r}
TAGDB = 'graphite.tags.localdatabase.LocalDatabaseTagDB'
TAGDB_CACHE_DURATION = 0
DATABASES = {{'default': {{'NAME': {folder!r} + '/graphite.db',
                          'ENGINE': 'django.db.backends.sqlite3'}}}}
"""

# graphite-web's WSGI application without carbon-cache: its reader asks carbon-cache's cache
# (CarbonLink) for unwritten points on every fetch, and with no carbon-cache configured that
# raises and logs a traceback per series read. A carbon-cache with an empty cache answers
# "nothing": the reader is given that answer directly.
WSGI = """
from graphite.wsgi import application  # noqa: F401 (sets Django up)
import graphite.readers.whisper as _reader


def _nothing_cached(metric, start, step, values, *args, **kwargs):
    return values


_reader.merge_with_carbonlink = _nothing_cached
"""

# run by Debian's python3, which has whisper and graphite: {name: [[ts, value]]} from stdin,
# one file per name with its schema's archives and aggregation
WHISPER_WRITER = """
import sys, json, os, whisper
from graphite.tags.utils import TaggedSeries
folder, spec = sys.argv[1], json.load(sys.stdin)
for name, points in spec['series'].items():
    schema = spec['schemas'][spec['schema_of'].get(name, 'default')]
    archives = [tuple(a) for a in schema['archives']]
    if ';' in name:
        name = TaggedSeries.parse(name).path
    path = os.path.join(folder, TaggedSeries.encode(name, os.sep)) + '.wsp'
    os.makedirs(os.path.dirname(path), exist_ok=True)
    whisper.create(path, archives, xFilesFactor=schema['xff'],
                   aggregationMethod=schema['method'])
    whisper.update_many(path, [tuple(p) for p in points if p[1] is not None])
"""


def available() -> str:
    """'' when graphite-web can be run here, else why not."""
    if not os.path.exists(SYSTEM_PYTHON):
        return "no %s" % SYSTEM_PYTHON
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import graphite, whisper, django, gunicorn"],
                           capture_output=True, text=True)
    if probe.returncode:
        return "graphite-web, whisper, django or gunicorn missing for %s: %s (apt-get install %s)" % (
            SYSTEM_PYTHON, probe.stderr.strip().splitlines()[-1:], " ".join(PACKAGES))
    return ""


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 20) -> Optional[int]:
    """SIGTERM ``proc`` (gunicorn's master stops its workers), SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("graphite-web exited with %s: %s" % (proc.returncode, _tail(log)))
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
                return
        except (OSError, urllib.error.URLError) as err:
            last = err
        time.sleep(0.2)
    raise RuntimeError("graphite-web did not answer %s in %.0f s (%s): %s"
                       % (url, timeout, last, _tail(log)))


def _tail(path: str, size: int = 3000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


# -- the peer ----------------------------------------------------------------------------------
class GraphiteWeb:
    """graphite-web over the whisper files of ``folder``, under gunicorn with ``workers``.

    ``write(series, schemas, schema_of)`` then ``start(workers)``; ``tag(names)`` once
    started registers tagged names; ``stop()``. ``url`` is the base URL once started.
    """

    def __init__(self, folder: str, tz: str = "UTC"):
        self.folder = folder
        self.tz = tz
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        os.makedirs(os.path.join(folder, "log"), exist_ok=True)
        os.makedirs(os.path.join(folder, "whisper"), exist_ok=True)
        with open(os.path.join(folder, "torus_peer_settings.py"), "w") as handle:
            handle.write(SETTINGS.format(folder=folder, tz=tz))
        with open(os.path.join(folder, "torus_peer_wsgi.py"), "w") as handle:
            handle.write(WSGI)
        self.env = dict(os.environ, PYTHONPATH=folder, DJANGO_SETTINGS_MODULE="graphite.settings",
                        GRAPHITE_SETTINGS_MODULE="torus_peer_settings", TZ=tz)
        self.env.pop("PYTHONHOME", None)
        self.log = os.path.join(folder, "gunicorn.log")

    def write(self, series: Dict[str, Iterable[Tuple[int, Optional[float]]]],
              schemas: Dict[str, dict], schema_of: Optional[Dict[str, str]] = None) -> None:
        """Whisper files for ``series`` ({name: [(timestamp, value or None)]}).

        ``schemas``: {schema: {"archives": [(step, points)...], "method": "average",
        "xff": 0}}; ``schema_of``: {name: schema}, "default" for the names not in it.
        """
        spec = {"schemas": {k: dict(v, archives=[list(a) for a in v["archives"]])
                            for k, v in schemas.items()},
                "schema_of": dict(schema_of or {}),
                "series": {name: [list(p) for p in points] for name, points in series.items()}}
        subprocess.run([SYSTEM_PYTHON, "-c", WHISPER_WRITER, os.path.join(self.folder, "whisper")],
                       input=json.dumps(spec), text=True, check=True, timeout=600, env=self.env)

    def migrate(self) -> None:
        """Create graphite-web's Django database (the tag database lives there)."""
        proc = subprocess.run([SYSTEM_PYTHON, "-m", "django", "migrate", "--noinput",
                               "--run-syncdb"], env=self.env, cwd=self.folder,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode:
            raise RuntimeError("graphite-web's migrate failed: %s%s" % (proc.stdout, proc.stderr))

    def start(self, workers: int = 1, probe: str = "/version", timeout: float = 90) -> str:
        """Serve under gunicorn (``workers`` sync workers) until ``probe`` answers; the URL."""
        if not os.path.exists(os.path.join(self.folder, "graphite.db")):
            self.migrate()
        port = free_port()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, "-m", "gunicorn", "--workers", str(workers),
                 "--bind", "127.0.0.1:%d" % port, "--log-level", "warning",
                 "torus_peer_wsgi:application"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder,
                start_new_session=True)
        self.url = "http://127.0.0.1:%d" % port
        try:
            _wait_http(self.url + probe, timeout, self.proc, self.log)
        except Exception:
            self.stop()
            raise
        return self.url

    def tag(self, names: Sequence[str]) -> None:
        """Register tagged names in graphite-web's tag database (what carbon does on create)."""
        names = [n for n in names if ";" in n]
        if not names:
            return
        body = urllib.parse.urlencode([("path", n) for n in names]).encode()
        request = urllib.request.Request(self.url + "/tags/tagMultiSeries", data=body,
                                         method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            got = json.loads(response.read())
        if len(got) != len(names):
            raise RuntimeError("graphite-web tagged %d of %d names: %s" % (len(got), len(names), got))

    def stop(self) -> Optional[int]:
        if self.proc is None:
            return None
        code = stop(self.proc)
        self.proc = None
        return code


def start_graphite(folder: str, series: Dict[str, List[Tuple[int, float]]], workers: int,
                   probe: str, archives=((3600, 24 * 30),), method: str = "sum"
                   ) -> Tuple[subprocess.Popen, str]:
    """Whisper files for ``series`` (one schema: ``archives``, ``method``, xFilesFactor 0)
    served by graphite-web under gunicorn until ``probe`` answers: ``(process, base URL)``;
    stop the process with ``stop`` (or ``bench_support.stop_process``)."""
    peer = GraphiteWeb(folder)
    peer.write(series, {"default": {"archives": archives, "method": method, "xff": 0}})
    peer.start(workers, probe)
    return peer.proc, peer.url
