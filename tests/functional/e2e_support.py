"""End-to-end helpers: real clients (statsd, collectd) feeding bin/karbon, read back from bin/torus.

Every daemon runs on ports picked at run time, writes its output to a log file
in the test's tmp directory, and is stopped (SIGTERM, then SIGKILL) when the test
ends; the ``stack`` fixture prints every log on teardown, which pytest shows when
the test failed. A client that cannot be found is skipped, or a failure when the
``CI`` environment variable is set (.ci/run installs them).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest

from tests.conftest import IN_CI, ROOT

#: seconds a daemon may take to start, and a polled value to reach its expected state
DEADLINE = 15
#: where .ci/run installs the npm packages (statsd)
CI_CACHE = os.environ.get("TORUS_CI_CACHE", "/opt/torus-ci")
STATSD_VERSION = "0.9"
#: karbon's last log line on exit: the totals
TOTALS = re.compile(r"stopped: (lines=.*)")


def unavailable(why: str) -> None:
    """Skip the test with ``why``; fail it under CI, where .ci/run should have installed it."""
    if IN_CI:
        pytest.fail("CI is set and %s (.ci/run installs it)" % why, pytrace=False)
    pytest.skip(why)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free right now on 127.0.0.1 for a client that cannot bind port 0 itself."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """One subprocess whose stdout and stderr go to ``<tmp>/<name>.log``."""

    def __init__(self, name: str, command: Sequence[str], folder, env=None, cwd=None):
        self.name = name
        self.command = list(command)
        self.log_path = os.path.join(str(folder), "%s.log" % name)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=cwd or ROOT,
                                         env=env or os.environ.copy())

    @property
    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return log.read()
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, pattern: str, timeout: float = DEADLINE) -> "re.Match":
        """The first match of ``pattern`` in the log; fails if the process exits or time is up."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log)
            if match:
                return match
            if not self.running():
                raise AssertionError("%s exited (status %s) before logging %r:\n%s"
                                     % (self.name, self.proc.returncode, pattern, self.log))
            if time.monotonic() > deadline:
                raise AssertionError("%s never logged %r in %ss:\n%s"
                                     % (self.name, pattern, timeout, self.log))
            time.sleep(0.05)

    def wait_quiet(self, quiet: float = 0.5, timeout: float = DEADLINE) -> None:
        """Wait until the log has not grown for ``quiet`` seconds (the daemon is idle)."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = os.path.getsize(self.log_path)
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError("%s kept logging for %ss:\n%s" % (self.name, timeout, self.log))

    def stop(self, timeout: float = DEADLINE) -> Optional[int]:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


class Stack:
    """The daemons of one test, stopped in reverse start order (clients before karbon)."""

    def __init__(self, folder):
        self.folder = folder
        self.storage = os.path.join(str(folder), "storage")
        self.daemons: List[Daemon] = []
        # examples/*.py read TORUS_STORAGE_DIR and TORUS_DEBUG
        self.env = dict(os.environ, TORUS_STORAGE_DIR=self.storage, PYTHONUNBUFFERED="1")

    def start(self, name: str, command: Sequence[str], **kwargs) -> Daemon:
        daemon = Daemon(name, command, self.folder, **kwargs)
        self.daemons.append(daemon)
        return daemon

    def karbon(self, configs: Sequence[str], udp: bool = False) -> "Karbon":
        command = [sys.executable, os.path.join(ROOT, "bin", "karbon"), "--tcp", "127.0.0.1:0"]
        if udp:
            command += ["--udp", "127.0.0.1:0"]
        for config in configs:
            command += ["--config", os.path.join(ROOT, config)]
        # DEBUG 2: karbon logs every line it receives (RECV) and where it stored it
        daemon = self.start("karbon", command, env=dict(self.env, TORUS_DEBUG="2"))
        return Karbon(daemon, udp)

    def torus(self, configs: Sequence[str]) -> "Torus":
        command = [sys.executable, os.path.join(ROOT, "bin", "torus"), "--tcp", "127.0.0.1:0"]
        for config in configs:
            command += ["--config", os.path.join(ROOT, config)]
        daemon = self.start("torus", command, env=dict(self.env, TORUS_DEBUG="0"))
        return Torus(daemon)

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()

    def logs(self) -> str:
        return "\n".join("----- %s: %s (exit status %s)\n%s" % (
            d.name, " ".join(d.command), d.proc.returncode, d.log) for d in self.daemons)


class Karbon:
    """bin/karbon started by a Stack: its ports and, once stopped, its totals."""

    def __init__(self, daemon: Daemon, udp: bool):
        self.daemon = daemon
        line = daemon.wait_for(r"karbon \S+ listening on (.*) \(pid \d+\)").group(1)
        self.port = int(re.search(r"tcp 127\.0\.0\.1:(\d+)", line).group(1))
        self.udp_port = int(re.search(r"udp 127\.0\.0\.1:(\d+)", line).group(1)) if udp else None

    def stop(self) -> Dict[str, int]:
        """Stop karbon (status 0 expected); its totals: {'lines': ..., 'unmatched': ...}."""
        status = self.daemon.stop()
        assert status == 0, "karbon exited with status %s:\n%s" % (status, self.daemon.log)
        match = TOTALS.search(self.daemon.log)
        assert match, "karbon logged no totals:\n%s" % self.daemon.log
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


class Torus:
    """bin/torus started by a Stack, and a small JSON client for it."""

    def __init__(self, daemon: Daemon):
        self.daemon = daemon
        self.url = daemon.wait_for(r"listening on (http://\S+)").group(1)

    def get(self, command: str, params: Sequence = ()) -> Any:
        """GET ``/command?params`` (a list of pairs: ``stat`` may repeat); the decoded JSON."""
        url = "%s/%s?%s" % (self.url, command, urllib.parse.urlencode(list(params)))
        try:
            with urllib.request.urlopen(url, timeout=DEADLINE) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as err:
            raise AssertionError("GET %s: %s %s" % (url, err.code, err.read()[:500]))

    def collapsed(self, stats: Sequence[str], start: int) -> Dict[str, Any]:
        """Every stat's buckets from ``start`` to now merged into one value: {stat: value or None}.

        Counts are summed, gauges keep the last value, histograms merge into
        ``{"value": count}``. A stat with no data reads as ``None`` (gauge), ``0``
        (count) or ``{}`` (histogram).
        """
        params = [("stat", stat) for stat in stats]
        params += [("interval", "hour"), ("format", "json"), ("collapse", "true"),
                   ("start", str(start))]
        answer = {}
        for entry in self.get("series", params):
            values = list(entry["datapoints"].values())
            assert len(values) <= 1, entry
            answer[entry["stat"]] = values[0] if values else None
        return answer

    def list(self, schema: Optional[str] = None) -> List[str]:
        return self.get("list", [("schema", schema)] if schema else [])


def poll(read: Callable[[], Any], expected: Any, what: str, timeout: float = DEADLINE) -> Any:
    """Call ``read`` until it returns ``expected`` (at most ``timeout`` s), then assert equality.

    The assertion shows the last value read next to the expected one.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if value != expected and isinstance(value, dict) and isinstance(expected, dict):
        wrong = {key: {"read": value.get(key), "expected": expected.get(key)}
                 for key in sorted(set(value) | set(expected))
                 if value.get(key) != expected.get(key)}
        raise AssertionError("%s: still different after %ss:\n%s"
                             % (what, timeout, json.dumps(wrong, indent=1, sort_keys=True)))
    assert value == expected, "%s: still different after %ss" % (what, timeout)
    return value


