"""The path every point takes into storage, shared by karbon, torus /insert and schema_test.

``plan(config, points)`` routes each ``(stat, value, timestamp)`` through the
matching schemas and aggregates, applies each schema's ``transform`` and
``write_func`` point by point (so one bad value costs only itself), and groups
the survivors per schema as the ``bulk_insert`` structure of kairos. It does no
I/O. ``store(batches)`` then writes one ``bulk_insert`` per schema; a batch whose
engine rejects a value is retried point by point so the rest still lands.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from kairos import InvalidValue

from .config import Configuration
from .schema import Schema

log = logging.getLogger(__name__)

Point = Tuple[str, Any, Optional[float]]
#: {timestamp: {stat: [values]}}, the argument of kairos bulk_insert
Inserts = Dict[Optional[float], Dict[str, List[Any]]]


@dataclass
class Batch:
    """The points bound for one schema."""

    schema: Schema
    inserts: Inserts = field(default_factory=dict)
    points: int = 0
    aggregates: int = 0

    def items(self) -> Iterable[Point]:
        for timestamp, stats in self.inserts.items():
            for stat, values in stats.items():
                for value in values:
                    yield stat, value, timestamp


@dataclass
class PlanStats:
    """What ``plan`` did with the points it was given."""

    points: int = 0
    unmatched: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: List[str] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        if len(self.rejections) < 10:
            self.rejections.append(why)


def plan(config: Configuration, points: Iterable[Point]) -> Tuple[Dict[str, Batch], PlanStats]:
    """Group points per schema name after routing, transform and write_func."""
    batches: Dict[str, Batch] = {}
    stats = PlanStats()
    route = config.route
    count = unmatched = 0
    # the hot loop of karbon: lookups bound to locals, the transform call skipped when there is none
    for stat, value, timestamp in points:
        count += 1
        routes = route(stat)
        if not routes:
            unmatched += 1
            continue
        for schema, name, via in routes:
            try:
                if schema.transform is None:
                    prepared = value
                else:
                    name, prepared = schema.apply_transform(name, value)
                    if name is None:
                        stats.skipped += 1
                        continue
                prepared = schema.write_func(prepared)
            except Exception as err:  # a user function failed on this value only
                stats.reject("%s %r -> schema %s: %s: %s" % (stat, value, schema.name,
                                                              type(err).__name__, err))
                continue
            batch = batches.get(schema.name)
            if batch is None:
                batch = batches[schema.name] = Batch(schema)
            stamp = batch.inserts.get(timestamp)
            if stamp is None:
                stamp = batch.inserts[timestamp] = {}
            values = stamp.get(name)
            if values is None:
                stamp[name] = [prepared]
            else:
                values.append(prepared)
            batch.points += 1
            if via:
                batch.aggregates += 1
    stats.points += count
    stats.unmatched += unmatched
    return batches, stats


@dataclass(frozen=True)
class Refusal:
    """A point its schema's storage refused (a value that does not fit the column, say)."""

    schema: str
    stat: str
    value: Any
    timestamp: Optional[float]
    reason: str

    def __str__(self) -> str:
        return "%s %r -> schema %s: %s" % (self.stat, self.value, self.schema, self.reason)


def store(batch: Batch) -> List[Refusal]:
    """Write one schema's batch; returns the points refused one by one (engine failures raise).

    When the engine refuses a value, the batch is split in halves until the refused
    points are isolated: the rest is stored in a few round trips, in order.
    """
    schema = batch.schema
    try:
        schema.timeseries.bulk_insert(batch.inserts, intervals=schema.rolling)
        return []
    except InvalidValue:
        return _isolate(schema, list(batch.items()))


def _isolate(schema: Schema, points: List[Point]) -> List[Refusal]:
    """Store ``points`` that the engine refused as a whole, halving until the bad ones are alone."""
    if len(points) == 1:
        stat, value, timestamp = points[0]
        try:
            schema.timeseries.insert(stat, value, timestamp=timestamp, intervals=schema.rolling)
            return []
        except InvalidValue as err:
            return [Refusal(schema.name, stat, value, timestamp, str(err))]
    refused: List[Refusal] = []
    middle = len(points) // 2
    for half in (points[:middle], points[middle:]):
        try:
            schema.timeseries.bulk_insert(_inserts(half), intervals=schema.rolling)
        except InvalidValue:
            refused.extend(_isolate(schema, half))
    return refused


def _inserts(points: List[Point]) -> Inserts:
    inserts: Inserts = {}
    for stat, value, timestamp in points:
        inserts.setdefault(timestamp, {}).setdefault(stat, []).append(value)
    return inserts
