"""Backend contract, reading: get, series and iterate with every parameter of seed 002.

Covers start/end/steps (inclusive), condense, collapse, transform (built-ins per type,
callables, lists, dicts), joined names, and the customised process_row, condense,
join_rows and collapse callables. ``fetch`` differs per engine: see test_sql_reads.py.
"""
from collections import OrderedDict

import pytest

from kairos.exceptions import InvalidValue, UnknownInterval

NUM = {"read_func": float}
MINUTE = {"minute": {"step": 60}}
HOUR_BY_MINUTE = {"hour": {"step": 3600, "resolution": 60}}


@pytest.fixture
def minutes(make_timeseries):
    """A count with 1 at 60 s, 2 at 120 s, 4 at 240 s (buckets 0 and 180 empty)."""
    ts = make_timeseries("count", {"minute": {"step": 60}}, **NUM)
    ts.bulk_insert({60: {"a": [1]}, 150: {"a": [2]}, 299: {"a": [4]}})
    return ts


# -- get -----------------------------------------------------------------------
def test_get_reads_the_bucket_holding_the_timestamp(minutes):
    assert minutes.get("a", "minute", timestamp=179.5) == {120: 2}
    assert isinstance(minutes.get("a", "minute", timestamp=0), OrderedDict)


def test_get_with_resolution_lists_only_resolution_buckets_with_data(make_timeseries):
    ts = make_timeseries("series", HOUR_BY_MINUTE, **NUM)
    ts.insert("a", 1, timestamp=3600 + 61)
    ts.insert("a", 2, timestamp=3600 + 3599)
    ts.insert("a", 3, timestamp=3600 + 62)
    assert list(ts.get("a", "hour", timestamp=5000).items()) == [(3660, [1, 3]), (7140, [2])]
    assert ts.get("a", "hour", timestamp=0) == {}
    assert ts.get("a", "hour", timestamp=5000, condense=True) == {3600: [1, 3, 2]}
    assert ts.get("a", "hour", timestamp=0, condense=True) == {0: []}
    assert ts.get("a", "hour", timestamp=5000, condensed=True) == {3600: [1, 3, 2]}


def test_get_condense_callable_gets_resolution_timestamps(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [5]}, 600: {"a": [1]}})
    seen = []

    def span(rows):
        seen.append(dict(rows))
        return max(rows) - min(rows)
    assert ts.get("a", "hour", timestamp=0, condense=span) == {0: 540}
    assert seen == [{60: 5, 600: 1}]


# -- series ranges ---------------------------------------------------------------
def test_series_start_and_end_are_inclusive_buckets(minutes):
    assert minutes.series("a", "minute", start=0, end=240) == {0: 0, 60: 1, 120: 2, 180: 0, 240: 4}
    assert minutes.series("a", "minute", start=61, end=179) == {60: 1, 120: 2}
    assert minutes.series("a", "minute", start=61, end=61) == {60: 1}


def test_series_steps_with_start_or_end_include_their_bucket(minutes):
    assert minutes.series("a", "minute", start=65, steps=3) == {60: 1, 120: 2, 180: 0}
    assert minutes.series("a", "minute", end=299, steps=3) == {120: 2, 180: 0, 240: 4}
    assert minutes.series("a", "minute", end=299) == {240: 4}        # no steps configured: 1
    assert minutes.series("a", "minute", start=0, end=120, steps=50) == {0: 0, 60: 1, 120: 2}


def test_series_returns_ordered_buckets(minutes):
    result = minutes.series("a", "minute", start=0, end=240)
    assert isinstance(result, OrderedDict)
    assert list(result) == [0, 60, 120, 180, 240]


def test_series_with_resolution(make_timeseries):
    ts = make_timeseries("histogram", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1, 1]}, 3660: {"a": [2]}, 3700: {"a": [3]}})
    assert ts.series("a", "hour", start=0, end=7200) == {
        0: {60: {1: 2}}, 3600: {3660: {2: 1, 3: 1}}, 7200: {}}
    assert ts.series("a", "hour", start=0, end=7200, condense=True) == {
        0: {1: 2}, 3600: {2: 1, 3: 1}, 7200: {}}


