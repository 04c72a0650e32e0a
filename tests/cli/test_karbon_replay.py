"""karbon_replay from the command line: what it stores, what it keeps, and its errors (SQLite)."""
import json

from tests.cli.tool_runner import one_line_error, tool, write_config
from torus.config import Configuration

CONFIG = """
SCHEMAS = {'counts': {'type': 'count', 'host': 'sqlite:///%s', 'match': '^c\\\\.',
                      'intervals': {'m': {'step': 60}}}}
"""


def header(batch, points, schema="counts"):
    return "# karbon-dead-letter %s\n" % json.dumps(
        {"schema": schema, "batch": batch, "now": 1700000000, "points": points, "reason": "test"})


def test_parts_are_stored_once_however_often_replayed(tmp_path):
    config = write_config(tmp_path / "conf.py", CONFIG % (tmp_path / "data.db"))
    letters = tmp_path / "dead"
    letters.mkdir()
    text = header("p.1", 2) + "c.a 2 1700000000\nc.a 3 1700000000\n" + header("p.2", 1) + \
        "c.b 7 1700000000\n"
    for _ in range(2):  # the same file replayed twice (karbon wrote the part twice, say)
        (letters / "counts.carbon").write_text(text)
        result = tool("karbon_replay", "--config", config, letters)
        assert result.returncode == 0, result.stderr
        assert "2 parts, 3 points: 3 stored (or found already stored), 0 refused" in result.stdout
        assert not (letters / "counts.carbon").exists()
    counts = Configuration([config]).schemas["counts"].timeseries
    assert counts.get("c.a", "m", timestamp=1700000000) == {1699999980: 5}
    assert counts.get("c.b", "m", timestamp=1700000000) == {1699999980: 7}


def test_unknown_schemas_are_kept_and_lines_without_header_are_flagged(tmp_path):
    config = write_config(tmp_path / "conf.py", CONFIG % (tmp_path / "data.db"))
    (tmp_path / "counts.carbon").write_text("c.x 1 1700000000\n")  # no header: schema from the name
    (tmp_path / "gone.carbon").write_text(header("g.1", 1, schema="gone") + "c.y 1 1700000000\n")
    result = tool("karbon_replay", "--config", config, tmp_path)
    assert result.returncode == 1
    assert "2 parts, 2 points: 1 stored" in result.stdout and "1 kept for a later run" in result.stdout
    assert "had no batch id" in result.stdout
    assert "schema 'gone'" in result.stderr
    assert (tmp_path / "gone.carbon").read_text().endswith("c.y 1 1700000000\n")
    dry = tool("karbon_replay", "--config", config, "--dry-run", tmp_path / "gone.carbon")
    assert dry.returncode == 0 and "batch g.1, 1 points (schema not configured)" in dry.stdout


def test_errors_are_one_line(tmp_path):
    config = write_config(tmp_path / "conf.py", CONFIG % (tmp_path / "data.db"))
    one_line_error(tool("karbon_replay", "--config", config, tmp_path / "nope"), 2,
                   "no such file or directory")
    (tmp_path / "bad.carbon").write_text("# karbon-dead-letter {not json\n")
    one_line_error(tool("karbon_replay", "--config", config, tmp_path / "bad.carbon"), 2,
                   "line 1: a header that cannot be read")
    assert (tmp_path / "bad.carbon").exists()  # kept as it was
    one_line_error(tool("karbon_replay", tmp_path), 2, "--config")


def test_an_interrupted_or_killed_replay_run_again_counts_once(tmp_path, redis_server, monkeypatch):
    """Parts replayed before an interruption are not stored twice, even long after."""
    from torus import replay
    from torus.config import ConfigHolder
    config = write_config(tmp_path / "conf.py", """
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'prefix': 'r', 'match': '^c\\\\.',
                              'intervals': {'m': {'step': 60}}}}
        """ % redis_server.url)
    letters = tmp_path / "dead"
    letters.mkdir()
    text = "".join(header("p.%d" % n, 10) + "c.a 1 1700000000\n" * 10 for n in range(3))
    (letters / "counts.carbon").write_text(text)
    holder = ConfigHolder([config])
    real = replay.replay_part
    calls = []

    def interrupted(config, part, totals):
        calls.append(part.batch)
        if part.batch == "p.2":
            raise KeyboardInterrupt
        return real(config, part, totals)

    monkeypatch.setattr(replay, "replay_part", interrupted)
    try:
        replay.replay_file(holder.current, str(letters / "counts.carbon"), replay.Totals())
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    left = (letters / "counts.carbon").read_text()
    assert left.count("# karbon-dead-letter") == 1 and '"batch": "p.2"' in left  # only p.2 went back
    client = redis_server.client()
    assert client.ttl("r:!batch:p.0") > 3600  # kept for batch_ttl, not a minute
    # killed: the whole file is left as .replaying, and the next run replays all of it
    (letters / "counts.carbon").unlink()
    (letters / "counts.carbon.replaying").write_text(text)
    result = tool("karbon_replay", "--config", config, letters)
    assert result.returncode == 0, result.stderr
    assert "3 parts, 30 points" in result.stdout
    assert not list(letters.iterdir())
    counts = Configuration([config]).schemas["counts"].timeseries
    assert counts.get("c.a", "m", timestamp=1700000000) == {1699999980: 30}
