"""What the karbon and torus command lines share: a bad --tcp, a missing or broken
configuration and a busy port are each one line on stderr and exit 2."""
import socket

import pytest

from tests.cli.tool_runner import one_line_error, tool

#: (command, what "cannot listen on" names before the address)
DAEMONS = [("karbon", "TCP "), ("torus", "")]


@pytest.fixture(params=DAEMONS, ids=[name for name, _ in DAEMONS])
def daemon(request):
    name, protocol = request.param

    def run(*args):
        return tool(name, *args, timeout=60)
    run.protocol = protocol
    return run


def test_bad_tcp_binding(daemon):
    one_line_error(daemon("--tcp", "localhost:http", "--config", "x.py"), 2, "--tcp",
                   "not a TCP binding")
    one_line_error(daemon("--tcp", "99999", "--config", "x.py"), 2, "out of range")
    one_line_error(daemon("--bogus"), 2, "unrecognized arguments: --bogus")


def test_missing_or_broken_configuration(daemon, tmp_path):
    one_line_error(daemon("--tcp", "127.0.0.1:0"), 2, "error:", "no configuration file given")
    one_line_error(daemon("--tcp", "127.0.0.1:0", "--config", str(tmp_path / "nope.py")), 2,
                   "error:", "nope.py does not exist")
    broken = tmp_path / "broken.py"
    broken.write_text("SCHEMAS = {'x': {'type': 'count'}}\n")
    one_line_error(daemon("--tcp", "127.0.0.1:0", "--config", str(broken)), 2, "error:", "'x'")


def test_port_in_use(daemon, tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("SCHEMAS = {}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_error(daemon("--tcp", "127.0.0.1:%d" % port, "--config", str(path)), 2,
                       "error: cannot listen on %s127.0.0.1:%d" % (daemon.protocol, port))
