"""The /insert command: one value stored through the karbon path, checked before anything is written.

The stat, value and timestamp are read as karbon reads a Carbon line (tagged
names canonical, an int or a float or text, ``-1`` meaning now), then checked
so that every refusal is a 400 naming the parameter rather than a failure deep
in an engine: a number must fit a double (karbon drops what JSON readers and
storage cannot hold), and the timestamp, its ``rolling`` copies and the end of
its retention must fall in the years 1 to 9999 for every schema it reaches.
"""
from __future__ import annotations

from typing import Any, Dict, Union

from kairos import KairosError
from kairos.intervals import Interval

from .carbon import BadLine, DroppedValue, canonical_name, parse_value
from .config import Configuration
from .params import ParameterError, Params
from .processing import plan, store
from .schema import Schema
from .times import MAX_TIME, MIN_TIME, Number

#: the largest magnitude a value may have: what a double holds
MAX_VALUE = 1.7976931348623157e308
#: the characters of a refused value quoted in its error message
SHOWN = 40


def parse_stat(params: Params) -> str:
    """The ``stat`` parameter in canonical form (tags sorted), without whitespace."""
    text = params.one("stat", required=True)
    try:
        stat = canonical_name(text)
    except BadLine as err:
        raise ParameterError("stat", "%r is not a valid tagged name: %s" % (text, err)) from None
    if any(char.isspace() for char in stat):
        raise ParameterError("stat", "%r holds whitespace" % stat)
    return stat


def _shown(text: str, limit: int = SHOWN) -> str:
    """``text``, cut after ``limit`` characters (a 4,000-digit value need not come back whole)."""
    return text if len(text) <= limit else "%s...(%d characters)" % (text[:limit], len(text))


def parse_number(text: str) -> Union[int, float, str]:
    """A Carbon value (int, float or text) whose numbers fit a double; 400 otherwise."""
    try:
        value = parse_value(text)
    except DroppedValue as err:
        raise ParameterError("value", str(err)) from None
    except ValueError:  # int() refuses more than 4,300 digits
        value = None
    if value is None or (isinstance(value, int) and abs(value) > MAX_VALUE):
        raise ParameterError("value", "%s is out of range: a number must fit a double "
                                      "(at most about 1.8e308)" % _shown(text))
    return value


def parse_timestamp(params: Params, now: float) -> Number:
    """``timestamp`` in any form of /series times; absent or ``-1`` (as in karbon) is now."""
    timestamp = params.time("timestamp", now)
    if timestamp is None or timestamp == -1:
        return now
    return timestamp


def _bucketable(interval: Interval, timestamp: Number, expiring: bool) -> None:
    """Raise when kairos cannot file ``timestamp`` (or the end of its retention) in ``interval``."""
    i_key = interval.step.to_bucket(timestamp)
    interval.resolution_bucket(timestamp)
    if expiring:
        expires = interval.expires_at(i_key)
        if expires is not None and not MIN_TIME <= expires <= MAX_TIME + 1:
            raise ValueError("its retention ends after the year 9999")


def check_timestamp(schema: Schema, timestamp: Number) -> None:
    """400 when ``timestamp`` (with the schema's rolling copies) cannot be stored in ``schema``."""
    shifts = range(1, schema.rolling + 1) if schema.rolling > 0 else range(schema.rolling, 0)
    for interval in schema.timeseries.intervals.values():
        try:
            _bucketable(interval, timestamp, interval.steps is not None)
            for shift in shifts:
                _bucketable(interval, interval.copy_timestamp(timestamp, shift), False)
        except (KairosError, ValueError, OverflowError) as err:
            raise ParameterError("timestamp", "%s cannot be stored in schema %s interval %s "
                                              "(rolling %+d): %s"
                                 % (timestamp, schema.name, interval.name, schema.rolling,
                                    err)) from None


def insert(config: Configuration, params: Params, now: float) -> Dict[str, Any]:
    """/insert: store one value through the karbon path (aggregates, transforms, write_func)."""
    stat = parse_stat(params)
    value = parse_number(params.one("value", required=True))
    timestamp = parse_timestamp(params, now)
    routes = config.route(stat)
    if not routes:
        raise ParameterError("stat", "%r matches no schema: nothing stored" % stat)
    for schema in dict.fromkeys(route.schema for route in routes):
        check_timestamp(schema, timestamp)
    batches, planned = plan(config, [(stat, value, timestamp)])
    refused = list(planned.rejections)
    stored = []
    for batch in batches.values():
        refusals = store(batch)
        refused.extend(str(refusal) for refusal in refusals)
        bad = {(r.stat, r.timestamp) for r in refusals}
        for name, stored_value, ts in batch.items():
            if (name, ts) not in bad:
                stored.append({"schema": batch.schema.name, "stat": name, "value": stored_value,
                               "timestamp": ts})
    if refused and not stored:
        raise ParameterError("value", "nothing stored: %s" % _shown("; ".join(refused), 500))
    return {"stat": stat, "value": value, "timestamp": timestamp, "stored": stored,
            "skipped": planned.skipped, "refused": refused}
