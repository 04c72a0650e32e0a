"""torus_token: the token printed once, and the entry that, pasted into TOKENS, lets it in."""
import datetime as dt
import re

import pytest

from tests.cli.tool_runner import one_line_error, tool
from torus import access
from torus.config import Configuration
from torus.token_tool import _main


def test_the_printed_entry_loads_and_grants_what_was_asked(tmp_path):
    result = tool("torus_token", "grafana", "--read", "stats.teamA.*,stats_counts.teamA.*",
                  "--write", "stats.teamA.*", "--expires", "2030-06-30")
    assert result.returncode == 0, result.stderr
    token, comment, entry = result.stdout.splitlines()
    assert re.fullmatch(r"torus_[A-Za-z0-9_-]{43}", token)
    assert comment.startswith("# ") and "SIGHUP" in comment
    assert token not in entry and access.token_digest(token) in entry
    path = tmp_path / "conf.py"
    path.write_text("SCHEMAS = {}\nTOKENS = {\n%s\n}\n" % entry)
    config = Configuration([str(path)])
    environ = {"HTTP_AUTHORIZATION": "Bearer " + token}
    grant = access.authorize(config, environ, "GET", "series", dt.datetime(2030, 6, 30, 23, tzinfo=dt.timezone.utc).timestamp())
    assert grant.name == "grafana"
    assert access.readable(grant, "stats_counts.teamA.x") and not access.readable(grant, "stats.teamB.x")
    assert access.writable(grant, "stats.teamA.x") and not access.writable(grant, "stats_counts.teamA.x")
    with pytest.raises(access.Unauthorized, match="expired"):
        access.authorize(config, environ, "GET", "series", dt.datetime(2030, 7, 1, 0, 0, 1,
                                                                       tzinfo=dt.timezone.utc).timestamp())


def test_every_token_is_new():
    first, second = (tool("torus_token", "x", "--read", "*").stdout.split()[0] for _ in range(2))
    assert first != second


def test_days_counts_today(capsys):
    assert _main(["ci", "--read", "a.*", "--days", "1"], today=dt.date(2026, 2, 28)) == 0
    assert "'expires': '2026-02-28'" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["x"], "--read and/or --write"),
    (["x", "--read", "a.[b"], "never closed"),
    (["x", "--read", "a", "--expires", "tomorrow"], "is not a date"),
    (["x", "--read", "a", "--days", "0"], "--days must be at least 1"),
])
def test_mistakes_are_one_line(args, fragment):
    one_line_error(tool("torus_token", *args), 2, fragment)


def test_days_and_expires_exclude_each_other():
    result = tool("torus_token", "x", "--read", "a", "--days", "3", "--expires", "2030-01-01")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
