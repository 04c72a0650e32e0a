"""processing.store: a value the engine refuses costs only itself, found in few round trips."""
import textwrap

from torus.config import Configuration
from torus.processing import plan, store


def test_refused_values_are_isolated_and_the_rest_stored(tmp_path):
    path = tmp_path / "conf.py"
    # write_func passes text through, so the float column of SQLite refuses "bad" values
    path.write_text(textwrap.dedent("""
        SCHEMAS = {'g': {'type': 'series', 'host': 'sqlite:///%s', 'match': '.',
                         'write_func': lambda v: v, 'intervals': {'m': {'step': 60}}}}
    """ % (tmp_path / "data.db")))
    config = Configuration([str(path)])
    points = [("s%d" % (i % 10), "bad" if i in (17, 555) else i, 60 + i % 60) for i in range(1000)]
    batches, _ = plan(config, points)
    series = batches["g"].schema.timeseries
    calls = []
    real = series.bulk_insert
    series.bulk_insert = lambda *a, **k: (calls.append(1), real(*a, **k))[1]

    refused = store(batches["g"])

    assert sorted((r.stat, r.value, r.timestamp) for r in refused) == [
        ("s5", "bad", 75), ("s7", "bad", 77)]
    assert "schema g" in str(refused[0]) and "'bad'" in str(refused[0])
    assert len(calls) <= 2 * 2 * 10 + 1  # halving: about two writes per level, ten levels
    stored = sum(len(v) for n in range(10)
                 for v in series.series("s%d" % n, "m", start=60, end=119).values())
    assert stored == 998


def test_a_write_func_of_none_stores_values_as_given(tmp_path):
    """``'write_func': None`` means "no conversion", as it does for a kairos Timeseries: it
    used to be called like a function, refusing every point with a TypeError."""
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent("""
        SCHEMAS = {'g': {'type': 'series', 'host': 'sqlite:///%s', 'match': '.',
                         'write_func': None, 'intervals': {'m': {'step': 60}}}}
    """ % (tmp_path / "data.db")))
    config = Configuration([str(path)])
    batches, _ = plan(config, [("s", 5, 60), ("s", 2.5, 61)])

    assert store(batches["g"]) == []
    series = batches["g"].schema.timeseries
    assert sorted(v for values in series.series("s", "m", start=60, end=119).values()
                  for v in values) == [2.5, 5]
