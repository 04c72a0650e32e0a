"""The /series query: stat expressions, functions and macros, schema choice, kairos reads, output.

A request is handled in two passes. ``plan_series`` parses every ``stat``,
resolves its function (a macro, a TRANSFORMS entry or a built-in), picks the
schema and interval and computes the bucket range, and counts the keys (rows)
the reads will fetch, every resolution bucket included (``read_cost``); nothing
is read until the whole request is known to fit under ``MAX_POINTS``.
``run_plan`` then reads each stat through kairos ``Timeseries.series`` and
shapes the entry for the requested format. With ``unknown`` other than
``keep``, stats never stored are told apart from idle ones (``presence``).

Schema choice for a stat: the forced ``schema`` (used as given, even when its
``match`` does not capture the stat); else the first schema (configuration
order) that matches every name of the stat and has the requested ``interval``;
else, with no ``interval``, the first interval of the first matching schema. A
stat no schema matches yields an entry with empty datapoints.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from kairos import KairosError

from . import presence, turns
from .config import Configuration
from .errors import ConfigError
from .expressions import StatExpr, parse_stat
from .params import ParameterError, Params, UnknownName, parse_boolean
from .read_cost import keys_read
from .schema import Schema
from .settings import positive_count
from .times import Number, coerce_time

#: function names of seed 000 -> kairos built-in transforms
BUILTINS = {"avg": "mean", "mean": "mean", "min": "min", "max": "max", "sum": "sum",
            "count": "count"}
FORMATS = ("graphite", "json")
#: what /series does with stats never stored (parameter ``unknown``; the first is the default)
UNKNOWN = ("keep", "mark", "omit", "error")
MACRO_CALLABLES = ("fetch", "process_row", "join_rows")
MACRO_FIELDS = MACRO_CALLABLES + ("transform", "format", "condense", "collapse", "schema",
                                  "interval", "start", "end", "steps")


@dataclass
class ReadOptions:
    """The query fields of one stat after its macro (if any) is applied."""

    format: str = "graphite"
    condense: Any = False
    collapse: Any = False
    schema: Optional[str] = None
    interval: Optional[str] = None
    start: Optional[Number] = None
    end: Optional[Number] = None
    steps: Optional[int] = None
    transform: Any = None
    fetch: Optional[Callable] = None
    process_row: Optional[Callable] = None
    join_rows: Optional[Callable] = None


def parse_options(params: Params, now: float) -> ReadOptions:
    """The /series parameters shared by every stat of a request."""
    return ReadOptions(
        format=params.choice("format", FORMATS, "graphite"),
        condense=params.boolean("condense"),
        collapse=params.boolean("collapse"),
        schema=params.one("schema"),
        interval=params.one("interval"),
        start=params.time("start", now),
        end=params.time("end", now),
        steps=params.positive_int("steps"),
    )


# -- functions and macros --------------------------------------------------
def resolve_transform(config: Configuration, spec: Any, origin: str) -> Any:
    """A transform for kairos from a name (TRANSFORMS entry, then built-in), callable, list or dict."""
    if isinstance(spec, str):
        if spec in config.transforms:
            return config.transforms[spec]
        if spec in BUILTINS:
            return BUILTINS[spec]
        raise ConfigError("%s: transform %r is neither a TRANSFORMS entry nor one of %s"
                          % (origin, spec, ", ".join(BUILTINS)))
    if callable(spec):
        return spec
    if isinstance(spec, dict):
        return {key: resolve_transform(config, value, origin) for key, value in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [resolve_transform(config, value, origin) for value in spec]
    raise ConfigError("%s: transform must be a name, a callable, a list or a dict, not %r"
                      % (origin, spec))


def _macro_flag(value: Any, origin: str) -> Any:
    if isinstance(value, bool) or callable(value):
        return value
    if isinstance(value, str):
        try:
            return parse_boolean(origin, value)
        except ParameterError as err:
            raise ConfigError(str(err)) from None
    raise ConfigError("%s must be a boolean or a callable, not %r" % (origin, value))


def _macro_value(config: Configuration, key: str, value: Any, origin: str, now: float) -> Any:
    where = "%s field %r" % (origin, key)
    if key in MACRO_CALLABLES:
        if value is not None and not callable(value):
            raise ConfigError("%s must be callable, not %r" % (where, value))
        return value
    if key == "transform":
        return None if value is None else resolve_transform(config, value, where)
    if key in ("condense", "collapse"):
        return _macro_flag(value, where)
    if key == "format":
        if value not in FORMATS:
            raise ConfigError("%s must be one of %s, not %r" % (where, ", ".join(FORMATS), value))
        return value
    if key in ("schema", "interval"):
        if value is not None and not isinstance(value, str):
            raise ConfigError("%s must be a name, not %r" % (where, value))
        return value
    if key in ("start", "end"):
        try:
            return None if value is None else coerce_time(value, now)
        except ValueError as err:
            raise ConfigError("%s: %s" % (where, err)) from None
    # steps
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        steps = value
    elif isinstance(value, str) and value.strip().isdigit():
        steps = int(value)
    else:
        steps = 0
    if steps < 1:
        raise ConfigError("%s must be a positive whole number, not %r" % (where, value))
    return steps


def apply_macro(config: Configuration, name: str, options: ReadOptions, now: float) -> ReadOptions:
    """``options`` with the fields of MACROS[name] overriding them."""
    macro = config.macros[name]
    origin = "MACROS[%r]" % name
    unknown = sorted(set(macro) - set(MACRO_FIELDS))
    if unknown:
        raise ConfigError("%s has unknown field(s) %s; a macro may set %s"
                          % (origin, ", ".join(map(repr, unknown)), ", ".join(MACRO_FIELDS)))
    changes = {key: _macro_value(config, key, value, origin, now) for key, value in macro.items()}
    return replace(options, **changes)


def apply_function(config: Configuration, expr: StatExpr, options: ReadOptions,
                   now: float) -> ReadOptions:
    """The read options of one stat: a macro, then a TRANSFORMS entry, then a built-in."""
    name = expr.function
    if name is None:
        return options
    if name in config.macros:
        return apply_macro(config, name, options, now)
    if name in config.transforms:
        return replace(options, transform=config.transforms[name])
    if name in BUILTINS:
        return replace(options, transform=BUILTINS[name])
    known = sorted(set(BUILTINS) | set(config.transforms) | set(config.macros))
    raise ParameterError("stat", "unknown function %r in %r (known: %s)"
                         % (name, expr.text, ", ".join(known)))


# -- schema, interval and range --------------------------------------------
def choose_schema(config: Configuration, expr: StatExpr,
                  options: ReadOptions) -> Tuple[Optional[Schema], Optional[str]]:
    """The schema and interval name a stat is read from; (None, interval) for an unknown stat."""
    wanted = options.interval
    if options.schema is not None:
        schema = config.schemas.get(options.schema)
        if schema is None:
            raise UnknownName("schema", "unknown schema %r (known: %s)"
                           % (options.schema, ", ".join(config.schemas) or "none"))
        candidates = [schema]
    else:
        per_name = [config.schemas_for(name) for name in expr.names]
        candidates = [s for s in per_name[0] if all(s in others for others in per_name[1:])]
        if not candidates:
            if any(per_name):
                raise ParameterError("stat", "the names of %r are not stored in a common schema"
                                     % expr.text)
            return None, wanted
    if wanted is None:
        first = candidates[0]
        return first, next(iter(first.timeseries.intervals))
    for schema in candidates:
        if wanted in schema.timeseries.intervals:
            return schema, wanted
    offered = sorted({name for s in candidates for name in s.timeseries.intervals})
    raise ParameterError("interval", "%r is not an interval of schema %s for %r (it has: %s)"
                         % (wanted, ", ".join(repr(s.name) for s in candidates), expr.text,
                            ", ".join(offered)))


def read_bounds(options: ReadOptions, now: float) -> Tuple[Optional[Number], Optional[Number],
                                                           Optional[int]]:
    """start/end/steps with the implicit end: the query time, unless ``steps`` counts from ``start``."""
    start, end, steps = options.start, options.end, options.steps
    if end is None and (start is None or steps is None):
        end = now
    return start, end, steps


@dataclass
class Plan:
    """What one ``stat`` will read."""

    expr: StatExpr
    options: ReadOptions
    schema: Optional[Schema] = None
    interval: Optional[str] = None
    first: int = 0
    last: int = 0
    points: int = 0

    def source(self) -> Tuple[Schema, str]:
        """The schema and interval read: a plan with a schema has both (see ``choose_schema``)."""
        if self.schema is None or self.interval is None:
            raise TypeError("%r has no schema to read from" % self.expr.text)
        return self.schema, self.interval


def plan_stat(config: Configuration, expr: StatExpr, base: ReadOptions, now: float,
              max_points: int) -> Plan:
    options = apply_function(config, expr, base, now)
    if options.format == "graphite" and not options.condense:
        options = replace(options, condense=True)
    plan = Plan(expr, options, *choose_schema(config, expr, options))
    if plan.schema is None:
        return plan
    if options.steps is not None and options.steps > max_points:
        raise ParameterError("steps", "%d is more than the limit of %d buckets per request "
                             "(MAX_POINTS)" % (options.steps, max_points))
    schema, interval_name = plan.source()
    interval = schema.timeseries.intervals[interval_name]
    start, end, steps = read_bounds(options, now)
    try:
        plan.first, plan.last = schema.timeseries.bucket_range(interval, start, end, steps)
    except (KairosError, ValueError, OverflowError) as err:
        raise ParameterError("start/end/steps", "no valid range for %r: %s" % (expr.text, err)) from None
    # every key (Redis) or row (SQL) read counts, resolution buckets included: a condensed or
    # collapsed answer is small, but the storage still reads each of them
    plan.points = keys_read(interval, plan.first, plan.last, max_points) * len(expr.names)
    return plan


def plan_series(config: Configuration, params: Params, now: float) -> List[Plan]:
    """Every stat of a /series request, checked and sized; raises before any read."""
    stats = params.all("stat")
    if not stats:
        raise ParameterError("stat", "is required (e.g. stat=avg(app.response_time))")
    check_stat_count(config, stats)
    max_points = max_points_setting(config)
    base = parse_options(params, now)
    plans = [plan_stat(config, parse_stat(text), base, now, max_points) for text in stats]
    total = sum(plan.points for plan in plans)
    if total > max_points:
        raise ParameterError("stat", "this request would read %d buckets, more than the limit of %d "
                             "(MAX_POINTS; each resolution bucket counts): narrow start/end/steps "
                             "or ask for fewer stats" % (total, max_points))
    return plans


def max_points_setting(config: Configuration) -> int:
    return positive_count(config, "MAX_POINTS")


def check_stat_count(config: Configuration, stats: List[str]) -> None:
    """400 when a request names more stats than MAX_STATS (each costs a lookup of its own)."""
    most = positive_count(config, "MAX_STATS")
    if len(stats) > most:
        raise ParameterError("stat", "%d stats asked, more than the %d one request may name (MAX_STATS)"
                      % (len(stats), most))


# -- reading and output ----------------------------------------------------
def _datapoints(data: Any, fmt: str) -> Any:
    if fmt == "graphite":  # [[value, timestamp], ...], pairs made in C (a dashboard has thousands)
        return list(map(list, zip(data.values(), data)))
    return data


def _entry(plan: Plan) -> Dict[str, Any]:
    expr = plan.expr
    return {
        "stat": expr.text,
        "stat_name": expr.stat_name,
        "target": expr.stat_name,
        "function": expr.function,
        "schema": plan.schema.name if plan.schema else None,
        "interval": plan.interval,
    }


def _read(plan: Plan) -> Tuple[Dict[str, Any], Any]:
    """Read one planned stat: its response entry, and the data as kairos returned it."""
    expr, options = plan.expr, plan.options
    entry = _entry(plan)
    if plan.schema is None:
        entry["datapoints"] = [] if options.format == "graphite" else {}
        return entry, None
    schema, interval_name = plan.source()
    timeseries = schema.timeseries
    step = timeseries.intervals[interval_name].step
    data = timeseries.series(
        expr.target, interval_name, start=step.from_bucket(plan.first),
        end=step.from_bucket(plan.last), transform=options.transform, fetch=options.fetch,
        process_row=options.process_row, condense=options.condense,
        join_rows=options.join_rows, collapse=options.collapse)
    entry["datapoints"] = _datapoints(data, options.format)
    return entry, data


def _together(plan: Plan) -> Optional[Tuple]:
    """What stats read with one ``series_many`` share (None: this one is read alone)."""
    if plan.schema is None or len(plan.expr.names) != 1 or plan.options.join_rows is not None:
        return None
    options = plan.options
    return (plan.schema.name, plan.interval, plan.first, plan.last, options.format,
            id(options.transform) if callable(options.transform) else repr(options.transform),
            options.fetch, options.process_row, repr(options.condense), repr(options.collapse))


def _read_all(plans: List[Plan]) -> List[Tuple[Dict[str, Any], Any]]:
    """Entry and data of every plan, in order; stats of the same schema, range and options
    are read together (one round trip for all of them on SQL and Redis)."""
    groups: Dict[Tuple, List[int]] = {}
    for index, plan in enumerate(plans):
        key = _together(plan)
        if key is not None:
            groups.setdefault(key, []).append(index)
    out: Dict[int, Tuple[Dict[str, Any], Any]] = {}
    for indices in groups.values():
        if len(indices) < 2:
            continue
        first = plans[indices[0]]
        options = first.options
        schema, interval_name = first.source()
        timeseries = schema.timeseries
        step = timeseries.intervals[interval_name].step
        datas = timeseries.series_many(
            [plans[i].expr.target for i in indices], interval_name,
            start=step.from_bucket(first.first), end=step.from_bucket(first.last),
            transform=options.transform, fetch=options.fetch, process_row=options.process_row,
            condense=options.condense, collapse=options.collapse)
        for index, data in zip(indices, datas):
            entry = _entry(plans[index])
            entry["datapoints"] = _datapoints(data, options.format)
            out[index] = entry, data
    answers = []
    for index, plan in enumerate(plans):
        if index not in out:
            if index:
                # between stats read alone, the other connections take a turn: a query of
                # many stats on a driver that never waits (SQLite) does not hold the server
                turns.wait_for_turn()
            out[index] = _read(plan)
        answers.append(out[index])
    return answers


def run_plan(plan: Plan) -> Dict[str, Any]:
    """Read one planned stat and shape its response entry."""
    return _read(plan)[0]


def never_stored(plan: Plan, data: Any) -> Tuple[Optional[bool], List[str]]:
    """``(stored, names never stored)``: stored is None when the storage cannot tell cheaply.

    An answer holding any value proves the stat exists; otherwise the names are looked up
    in the schema's name index (``presence``), one read, never a scan.
    """
    if plan.schema is None:
        return False, ["%r (no schema matches it)" % name for name in plan.expr.names]
    if presence.has_values(data):
        return True, []
    schema, _ = plan.source()
    known = presence.stored(schema, plan.expr.names)
    answers = [(name, known[name]) for name in plan.expr.names]
    missing = ["%r (schema %s)" % (name, schema.name) for name, found in answers if found is False]
    if missing:
        return False, missing
    return (None if any(found is None for _, found in answers) else True), []


def series(config: Configuration, params: Params, now: float) -> List[Dict[str, Any]]:
    """The answer to /series: one entry per ``stat`` parameter, in order.

    ``unknown`` says what to do with stats never stored (``UNKNOWN``): ``keep`` them as
    entries of empty data (the default, no lookup), ``mark`` every entry with
    ``"stored"``, ``omit`` them (as Graphite leaves out a target matching nothing) or
    answer 404 naming them (``error``).
    """
    policy = params.choice("unknown", UNKNOWN, "keep")
    entries = []
    missing: List[str] = []
    plans = plan_series(config, params, now)
    for plan, (entry, data) in zip(plans, _read_all(plans)):
        if policy != "keep":
            stored, names = never_stored(plan, data)
            missing.extend(names)
            if policy == "mark":
                entry["stored"] = stored
            elif policy == "omit" and stored is False:
                continue
        entries.append(entry)
    if policy == "error" and missing:
        raise UnknownName("stat", "never stored: %s" % ", ".join(missing))
    return entries
