"""The karbon command line: help, argument errors and start-up failures as one line, exit != 0."""
import os
import socket
import subprocess
import sys

from tests.conftest import ROOT

KARBON = os.path.join(ROOT, "bin", "karbon")


def karbon(*args, cwd=None):
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run([sys.executable, KARBON, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd)


def test_help_shows_every_option():
    result = karbon("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: karbon [-h] [--tcp TCP] [--udp UDP] [--config CONFIG]")
    text = " ".join(result.stdout.split())  # unwrapped
    assert "Karbon, a Carbon-replacement data collection server" in text
    for option in ("--tcp TCP", "--udp UDP", "--config CONFIG", "--reuse-port", "--dead-letter DIR",
                   "--queue-size MiB", 'Defaults to "localhost:2003"'):
        assert option in text


def one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_tcp_binding():
    one_line_error(karbon("--tcp", "localhost:http", "--config", "x.py"), "--tcp", "not a TCP binding")
    one_line_error(karbon("--tcp", "99999", "--config", "x.py"), "out of range")


def test_missing_or_no_configuration(tmp_path):
    one_line_error(karbon("--tcp", "127.0.0.1:0", "--config", str(tmp_path / "nope.py")),
                   "error:", "nope.py does not exist")
    one_line_error(karbon("--tcp", "127.0.0.1:0"), "error:", "no configuration file given")


def test_broken_configuration(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("SCHEMAS = {'x': {'type': 'count'}}\n")
    one_line_error(karbon("--tcp", "127.0.0.1:0", "--config", str(path)), "error:", "'x'")


def test_port_in_use(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("SCHEMAS = {}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_error(karbon("--tcp", "127.0.0.1:%d" % port, "--config", str(path)),
                       "error: cannot listen on TCP 127.0.0.1:%d" % port)


def test_bad_queue_size():
    one_line_error(karbon("--queue-size", "0", "--config", "x.py"), "at least 1 MiB")