def test_series_bad_ranges(minutes):
    with pytest.raises(InvalidValue, match="before start"):
        minutes.series("a", "minute", start=120, end=0)
    for steps in (0, -1, "3", 2.5):
        with pytest.raises(InvalidValue, match="steps must be a positive whole number"):
            minutes.series("a", "minute", end=120, steps=steps)


# -- collapse ---------------------------------------------------------------------
def test_collapse_merges_the_range_into_its_first_bucket(make_timeseries):
    ts = make_timeseries("histogram", MINUTE, **NUM)
    ts.bulk_insert({0: {"a": [1, 2]}, 60: {"a": [2]}, 180: {"a": [5]}})
    assert ts.series("a", "minute", start=0, end=180, collapse=True) == {0: {1: 1, 2: 2, 5: 1}}
    assert ts.series("a", "minute", start=60, end=120, collapse=True) == {60: {2: 1}}


def test_collapse_with_resolution_and_transform_over_the_whole_range(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [3]}, 3660: {"a": [4]}})
    rate = lambda total, seconds: total / seconds  # noqa: E731
    assert ts.series("a", "hour", start=0, end=3600, collapse=True, transform=rate) == {
        0: 7 / 7200}


def test_collapse_callable_gets_interval_timestamps(minutes):
    seen = []

    def collapse(rows):
        seen.append(dict(rows))
        return sum(value * 10 for value in rows.values())
    assert minutes.series("a", "minute", start=0, end=180, collapse=collapse) == {0: 30}
    assert seen == [{0: 0, 60: 1, 120: 2, 180: 0}]


def test_collapse_true_uses_a_custom_condense(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [3]}, 120: {"a": [4]}, 3660: {"a": [10]}})
    calls = []

    def condense(rows):
        calls.append(dict(rows))
        return max(rows.values()) if rows else 0
    assert ts.series("a", "hour", start=0, end=3600, condense=condense, collapse=True) == {0: 10}
    # once per interval (resolution timestamps), then once over the intervals
    assert calls == [{60: 3, 120: 4}, {3660: 10}, {0: 4, 3600: 10}]


# -- transforms ---------------------------------------------------------------------
BUILTINS = ["mean", "count", "min", "max", "sum"]
DATA = [1, 1, 3, 6]


@pytest.mark.parametrize("type_, expected", [
    ("series", {"mean": 11 / 4, "count": 4, "min": 1, "max": 6, "sum": 11}),
    ("histogram", {"mean": 11 / 4, "count": 4, "min": 1, "max": 6, "sum": 11}),
    ("count", {"mean": 11, "count": 11, "min": 11, "max": 11, "sum": 11}),
    ("gauge", {"mean": 6, "count": 1, "min": 6, "max": 6, "sum": 6}),
    ("set", {"mean": 10 / 3, "count": 3, "min": 1, "max": 6, "sum": 10}),
])
def test_builtin_transforms_per_type(make_timeseries, type_, expected):
    ts = make_timeseries(type_, MINUTE, **NUM)
    ts.bulk_insert(OrderedDict((i, {"a": [v]}) for i, v in enumerate(DATA)))
    for name in BUILTINS:
        assert ts.get("a", "minute", timestamp=0, transform=name) == {0: expected[name]}, name
    assert ts.get("a", "minute", timestamp=0, transform=BUILTINS) == {0: expected}
    assert ts.series("a", "minute", start=0, end=0, transform=tuple(BUILTINS)) == {0: expected}


