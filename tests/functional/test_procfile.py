"""The quick start: ``honcho start -f Procfile.dev`` runs karbon and torus on examples/statsd.py.

A Carbon line sent to karbon is read back from torus' /series. Ports are 0 (each
daemon picks a free one and says which), storage goes to a temporary directory.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT

#: how long to wait for the daemons to start and for a point to become readable
PATIENCE = 30


def _honcho():
    try:
        import honcho  # noqa: F401
    except ImportError:
        pytest.skip("honcho is not installed (pip install -r development.pip)")
    return [sys.executable, "-m", "honcho"]


def _require(*programs):
    for program in programs:
        if not os.path.exists(os.path.join(ROOT, "bin", program)):
            pytest.skip("bin/%s does not exist yet" % program)


class Honcho:
    """A running ``honcho start``; its output collected line by line."""

    def __init__(self, procfile, env):
        self.lines = []
        self.process = subprocess.Popen(
            _honcho() + ["--no-colour", "start", "-f", procfile], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern):
        deadline = time.monotonic() + PATIENCE
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail("no line matching %r from honcho:\n%s" % (pattern, "\n".join(self.lines)))

    def stop(self):
        """SIGTERM to honcho, which stops both daemons; the whole group is killed if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.reader.join(timeout=5)
        return "\n".join(self.lines)


def _environment(tmp_path):
    env = dict(os.environ)
    env.update(TORUS_STORAGE_DIR=str(tmp_path / "storage"), KARBON_TCP="127.0.0.1:0",
               TORUS_TCP="127.0.0.1:0", PYTHONUNBUFFERED="1")
    # "python3" in Procfile.dev must be this interpreter (the one with torus' dependencies)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def _series(port, stat, when):
    """The hour bucket holding ``when``, condensed."""
    query = urllib.parse.urlencode({"stat": stat, "interval": "hour", "format": "json",
                                    "condense": "true", "start": when, "steps": 1})
    with urllib.request.urlopen("http://127.0.0.1:%d/series?%s" % (port, query), timeout=10) as reply:
        return json.loads(reply.read())


def _carbon_to_series(honcho, token):
    karbon = int(honcho.wait_for(r"karbon\.1\s+\| karbon .* listening on tcp 127\.0\.0\.1:(\d+)").group(1))
    torus = int(honcho.wait_for(r"torus\.1\s+\| torus .* listening on http://127\.0\.0\.1:(\d+)").group(1))
    now = int(time.time())
    gauge, count = "stats.gauges.%s.depth" % token, "stats_counts.%s.hits" % token
    with socket.create_connection(("127.0.0.1", karbon), timeout=10) as connection:
        connection.sendall(("%s 42 %d\n%s 3 %d\n%s 4 %d\n" % (gauge, now, count, now, count, now))
                           .encode())
    deadline = time.monotonic() + PATIENCE
    while True:
        gauges, counts = _series(torus, gauge, now)[0], _series(torus, count, now)[0]
        if list(gauges["datapoints"].values()) == [42] and list(counts["datapoints"].values()) == [7]:
            break
        if time.monotonic() > deadline:
            pytest.fail("karbon's points never reached torus: %r %r" % (gauges, counts))
        time.sleep(0.2)
    assert gauges["schema"] == "gauges" and counts["schema"] == "counts"


def _run_procfile(procfile, env, token):
    """Start ``procfile``, carry a point from karbon to torus, stop: both daemons exit 0."""
    honcho = Honcho(procfile, env)
    try:
        _carbon_to_series(honcho, token)
    finally:
        output = honcho.stop()
    assert "karbon.1 stopped (rc=0)" in output, output
    assert "torus.1 stopped (rc=0)" in output, output


def test_procfile_dev_quick_start(tmp_path, unique_name):
    _require("karbon", "torus")
    _run_procfile("Procfile.dev", _environment(tmp_path), unique_name)
    assert {"counts.db", "gauges.db"} <= set(os.listdir(tmp_path / "storage"))


def _console_scripts(folder):
    """What ``pip install`` puts on PATH: a script per setup.py entry point calling its main."""
    with open(os.path.join(ROOT, "setup.py")) as setup:
        entries = re.findall(r'"(\w+) = ([\w.]+):(\w+)"', setup.read())
    assert {"karbon", "torus"} <= {name for name, _, _ in entries}
    folder.mkdir()
    for name, module, function in entries:
        script = folder / name
        script.write_text("#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n"
                          % (sys.executable, module, function, function))
        script.chmod(0o755)
    return str(folder)


def test_installed_procfile(tmp_path, unique_name):
    """Procfile runs the console scripts: the same commands as Procfile.dev, without bin/."""
    _require("karbon", "torus")
    check = subprocess.run(_honcho() + ["check", "-f", "Procfile"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0 and "Valid procfile detected (karbon, torus)" in check.stderr
    with open(os.path.join(ROOT, "Procfile")) as installed, \
            open(os.path.join(ROOT, "Procfile.dev")) as dev:
        assert installed.read() == dev.read().replace("python3 bin/", "")
    env = _environment(tmp_path)
    if not (shutil.which("karbon") and shutil.which("torus")):  # not installed: as pip would
        env["PATH"] = _console_scripts(tmp_path / "scripts") + os.pathsep + env["PATH"]
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    _run_procfile("Procfile", env, unique_name)
