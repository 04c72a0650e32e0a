"""torus_delete from the command line: refusals are one line and exit 2, a declined question
deletes nothing (SQLite; the other engines are in tests/functional/test_delete.py)."""
from tests.cli.tool_runner import one_line_error, tool, write_config
from torus.config import Configuration
from torus.processing import plan, store

CONFIG = """
SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': '^c\\\\.',
                      'intervals': {'m': {'step': 60}}}}
"""


def stored_config(tmp_path, names=("c.a", "c.b")):
    path = write_config(tmp_path / "conf.py", CONFIG % (tmp_path / "data.db"))
    config = Configuration([path])
    batches, _ = plan(config, [(name, 1, 1700000000) for name in names])
    for batch in batches.values():
        assert store(batch) == []
    return path, config.schemas["counts"].timeseries


def test_nothing_named_is_an_error(tmp_path):
    path, _ = stored_config(tmp_path)
    one_line_error(tool("torus_delete", "--config", path), 2,
                   "name what to delete: STAT arguments, --pattern or --regex")


def test_config_is_required():
    result = tool("torus_delete", "c.a")
    assert result.returncode == 2 and "--config" in result.stderr


def test_bad_patterns_unknown_schema_and_globs_as_names(tmp_path):
    path, series = stored_config(tmp_path)
    one_line_error(tool("torus_delete", "--config", path, "--pattern", "c.{a"), 2,
                   "bad pattern 'c.{a': '{' is never closed")
    one_line_error(tool("torus_delete", "--config", path, "--regex", "c.("), 2, "bad pattern")
    one_line_error(tool("torus_delete", "--config", path, "--schema", "nope", "c.a"), 2,
                   "--schema nope: no such schema (known: counts)")
    one_line_error(tool("torus_delete", "--config", path, "c.*", "--yes"), 2,
                   "use --pattern for a glob")
    one_line_error(tool("torus_delete", "--config", path, "c.a;broken", "--yes"), 2,
                   "not a valid tagged name")
    assert series.list() == ["c.a", "c.b"]


def test_end_of_input_declines(tmp_path):
    path, series = stored_config(tmp_path)
    result = tool("torus_delete", "--config", path, "--pattern", "c.*")  # stdin: nothing
    assert result.returncode == 1, result.stderr
    assert result.stdout.endswith("delete 2 stat(s) in 1 schema(s)? [y/N] \n"
                                  "declined: nothing deleted\n")
    assert series.list() == ["c.a", "c.b"]


def test_yes_deletes_and_says_so(tmp_path):
    path, series = stored_config(tmp_path)
    result = tool("torus_delete", "--config", path, "c.a", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("schema counts (sqlite:///%s): 1 stat(s)\n"
                             "  c.a  m 2023-11-14 22:13:00..2023-11-14 22:13:00\n"
                             "deleted c.a from counts\n"
                             "deleted 1 stat(s) from 1 schema(s)\n" % (tmp_path / "data.db"))
    assert series.list() == ["c.b"]
