"""The torus command line: help and the console entry point (test_daemon_cli has the errors
it shares with karbon)."""
from tests.cli.tool_runner import tool


def torus(*args):
    return tool("torus", *args, timeout=60)


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
