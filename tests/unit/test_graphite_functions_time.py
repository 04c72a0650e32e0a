"""Render functions that read outside the window or bucket time: moving windows, timeShift,
timeStack, summarize, smartSummarize, hitcount. Expected numbers by hand.

``m.x`` is stored every 60 s from T-180 with values 1, 2, 3, null, 5, 6, 7, 8, 9 (T-180 ..
T+300); a request from T to T+300 sees 5..9 at T+60 .. T+300, and a function that
looks back reads the earlier values through a second evaluation.
"""
import pytest

from torus.graphite.errors import InputError
from tests.unit.graphite_memory import MemorySource, evaluate

T = 6000  # a multiple of 60, 120, 300 and 3600 - 2400
STORED = {
    "m.x": (T - 180, 60, [1, 2, 3, None, 5, 6, 7, 8, 9]),
    "m.y": (T - 240, 120, [10, 20, 30, 40, 50]),
    "s.x": (T, 60, [1, 2, 3, None, 5, 6, 7, 8, 9, 10]),
    "s.y": (T, 120, [2, 4, 6, 8, 10]),
}


def run(target, start=T, end=T + 300, source=None):
    return evaluate(source or MemorySource(dict(STORED)), target, start, end)


def one(target, **kw):
    [series] = run(target, **kw)
    return series


def approx(values):
    return [None if v is None else pytest.approx(v) for v in values]


# -- moving windows ---------------------------------------------------------------------------
@pytest.mark.parametrize("target, name, values", [
    ("movingAverage(m.x, 2)", "movingAverage(m.x,2)", [3, 5, 5.5, 6.5, 7.5]),
    ("movingAverage(m.x, '3min')", 'movingAverage(m.x,"3min")', [2.5, 4, 5.5, 6, 7]),
    ("movingSum(m.x, 2)", "movingSum(m.x,2)", [3, 5, 11, 13, 15]),
    ("movingMin(m.x, 2)", "movingMin(m.x,2)", [3, 5, 5, 6, 7]),
    ("movingMax(m.x, 2)", "movingMax(m.x,2)", [3, 5, 6, 7, 8]),
    ("movingMedian(m.x, 3)", "movingMedian(m.x,3)", [2.5, 4, 5.5, 6, 7]),
    ("movingAverage(m.x, 2, 1)", "movingAverage(m.x,2)", [None, None, 5.5, 6.5, 7.5]),
    ("movingWindow(m.x, 2, 'sum')", "movingSum(m.x,2)", [3, 5, 11, 13, 15]),
    ("movingWindow(m.x, 2)", "movingAverage(m.x,2)", [3, 5, 5.5, 6.5, 7.5]),
    ("movingAverage(m.x, 0)", "movingAverage(m.x,0)", [None] * 5),
])
def test_moving(target, name, values):
    series = one(target)
    assert series.name == name and series.path_expression == name
    assert (series.start, series.end, series.step) == (T + 60, T + 360, 60)
    assert list(series) == approx(values)


def test_moving_reads_the_window_before_the_request():
    source = MemorySource(dict(STORED))
    run("movingAverage(m.x, '3min')", source=source)
    assert source.calls == [("m.x", T, T + 300), ("m.x", T - 180, T + 300)]
    assert one("movingAverage(m.x, 2)").tags == {"name": "m.x", "movingAverage": "2"}


def test_moving_with_mismatched_steps_counts_points_per_series():
    fine, coarse = run("movingAverage(m.*, '4min')")
    assert fine.name == 'movingAverage(m.x,"4min")' and coarse.step == 120
    assert list(fine) == approx([2, 10 / 3, 14 / 3, 6, 6.5])
    # m.y: 4 min is two points of 120 s
    assert (coarse.start, list(coarse)) == (T + 120, [25, 35])


@pytest.mark.parametrize("target", ["movingAverage(m.x, -1)", "movingSum(m.x, 'bogus')",
                                    "movingWindow(m.x, 2, 'nope')", "movingMax(m.x)"])