@pytest.mark.parametrize("type_, expected", [
    ("series", {"mean": None, "count": 0, "min": None, "max": None, "sum": 0}),
    ("histogram", {"mean": None, "count": 0, "min": None, "max": None, "sum": 0}),
    ("count", {"mean": 0, "count": 0, "min": 0, "max": 0, "sum": 0}),
    ("gauge", {"mean": None, "count": 0, "min": None, "max": None, "sum": None}),
    ("set", {"mean": None, "count": 0, "min": None, "max": None, "sum": 0}),
])
def test_builtin_transforms_on_empty_buckets(make_timeseries, type_, expected):
    ts = make_timeseries(type_, MINUTE, **NUM)
    assert ts.series("a", "minute", start=0, end=60, transform=BUILTINS) == {
        0: expected, 60: expected}


def test_callable_transforms(make_timeseries):
    ts = make_timeseries("series", MINUTE, **NUM)
    ts.insert("a", [30, 90], timestamp=0)
    assert ts.get("a", "minute", timestamp=0, transform=lambda d, s: sum(d) / s) == {0: 2.0}
    assert ts.get("a", "minute", timestamp=0, transform=lambda row: len(row)) == {0: 2}
    assert ts.get("a", "minute", timestamp=0, transform=len) == {0: 2}
    spread = lambda row: max(row) - min(row)  # noqa: E731
    assert ts.get("a", "minute", timestamp=0, transform=["max", spread]) == {
        0: {"max": 90, spread: 60}}
    assert ts.get("a", "minute", timestamp=0,
                  transform={"avg": "mean", "rate": lambda d, s: sum(d) / s, "n": len}) == {
        0: {"avg": 60.0, "rate": 2.0, "n": 2}}


def test_transform_runs_on_each_resolution_bucket(make_timeseries):
    ts = make_timeseries("series", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1, 3]}, 120: {"a": [5]}})
    assert ts.get("a", "hour", timestamp=0, transform="mean") == {60: 2.0, 120: 5.0}
    assert ts.series("a", "hour", start=0, end=3600, transform="sum") == {
        0: {60: 4, 120: 5}, 3600: {}}
    assert ts.series("a", "hour", start=0, end=3600, transform="sum", condense=True) == {
        0: 9, 3600: 0}


# -- joined names ---------------------------------------------------------------------
@pytest.mark.parametrize("type_, joined, empty", [
    ("series", [1, 2, 3, 3], []),
    ("histogram", {1: 1, 2: 1, 3: 2}, {}),
    ("count", 9, 0),
    ("gauge", 3, None),          # the last name holding a value wins
    ("set", {1, 2, 3}, set()),
])
def test_name_list_joins_rows(make_timeseries, type_, joined, empty):
    ts = make_timeseries(type_, MINUTE, **NUM)
    ts.insert("a", [1, 2], timestamp=0)
    ts.insert("b", [3], timestamp=0)
    ts.insert("c", [3], timestamp=0)
    assert ts.get(["a", "b", "c"], "minute", timestamp=0) == {0: joined}
    assert ts.series(("a", "b", "c", "nothing"), "minute", start=0, end=60) == {
        0: joined, 60: empty}


def test_joined_names_with_resolution_and_transform(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1], "b": [2]}, 120: {"b": [4]}})
    assert ts.get(["a", "b"], "hour", timestamp=0) == {60: 3, 120: 4}
    assert ts.get(["a", "b"], "hour", timestamp=0, condense=True, transform="sum") == {0: 7}
    assert ts.series(["a", "b"], "hour", start=0, end=0, collapse=True) == {0: 7}


