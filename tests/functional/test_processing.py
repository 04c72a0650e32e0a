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


def test_a_stats_values_at_one_timestamp_all_count_whether_one_or_many(tmp_path):
    """``plan`` keeps a lone number bare (no list per point) and lists once a second value
    comes: every value is counted, iterated (dead letters, halving) and stored."""
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent("""
        SCHEMAS = {'s': {'type': 'series', 'host': 'sqlite:///%s', 'match': '.',
                         'write_func': None, 'intervals': {'m': {'step': 60}}}}
    """ % (tmp_path / "data.db")))
    config = Configuration([str(path)])
    points = [("one", 1, 60), ("two", 2, 60), ("two", 2.5, 60), ("three", 3, 60),
              ("three", 3.25, 60), ("three", 3.5, 60), ("four", 4, 60), ("one", 7, 120)]
    batches, stats = plan(config, points)
    batch = batches["s"]

    assert stats.points == batch.points == len(points)
    assert sorted(map(repr, batch.items())) == sorted(map(repr, points))
    assert store(batch) == []
    series = batch.schema.timeseries
    stored = {name: series.series(name, "m", start=60, end=120) for name in
              ("one", "two", "three", "four")}
    assert stored == {"one": {60: [1], 120: [7]}, "two": {60: [2, 2.5], 120: []},
                      "three": {60: [3, 3.25, 3.5], 120: []}, "four": {60: [4], 120: []}}


def test_the_default_write_func_makes_whole_floats_ints_on_its_fast_path_too(tmp_path):
    """Without a transform, ``plan`` takes a parsed int or fractional float as it is
    and calls ``long_or_float`` for the rest: 5.0 is stored as 5, text as its number,
    text that is no number refused; every value counted, at every timestamp."""
    path = tmp_path / "conf.py"
    path.write_text(textwrap.dedent("""
        SCHEMAS = {'s': {'type': 'series', 'host': 'sqlite:///%s', 'match': '.',
                         'intervals': {'m': {'step': 60}}}}
    """ % (tmp_path / "data.db")))
    config = Configuration([str(path)])
    points = [("a", 5, 60), ("a", 5.0, 60), ("a", 2.5, 120), ("a", "7", 60), ("a", True, 120),
              ("a", "x", 60), ("b", -0.0, 120), ("a", [1], 60)]
    batches, stats = plan(config, points)
    batch = batches["s"]

    assert stats.rejected == 2 and batch.points == len(points) - 2
    assert sorted((stat, repr(value), stamp) for stat, value, stamp in batch.items()) == sorted(
        [("a", "5", 60), ("a", "5", 60), ("a", "2.5", 120), ("a", "7", 60), ("a", "1", 120),
         ("b", "0", 120)])
    assert store(batch) == []
    series = batch.schema.timeseries
    assert series.series("a", "m", start=60, end=120) == {60: [5, 5, 7], 120: [2.5, 1]}
