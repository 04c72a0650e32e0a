"""``/render``: graphite-web's render API answered from torus schemas (json, csv, raw).

Parameters (GET query string or POST form, as Grafana sends them):

* ``target`` (repeated): graphite targets; an absent or empty one answers ``[]``.
* ``from`` / ``until`` (default ``-1d`` / ``now``), ``now``, ``tz``: graphite time forms
  (``timeforms``); swapped when given backwards; an empty range is a 400.
* ``format``: ``json`` (the default here: torus draws no images), ``csv`` or ``raw``;
  png, svg, pdf, pickle and the other image/binary formats are a 400.
* ``maxDataPoints``: in json, series longer than this are consolidated with their
  consolidation function (``consolidateBy``; average by default) into bands aligned as
  graphite-web aligns them, so a refreshing dashboard keeps the same points.
* ``noNullPoints``: json without null points (a series left empty is dropped).
* ``pretty``: indented json. ``jsonp`` is refused (400): use CORS (``CORS_ORIGIN``).

Answers: json ``[{"target", "tags", "datapoints": [[value, timestamp], ...]}]``
(NaN as null, infinities as ±1e9999 as graphite-web writes them); csv lines
``name,YYYY-MM-DD HH:MM:SS,value`` in ``tz``; raw lines ``name,start,end,step|v,v,None``.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import orjson

from ..encoding import RawAnswer
from ..params import ParameterError, Params, parse_boolean
from .errors import refuse_jsonp
from .evaluator import Context, evaluate_targets
from .series import Series
from .storage_source import StoreSource
from .timeforms import parse_at_time, parse_tz

FORMATS = ("json", "csv", "raw")
NOT_SERVED = ("png", "svg", "pdf", "pickle", "dygraph", "rickshaw", "msgpack", "pie")


@dataclass
class RenderOptions:
    targets: List[str]
    start: int
    end: int
    now: int
    tz: _dt.tzinfo
    format: str
    max_data_points: Optional[int]
    no_null_points: bool
    pretty: bool


def _time(params: Params, name: str, default: str, now: float, tz: _dt.tzinfo) -> int:
    text = params.one(name) or default
    try:
        return parse_at_time(text, now, tz)
    except ValueError as err:
        raise ParameterError(name, str(err)) from None


def parse_options(params: Params, now: float) -> RenderOptions:
    """The render parameters of a request (400 naming the parameter when one is wrong)."""
    refuse_jsonp(params)
    try:
        tz = parse_tz(params.one("tz"))
    except ValueError as err:
        raise ParameterError("tz", str(err)) from None
    if params.one("now") is not None:
        now = _time(params, "now", "now", now, tz)
    until = _time(params, "until", "now", now, tz)
    start = _time(params, "from", "-1d", now, tz)
    start, end = min(start, until), max(start, until)
    if start == end:
        raise ParameterError("from", "from and until are the same time: the range is empty")
    fmt = (params.one("format") or "json").lower()
    if fmt in NOT_SERVED:
        raise ParameterError("format", "%r is not served by torus (no images or pickles): use "
                                       "json, csv or raw" % fmt)
    if fmt not in FORMATS:
        raise ParameterError("format", "%r is not a format: use json, csv or raw" % fmt)
    max_points = params.one("maxDataPoints")
    if max_points is not None:
        if not max_points.isdigit() or int(max_points) < 1:
            raise ParameterError("maxDataPoints", "%r is not a positive whole number" % max_points)
    return RenderOptions(
        targets=params.all("target"), start=start, end=end, now=int(now), tz=tz, format=fmt,
        max_data_points=int(max_points) if max_points is not None else None,
        no_null_points="noNullPoints" in params.values,
        pretty=parse_boolean("pretty", params.one("pretty") or "false"))


def render(config: Any, params: Params, now: float) -> RawAnswer:
    """/render: evaluate every target and write the answer in the requested format."""
    options = parse_options(params, now)
    context = Context(start=options.start, end=options.end, now=options.now,
                      source=StoreSource(config, params.grant), tz=options.tz)
    series_list = evaluate_targets(context, options.targets)
    if options.format == "csv":
        answer = RawAnswer(to_csv(series_list, options.tz), "text/csv")
    elif options.format == "raw":
        answer = RawAnswer(to_raw(series_list), "text/plain")
    else:
        answer = RawAnswer(to_json(series_list, options), "application/json")
    answer.points = sum(len(series) for series in series_list)  # torus_points_read_total
    return answer


# -- formats ---------------------------------------------------------------------------
def shrink(series_list: List[Series], max_points: int) -> None:
    """Consolidate each series to at most about ``max_points`` values, bands aligned on
    multiples of the band width (graphite-web's alignment, kept so refreshes are stable)."""
    if not series_list:
        return
    span = max(s.end for s in series_list) - min(s.start for s in series_list)
    for series in series_list:
        if max_points == 1:
            series.consolidate(len(series))
            continue
        if not series.step or max_points >= span / series.step:
            continue
        per_point = math.ceil(span / series.step / max_points)
        width = per_point * series.step
        nudge = width + series.start % series.step - series.start % width
        series.start += nudge
        # graphite-web drops one value fewer than the nudge spans; kept for identical answers
        del series[:max(0, nudge // series.step - 1)]
        series.consolidate(per_point)


def _finite(value: Any) -> Any:
    """NaN as null, infinities as ±1e9999 (what graphite-web writes for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else math.copysign(1e9999, value)
    return value


def _points_json(series: Series, no_nulls: bool) -> bytes:
    """The ``datapoints`` array of one series, written by orjson in one call (a dense answer
    holds tens of thousands of points; the standard encoder takes four times longer). NaN
    is written null; a series holding an infinity is written by the standard encoder, as
    graphite-web writes it (±1e9999)."""
    points: Sequence[Sequence[Any]] = series.datapoints() if series.values_per_point > 1 else list(
        zip(series, range(series.start, series.end + 1, series.step)))
    if no_nulls:
        points = [point for point in points if point[0] is not None]
    values = [point[0] for point in points]
    if math.inf in values or -math.inf in values:
        return json.dumps([[_finite(value), stamp] for value, stamp in points]).replace(
            "Infinity", "1e9999").encode("utf-8")
    return orjson.dumps(points)


def to_json(series_list: List[Series], options: RenderOptions) -> bytes:
    if options.max_data_points:
        shrink(series_list, options.max_data_points)
    if options.pretty:
        return _pretty(series_list, options)
    parts = []
    for series in series_list if any(series_list) else []:
        points = _points_json(series, options.no_null_points)
        if options.no_null_points and points == b"[]":
            continue
        parts.append(b'{"target":%s,"tags":%s,"datapoints":%s}' % (
            orjson.dumps(series.name), orjson.dumps(dict(series.tags)), points))
    return b"[" + b",".join(parts) + b"]"


def _pretty(series_list: List[Series], options: RenderOptions) -> bytes:
    """``pretty=1``: the same answer, indented (for people reading it, so no hurry)."""
    out = []
    for series in series_list if any(series_list) else []:
        points = [[_finite(value), stamp] for value, stamp in series.datapoints()]
        if options.no_null_points:
            points = [point for point in points if point[0] is not None]
            if not points:
                continue
        out.append({"target": series.name, "tags": dict(series.tags), "datapoints": points})
    return json.dumps(out, indent=2).replace("Infinity", "1e9999").encode("utf-8")


def to_csv(series_list: List[Series], tz: _dt.tzinfo) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for series in series_list:
        for index, value in enumerate(series):
            moment = _dt.datetime.fromtimestamp(series.start + index * series.point_step, tz)
            writer.writerow((series.name, moment.strftime("%Y-%m-%d %H:%M:%S"),
                             "" if value is None else value))
    return buffer.getvalue().encode("utf-8")


def to_raw(series_list: List[Series]) -> bytes:
    lines = []
    for series in series_list:
        values = ",".join(map(repr, series))
        lines.append("%s,%d,%d,%d|%s\n" % (series.name, series.start, series.end,
                                           series.point_step, values))
    return "".join(lines).encode("utf-8")