def test_join_rows_callable_gets_one_row_per_name(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert({0: {"a": [5], "b": [2]}, 60: {"b": [1]}})
    seen = []

    def difference(rows):
        seen.append(list(rows))
        return rows[0] - rows[1]
    assert ts.series(["a", "b"], "minute", start=0, end=60, join_rows=difference) == {0: 3, 60: -1}
    assert seen == [[5, 2], [0, 1]]


def test_process_row_replaces_the_type_conversion(make_timeseries):
    ts = make_timeseries("series", MINUTE, **NUM)
    ts.insert("a", [4, 5, 6], timestamp=60)
    # process_row takes the raw stored row; read_func is not applied for it
    assert ts.series("a", "minute", start=0, end=60, process_row=len) == {0: [], 60: 3}
    assert ts.get("a", "minute", timestamp=60,
                  process_row=lambda raw: sorted(float(v) * 2 for v in raw)) == {60: [8, 10, 12]}


# -- iterate ------------------------------------------------------------------------
def test_iterate_yields_every_bucket_from_first_to_last_data(minutes):
    assert list(minutes.iterate("a", "minute")) == [(60, 1), (120, 2), (180, 0), (240, 4)]
    assert list(minutes.iterate("a", "minute", transform=lambda n: n * 10)) == [
        (60, 10), (120, 20), (180, 0), (240, 40)]
    assert list(minutes.iterate("nothing", "minute")) == []


def test_iterate_joined_names_and_resolution(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1]}, 7260: {"b": [2]}})
    assert list(ts.iterate(["a", "b"], "hour")) == [(60, 1), (7260, 2)]
    assert list(ts.iterate(["a", "b"], "hour", condense=True)) == [(0, 1), (3600, 0), (7200, 2)]


def test_iterate_with_resolution_yields_what_get_gives_for_each_interval_bucket(make_timeseries):
    """The original's iterate: ``get`` of every interval bucket from the first to the last,
    flattened, so with a resolution one item per resolution bucket holding data (transforms
    get its duration), and with ``condense`` one per interval bucket, empty ones included."""
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1]}, 179: {"a": [3]}, 7260: {"a": [2]}})
    flat = list(ts.iterate("a", "hour"))
    assert flat == [(60, 1), (120, 3), (7260, 2)]
    assert flat == [item for hour in (0, 3600, 7200)
                    for item in ts.get("a", "hour", timestamp=hour).items()]
    assert list(ts.iterate("a", "hour", transform=lambda total, seconds: (total, seconds))) == [
        (60, (1, 60)), (120, (3, 60)), (7260, (2, 60))]
    assert list(ts.iterate("a", "hour", condense=True)) == [(0, 4), (3600, 0), (7200, 2)]
    assert list(ts.iterate("a", "hour", condensed=True, transform=lambda n, s: s)) == [
        (0, 3600), (3600, 3600), (7200, 3600)]


def test_iterate_start_and_end_keep_the_buckets_overlapping_them(minutes, make_timeseries):
    assert list(minutes.iterate("a", "minute", start=61, end=200)) == [(60, 1), (120, 2), (180, 0)]
    assert list(minutes.iterate("a", "minute", start=200)) == [(180, 0), (240, 4)]
    assert list(minutes.iterate("a", "minute", end=60)) == [(60, 1)]
    assert list(minutes.iterate("a", "minute", start=0, end=59)) == []
    assert list(minutes.iterate("a", "minute", start=300)) == []
    with pytest.raises(InvalidValue, match="before start"):
        list(minutes.iterate("a", "minute", start=120, end=0))
    ts = make_timeseries("series", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1]}, 179: {"a": [2]}, 3600: {"a": [3]}, 7199: {"a": [4]}})
    # resolution buckets too: the one holding start (120..179) is in, the one after end is not
    assert list(ts.iterate("a", "hour", start=150, end=3600)) == [(120, [2]), (3600, [3])]
    assert list(ts.iterate("a", "hour", start=150, end=3600, condense=True)) == [
        (0, [1, 2]), (3600, [3, 4])]