def test_moving_bad_arguments(target):
    with pytest.raises(InputError):
        run(target)


# -- timeShift / timeStack ---------------------------------------------------------------------
def test_time_shift_draws_the_past_over_the_window():
    source = MemorySource(dict(STORED))
    series = one("timeShift(m.x, '2min')", source=source)
    assert source.calls[-1] == ("m.x", T - 120, T + 180)
    assert series.name == 'timeShift(m.x, "-2min")'
    assert series.tags["timeShift"] == "-2min"
    assert (series.start, series.end, series.step) == (T + 60, T + 360, 60)
    assert list(series) == [3, None, 5, 6, 7]
    ahead = one("timeShift(m.x, '+1min')")
    assert ahead.name == 'timeShift(m.x, "+1min")' and list(ahead) == [6, 7, 8, 9, None]
    assert list(one("timeShift(m.x, '-2min', false)")) == [3, None, 5, 6, 7]


def test_time_shift_of_a_combination_evaluates_it_again():
    series = one("timeShift(sumSeries(m.x, s.x), '1min')")
    assert series.name == 'timeShift(sumSeries(m.x,s.x), "-1min")'
    # at T .. T+240: m.x null, 5, 6, 7, 8 plus s.x 1, 2, 3, null, 5
    assert list(series) == [1, 7, 9, 7, 13]


def test_time_stack():
    out = run("timeStack(m.x, '1min', 0, 3)")
    assert [s.name for s in out] == ["timeShift(m.x, -1min, 0)", "timeShift(m.x, -1min, 1)",
                                     "timeShift(m.x, -1min, 2)"]
    assert [list(s) for s in out] == [[5, 6, 7, 8, 9], [None, 5, 6, 7, 8], [3, None, 5, 6, 7]]
    assert all(s.start == T + 60 and s.path_expression == s.name for s in out)
    assert out[2].tags == {"name": "m.x", "timeShiftUnit": "-1min", "timeShift": "2"}


def test_time_shift_mismatched_steps():
    fine, coarse = run("timeShift(m.*, '2min')")
    assert (fine.step, coarse.step) == (60, 120)
    # m.y over T-120 .. T+180 has points at T and T+120 (30, 40), drawn from the first
    # series' start
    assert list(coarse) == [30, 40] and coarse.start == fine.start == T + 60


@pytest.mark.parametrize("target", ["timeShift(none.*, '1d')", "timeStack(none.*)",
                                    "movingAverage(none.*, 3)", "summarize(none.*, '1h')",
                                    "smartSummarize(none.*, '1h')", "hitcount(none.*, '1h')"])
def test_nothing(target):
    assert run(target) == []


@pytest.mark.parametrize("target", ["timeShift(m.x, 'soon')", "timeShift(m.x)",
                                    "timeStack(m.x, 'x')", "timeStack(m.x, '1d', 0, 5000)"])
def test_time_shift_bad_arguments(target):
    with pytest.raises(InputError):
        run(target)


# -- summarize / smartSummarize / hitcount --------------------------------------------------
# a request from T-60 to T+540 sees s.x's ten points T .. T+540: 1, 2, 3, null, 5 .. 10
WINDOW = {"start": T - 60, "end": T + 540}