def without_zero(histogram: Optional[Dict[str, int]]) -> Dict[str, int]:
    """A histogram without its ``"0"`` entry (statsd sends 0 for idle counters, sets, count_ps)."""
    return {value: count for value, count in (histogram or {}).items() if value != "0"}


@pytest.fixture
def stack(tmp_path):
    """A Stack in the test's tmp directory; afterwards every daemon stopped, every log printed."""
    daemons = Stack(tmp_path)
    yield daemons
    daemons.stop()
    print(daemons.logs())  # shown by pytest only when the test failed


# -- finding the clients ---------------------------------------------------------------------

def statsd_command() -> List[str]:
    """``[node, .../statsd/stats.js]``; skips (fails under CI) when Node.js or statsd is missing.

    statsd is looked for in ``$TORUS_STATSD`` (its folder or stats.js), then under
    ``$TORUS_CI_CACHE/node_modules`` (default /opt/torus-ci, where .ci/run installs it),
    then in the global npm folders, then as ``statsd`` on PATH.
    """
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        unavailable("Node.js (node) is not installed")
    candidates = [os.environ.get("TORUS_STATSD", ""),
                  os.path.join(CI_CACHE, "node_modules", "statsd"),
                  "/usr/local/lib/node_modules/statsd", "/usr/lib/node_modules/statsd"]
    on_path = shutil.which("statsd")
    if on_path:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(on_path))))
    for candidate in filter(None, candidates):
        script = candidate if candidate.endswith(".js") else os.path.join(candidate, "stats.js")
        package = os.path.join(os.path.dirname(script), "package.json")
        if os.path.isfile(script) and os.path.isfile(package):
            with open(package) as handle:
                version = json.load(handle).get("version", "")
            if not version.startswith(STATSD_VERSION + "."):
                unavailable("statsd %s at %s is not %s.x" % (version, script, STATSD_VERSION))
            return [node, script]
    unavailable("the statsd npm package is not installed (npm install --prefix %s statsd@%s; "
                "or set TORUS_STATSD)" % (CI_CACHE, STATSD_VERSION))
    raise AssertionError("unreachable")


#: collectd plugins the test loads
COLLECTD_PLUGINS = ("logfile", "cpu", "memory", "load", "write_graphite")


def collectd_command() -> List[str]:
    """``[collectd]``; skips (fails under CI) when collectd or one of its plugins is missing.

    ``$TORUS_COLLECTD`` names the binary; else ``collectd`` on PATH or in /usr/sbin
    (Debian package collectd-core).
    """
    binary = os.environ.get("TORUS_COLLECTD") or shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.access(binary, os.X_OK):
        unavailable("collectd is not installed (apt-get install collectd-core)")
    # the plugins of a packaged collectd: only checked where Debian puts them
    plugin_dir = "/usr/lib/collectd"
    if binary == "/usr/sbin/collectd" and os.path.isdir(plugin_dir):
        missing = [p for p in COLLECTD_PLUGINS
                   if not os.path.exists(os.path.join(plugin_dir, p + ".so"))]
        if missing:
            unavailable("collectd plugins missing from %s: %s" % (plugin_dir, ", ".join(missing)))
    return [binary]