def test_iterate_crosses_chunks(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert({0: {"a": [1]}, 60 * 9: {"a": [2]}})
    assert list(ts.iterate("a", "minute", chunk=4)) == [
        (0, 1), (60, 0), (120, 0), (180, 0), (240, 0), (300, 0), (360, 0), (420, 0), (480, 0),
        (540, 2)]


# -- errors ---------------------------------------------------------------------------
def test_unknown_interval_names_it(minutes):
    for call in (lambda: minutes.get("a", "fortnight", timestamp=0),
                 lambda: minutes.series("a", "fortnight", start=0),
                 lambda: list(minutes.iterate("a", "fortnight"))):
        with pytest.raises(UnknownInterval, match="'fortnight'.*minute"):
            call()


def test_unknown_transform_names_it(minutes):
    with pytest.raises(InvalidValue, match="'median'"):
        minutes.get("a", "minute", timestamp=0, transform="median")


# -- series of many names at once ---------------------------------------------------
@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
@pytest.mark.parametrize("options", [{}, {"condense": True}, {"collapse": True},
                                     {"transform": "count"}],
                         ids=["plain", "condense", "collapse", "transform"])
def test_series_many_answers_as_series_does_for_each_name(make_timeseries, type_, options):
    ts = make_timeseries(type_, HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({3600 + 61: {"a": [1, 2], "b": [3]}, 3600 + 3599: {"a": [4]}, 7300: {"c": [5]}})
    names = ["a", "b", "never", "c", "a"]  # one never stored, one asked twice
    many = ts.series_many(names, "hour", start=0, end=7200, **options)
    assert many == [ts.series(name, "hour", start=0, end=7200, **options) for name in names]


@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
@pytest.mark.parametrize("options", [{}, {"condense": True}, {"collapse": True},
                                     {"transform": "count"}, {"transform": ["count", "max"]}],
                         ids=["plain", "condense", "collapse", "transform", "transforms"])
def test_series_many_without_resolution_answers_as_series_does(make_timeseries, type_, options):
    """The buckets of an interval without resolution (the dashboard's read), a name with
    every bucket written and names with gaps alike."""
    ts = make_timeseries(type_, MINUTE, **NUM)
    ts.bulk_insert({t: {"full": [t % 7 + 0.5, 2]} for t in range(0, 300, 60)})
    ts.bulk_insert({61: {"gaps": [1, 2]}, 200: {"gaps": [3]}})
    names = ["full", "gaps", "never", "full"]
    many = ts.series_many(names, "minute", start=0, end=240, **options)
    assert many == [ts.series(name, "minute", start=0, end=240, **options) for name in names]
    assert [list(answer) for answer in many] == [list(answer) for answer in
                                                 (ts.series(n, "minute", start=0, end=240, **options)
                                                  for n in names)]


def test_series_many_reads_every_name_in_one_round_trip_where_it_can(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert({60: {"s%d" % n: [n] for n in range(50)}})
    calls = []
    real = ts._fetch
    ts._fetch = lambda *args, **kwargs: (calls.append(args[0]), real(*args, **kwargs))[1]
    answers = ts.series_many(["s%d" % n for n in range(50)], "minute", start=0, end=120)
    assert [a[60] for a in answers] == list(range(50))
    if ts.engine in ("sql", "redis"):
        assert calls == []  # one _fetch_many, not one _fetch per name


# -- points: the dense read of the Graphite API ------------------------------------------
@pytest.mark.parametrize("type_", ["series", "histogram", "count", "gauge", "set"])
@pytest.mark.parametrize("intervals, interval", [(MINUTE, "minute"), (HOUR_BY_MINUTE, "hour")],
                         ids=["plain", "resolution"])
def test_points_are_the_stored_buckets_of_series(make_timeseries, type_, intervals, interval):
    """``points`` holds exactly the buckets ``series`` shows with data (resolution buckets
    flat), never an empty one: a count of 0 written is there, a bucket never written is not."""
    ts = make_timeseries(type_, intervals, **NUM)
    ts.bulk_insert({3600 + 61: {"a": [1, 2], "b": [3]}, 3600 + 3599: {"a": [4]},
                    7300: {"c": [0]}})
    names = ["a", "b", "never", "c"]
    got = ts.points(names, interval, 0, 7300)
    stored = {"a": [3660, 7140], "b": [3660], "never": [], "c": [7260]}
    assert {name: sorted(points) for name, points in got.items()} == stored
    for name in names:
        flat = {}
        for stamp, data in ts.series(name, interval, start=0, end=7300).items():
            flat.update(data if interval == "hour" else {stamp: data})
        assert got[name] == {stamp: flat[stamp] for stamp in stored[name]}


@pytest.mark.parametrize("type_", ["count", "gauge"])
@pytest.mark.parametrize("intervals, interval", [(MINUTE, "minute"), (HOUR_BY_MINUTE, "hour")],
                         ids=["plain", "resolution"])
def test_points_of_dense_and_gapped_names_in_order(make_timeseries, type_, intervals, interval):
    """Names with every bucket written (read by some engines as values alone), with gaps at
    either end of the range or inside it, and one bucket: the same points, in time order."""
    ts = make_timeseries(type_, intervals, **NUM)
    minutes = range(3600, 3600 * 3, 60)  # two hours of minutes
    writes = {"dense": minutes, "late": minutes[5:], "early": minutes[:-7],
              "hole": [m for m in minutes if m != 3600 + 60 * 30], "one": [minutes[3]]}
    ts.bulk_insert(_inserts(writes))
    names = list(writes) + ["never"]
    got = ts.points(names, interval, 3600, 3600 * 3 - 1)
    for name in names:
        expected = {}
        for stamp, data in ts.series(name, interval, start=3600, end=3600 * 3 - 1).items():
            expected.update(data if interval == "hour" else {stamp: data})
        expected = {stamp: value for stamp, value in expected.items()
                    if stamp in writes.get(name, ())}
        assert list(got[name].items()) == sorted(expected.items()), name
    assert len(got["dense"]) == 120 and got["hole"].get(3600 + 60 * 30) is None


def _inserts(writes):
    """{stamp: {name: [value]}} of ``writes`` ({name: minutes}), 7 s into each minute."""
    inserts = {}
    for name, stamps in writes.items():
        for stamp in stamps:
            inserts.setdefault(stamp + 7, {})[name] = [stamp % 1000 + 0.5]
    return inserts


@pytest.mark.parametrize("type_", ["count", "gauge", "histogram"])
@pytest.mark.parametrize("intervals, interval, width", [(MINUTE, "minute", 60),
                                                         (HOUR_BY_MINUTE, "hour", 60)],
                         ids=["plain", "resolution"])
def test_points_list_is_points_on_the_grid(make_timeseries, type_, intervals, interval, width):
    """``points_list``: the data of every bucket of ``range(start, stop, width)`` (None where
    none is stored), dense names as read and gapped ones filled; None off the grid."""
    ts = make_timeseries(type_, intervals, **NUM)
    minutes = range(3600, 3600 * 3, 60)
    writes = {"dense": minutes, "late": minutes[5:], "hole": [m for m in minutes if m != 5400],
              "one": [minutes[3]]}
    ts.bulk_insert(_inserts(writes))
    names = list(writes) + ["never"]
    for start, stop in ((3600, 3600 * 3), (3600 + 600, 3600 * 2 + 1200), (0, 3600 * 4)):
        reduce = (lambda data, seconds: sum(data)) if type_ == "histogram" else None
        listed = ts.points_list(names, interval, start, stop, reduce=reduce)
        stored = ts.points(names, interval, start, stop - 1, reduce=reduce)
        grid = range(start, stop, width)
        assert listed == {name: [stored[name].get(stamp) for stamp in grid] for name in names}
    assert ts.points_list(names, interval, 3601, 7200) is None


def test_points_reduce_each_bucket(make_timeseries):
    ts = make_timeseries("histogram", MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [1, 3, 3]}, 180: {"a": [10]}})
    seen = []

    def mean(data, seconds):
        seen.append(seconds)
        return sum(k * v for k, v in data.items()) / sum(data.values())

    assert ts.points(["a"], "minute", 0, 600, reduce=mean) == {"a": {60: 7 / 3, 180: 10.0}}
    assert seen == [60, 60]