@pytest.mark.parametrize("target, name, start, end, step, values", [
    ("summarize(s.x, '5min')", 'summarize(s.x, "5min", "sum")', T, T + 900, 300,
     [11, 40, None]),
    ("summarize(s.x, '5min', 'avg')", 'summarize(s.x, "5min", "avg")', T, T + 900, 300,
     [11 / 4, 8, None]),
    ("summarize(s.x, '5min', 'count')", 'summarize(s.x, "5min", "count")', T, T + 900, 300,
     [4, 5, None]),
    # buckets on multiples of 420 s: T-120 .. T+300 .. T+720
    ("summarize(s.x, '7min', 'max')", 'summarize(s.x, "7min", "max")', T - 120, T + 720, 420,
     [5, 10]),
    ("summarize(s.x, '7min', 'sum', true)", 'summarize(s.x, "7min", "sum", true)', T, T + 840,
     420, [24, 27]),
    ("summarize(s.y, '5min')", 'summarize(s.y, "5min", "sum")', T, T + 900, 300,
     [12, 18, None]),
    ("smartSummarize(s.x, '5min')", 'smartSummarize(s.x, "5min", "sum")', T, T + 600, 300,
     [11, 40]),
    ("smartSummarize(s.x, '4min', 'last')", 'smartSummarize(s.x, "4min", "last")', T, T + 720,
     240, [3, 8, 10]),
    ("hitcount(s.x, '5min')", 'hitcount(s.x, "5min")', T, T + 600, 300, [660, 2400]),
    # 120 s points spread over 180 s buckets ending at the series' end
    ("hitcount(s.y, '3min')", 'hitcount(s.y, "3min")', T - 120, T + 600, 180,
     [120, 600, 1200, 1680]),
])
def test_buckets(target, name, start, end, step, values):
    series = one(target, **WINDOW)
    assert series.name == name and series.path_expression == name
    assert (series.start, series.end, series.step) == (start, end, step)
    assert list(series) == approx(values)


def test_summarize_tags():
    assert one("summarize(s.x, '5min', 'max')", **WINDOW).tags == {
        "name": "s.x", "summarize": "5min", "summarizeFunction": "max"}


def test_smart_summarize_aligned_to_the_hour_reads_from_the_hour():
    source = MemorySource(dict(STORED))
    series = one("smartSummarize(s.x, '5min', 'sum', 'hours')", source=source, **WINDOW)
    assert source.calls[-1] == ("s.x", 3600, T + 540)
    # the evaluation from 3600 starts at 3660; buckets of 300 s from there
    assert (series.start, series.step) == (3660, 300)
    assert list(series) == [None] * 7 + [1, 16, 34]


def test_hitcount_aligned_to_the_interval():
    source = MemorySource(dict(STORED))
    series = one("hitcount(s.x, '1h', true)", source=source, **WINDOW)
    assert source.calls[-1] == ("s.x", 3600, T + 540)
    assert series.name == 'hitcount(s.x, "1h", true)'
    assert (series.start, series.step, list(series)) == (3660, 3600, [51 * 60])


@pytest.mark.parametrize("target", [
    "summarize(s.x, '-5min')", "summarize(s.x, '0s')", "summarize(s.x, 'soon')",
    "summarize(s.x, '5min', 'nope')", "smartSummarize(s.x, '1h', 'sum', 'fortnights')",
    "hitcount(s.x, '-1h')", "hitcount(s.x)",
])
def test_bucket_bad_arguments(target):
    with pytest.raises(InputError):
        run(target, **WINDOW)


def test_time_shift_align_dst_moves_the_shifted_window_by_an_hour():
    from zoneinfo import ZoneInfo

    from torus.graphite.evaluator import Context
    summer = 1688169600  # 2023-07-01 00:00 UTC, DST in Berlin; 180 days earlier is winter
    source = MemorySource({"d.x": (summer - 200 * 86400, 3600, [1] * 5000)})
    context = Context(start=summer, end=summer + 7200, now=summer + 7200, source=source,
                      tz=ZoneInfo("Europe/Berlin"))
    context.evaluate("timeShift(d.x, '180d', true, true)")
    assert source.calls[-1] == ("d.x", summer - 180 * 86400 + 3600,
                                summer + 7200 - 180 * 86400 + 3600)
    context.evaluate("timeShift(d.x, '180d')")
    assert source.calls[-1] == ("d.x", summer - 180 * 86400, summer + 7200 - 180 * 86400)
