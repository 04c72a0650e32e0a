"""The torus command line: help, argument errors and start-up failures as one line, exit != 0."""
import os
import socket
import subprocess
import sys

from tests.conftest import ROOT

TORUS = os.path.join(ROOT, "bin", "torus")


def torus(*args):
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run([sys.executable, TORUS, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


def one_line_error(result, *fragments):
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_matches_the_seed_usage():
    result = torus("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: torus [-h] [--tcp TCP] [--config CONFIG]\n")
    text = " ".join(result.stdout.split())
    assert "Torus, a web server for mining data out of kairos" in text
    assert 'Defaults to "localhost:8080".' in text
    assert "Can be called multiple times for multiple configuration files." in text


def test_console_script_main_is_the_same(capsys):
    from torus.query_server import main
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.startswith("usage: torus [-h] [--tcp TCP] [--config CONFIG]")


def test_bad_arguments():
    one_line_error(torus("--tcp", "localhost:http", "--config", "x.py"), "--tcp", "not a TCP binding")
    one_line_error(torus("--tcp", "70000", "--config", "x.py"), "out of range")
    one_line_error(torus("--bogus"), "unrecognized arguments: --bogus")


def test_missing_or_broken_configuration(tmp_path):
    one_line_error(torus("--tcp", "127.0.0.1:0"), "error:", "no configuration file given")
    one_line_error(torus("--tcp", "127.0.0.1:0", "--config", str(tmp_path / "nope.py")),
                   "error:", "nope.py does not exist")
    broken = tmp_path / "broken.py"
    broken.write_text("SCHEMAS = {'x': {'type': 'count'}}\n")
    one_line_error(torus("--tcp", "127.0.0.1:0", "--config", str(broken)), "error:", "'x'")


def test_port_in_use(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("SCHEMAS = {}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_error(torus("--tcp", "127.0.0.1:%d" % port, "--config", str(path)),
                       "error: cannot listen on 127.0.0.1:%d" % port)
