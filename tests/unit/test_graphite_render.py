"""/render's pure parts: parameters, archive choice, maxDataPoints bands, json/csv/raw output."""
import datetime as dt
import json

import pytest

from kairos.intervals import parse_intervals
from torus.graphite import archives
from torus.graphite.errors import InputError
from torus.graphite.render import parse_options, shrink, to_csv, to_json, to_raw
from torus.graphite.series import Series
from torus.params import ParameterError, Params

NOW = 1700000000


def options(query):
    return parse_options(Params.from_query(query), NOW)


def test_defaults_are_the_last_day_in_json():
    got = options("target=a.b")
    assert (got.start, got.end, got.format, got.targets) == (NOW - 86400, NOW, "json", ["a.b"])
    assert got.max_data_points is None and not got.no_null_points


def test_times_are_swapped_and_now_is_a_parameter():
    got = options("target=a&from=now&until=-1h&now=1600000000")
    assert (got.start, got.end) == (1600000000 - 3600, 1600000000)


@pytest.mark.parametrize("query, parameter", [
    ("from=-1h&until=-1h", "from"), ("from=soon", "from"), ("until=-1x", "until"),
    ("format=png", "format"), ("format=yaml", "format"), ("maxDataPoints=0", "maxDataPoints"),
    ("maxDataPoints=ten", "maxDataPoints"), ("jsonp=cb", "jsonp"), ("tz=Mars/Base", "tz"),
    ("pretty=maybe", "pretty"),
])
def test_bad_parameters_name_themselves(query, parameter):
    with pytest.raises(ParameterError) as caught:
        options("target=a&" + query)
    assert caught.value.parameter == parameter


def intervals(**spec):
    return list(parse_intervals(spec).values())


def chosen(spec, start, end=NOW):
    found = archives.plan(spec, start, end, NOW, "schema 's'")
    return found and (found.interval.name, found.step, found.first, found.stop)


def test_the_finest_interval_whose_retention_reaches_from_answers():
    spec = intervals(minute={"step": 60, "steps": 60}, hour={"step": 3600, "steps": 48},
                     day={"step": "daily"})
    assert chosen(spec, NOW - 1800)[0] == "minute"
    assert chosen(spec, NOW - 3600)[0] == "minute"  # retention exactly the span: whisper's >=
    assert chosen(spec, NOW - 3601)[0] == "hour"
    assert chosen(spec, NOW - 30 * 86400)[0] == "day"


def test_points_are_whispers():
    spec = intervals(minute={"step": 60, "steps": 60})
    # first point after from, last one at or before until, until cut to now
    assert chosen(spec, NOW - 1800, NOW + 600) == ("minute", 60, NOW - 1800 - 20 + 60,
                                                    NOW - 20 + 60)
    assert chosen(spec, NOW - 7200)[2] == NOW - 3600 - 20 + 60  # from cut to the retention
    assert chosen(spec, NOW - 30, NOW - 20)[2:] == (NOW - 20, NOW + 40)  # never empty: one point


def test_windows_without_points():
    spec = intervals(minute={"step": 60, "steps": 60})
    assert chosen(spec, NOW + 60, NOW + 120) is None  # wholly in the future
    assert chosen(spec, NOW - 9000, NOW - 8000) is None  # past every retention


def test_the_coarsest_answers_when_none_covers_and_months_never_do():
    spec = intervals(minute={"step": 60, "steps": 60}, hour={"step": 3600, "steps": 2})
    assert chosen(spec, NOW - 86400)[0] == "hour"
    assert chosen(intervals(minute={"step": 60, "steps": 60}, month={"step": "monthly"}),
                  NOW - 86400)[0] == "minute"
    with pytest.raises(InputError, match="calendar month/year"):
        archives.plan(intervals(month={"step": "monthly"}), NOW - 60, NOW, NOW, "schema 'm'")


def test_resolution_sets_the_step():
    [(interval, step)] = archives.answering(intervals(hour={"step": 3600, "resolution": 60}))
    assert step == 60


@pytest.mark.parametrize("kind, data, expected", [
    ("count", 7, 7), ("gauge", 2.5, 2.5), ("histogram", {1: 3, 5: 1}, 2.0),
    ("series", [1, 2, 6], 3.0), ("set", {"a", "b"}, 2),
])
def test_default_reduction_per_type(kind, data, expected):
    from kairos.types import TYPES
    builtins = TYPES[kind](None).builtins
    reduce = archives.reducer(kind, None, builtins) or (lambda data, seconds: data)
    assert reduce(data, 60) == expected
    assert archives.reducer(kind, lambda d, s: 42, builtins)(data, 60) == 42


def minutes(values, start=600):
    return Series("a.b", start, start + 60 * len(values), 60, values)


def test_shrink_consolidates_in_bands_aligned_on_their_width():
    series = minutes(list(range(20)), start=660)  # 660..1800, 20 values
    shrink([series], 5)  # 4 values per point: bands of 240 s
    assert series.values_per_point == 4
    assert series.start == 660 + 240 + 0 - 660 % 240
    points = series.datapoints()
    assert all(timestamp % 240 == 0 for _, timestamp in points)


def test_shrink_leaves_short_series_and_one_point_means_one_value():
    short = minutes([1, 2, 3])
    shrink([short], 10)
    assert short.values_per_point == 1
    whole = minutes([1, 2, 3, 4])
    shrink([whole], 1)
    assert [v for v, _ in whole.datapoints()] == [2.5]


def test_json_shapes_nulls_and_infinities():
    series = minutes([1, None, float("inf"), float("nan")])
    body = json.loads(to_json([series], options("target=a")))
    assert body == [{"target": "a.b", "tags": {"name": "a.b"},
                     "datapoints": [[1, 600], [None, 660], [float("inf"), 720], [None, 780]]}]
    no_nulls = json.loads(to_json([minutes([1, None]), minutes([None])],
                                  options("target=a&noNullPoints=1")))
    assert no_nulls == [{"target": "a.b", "tags": {"name": "a.b"}, "datapoints": [[1, 600]]}]


def test_json_of_only_empty_series_is_an_empty_list():
    assert json.loads(to_json([minutes([])], options("target=a"))) == []


def test_csv_and_raw():
    series = minutes([1, None, 2.5])
    assert to_csv([series], dt.timezone.utc).decode().splitlines() == [
        "a.b,1970-01-01 00:10:00,1", "a.b,1970-01-01 00:11:00,", "a.b,1970-01-01 00:12:00,2.5"]
    assert to_raw([series]).decode() == "a.b,600,780,60|1,None,2.5\n"
