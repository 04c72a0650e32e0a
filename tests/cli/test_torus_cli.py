"""The torus command line: help and the console entry point (test_daemon_cli has the errors
it shares with karbon)."""
import pytest

from tests.cli.tool_runner import one_line_error, tool


def torus(*args):
    return tool("torus", *args, timeout=60)


def test_help_matches_the_seed_usage():
    """The seed's three options first, then the HTTP limits with their defaults."""
    result = torus("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: torus [-h] [--tcp TCP] [--config CONFIG] [--max-connections N]\n")
    text = " ".join(result.stdout.split())
    assert "Torus, a web server for mining data out of kairos" in text
    assert 'Defaults to "localhost:8080".' in text
    assert "Can be called multiple times for multiple configuration files." in text
    for flag, default in [("--max-connections N", 5000), ("--header-timeout SECONDS", 10),
                          ("--body-timeout SECONDS", 30), ("--idle-timeout SECONDS", 60),
                          ("--send-timeout SECONDS", 30)]:
        assert flag in text
        assert "Defaults to %d." % default in text.split(flag)[-1].split("--")[0]


@pytest.mark.parametrize("args,fragment", [
    (["--max-connections", "0"], "--max-connections: '0' is not a whole number, at least 1"),
    (["--header-timeout", "0"], "--header-timeout: '0' is not a number of seconds above 0"),
    (["--idle-timeout", "-1"], "--idle-timeout: '-1' is not a number of seconds above 0"),
    (["--body-timeout", "nan"], "--body-timeout: 'nan' is not a number of seconds above 0"),
    (["--send-timeout", "soon"], "--send-timeout: 'soon' is not a number of seconds above 0"),
])
def test_bad_limits_are_one_line_errors(args, fragment):
    one_line_error(torus("--config", "x.py", *args), 2, fragment)


def test_console_script_main_is_the_same(capsys):
    from torus.query_server import main
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.startswith("usage: torus [-h] [--tcp TCP] [--config CONFIG] ")
