"""The path every point takes into storage, shared by karbon, torus /insert and schema_test.

``plan(config, points)`` routes each ``(stat, value, timestamp)`` through the
matching schemas and aggregates, applies each schema's ``transform`` and
``write_func`` point by point (so one bad value costs only itself), and groups
the survivors per schema as the ``bulk_insert`` structure of kairos, each group a
``Batch`` with an id of its own. It does no I/O. ``store(batch)`` then writes the
batch with ``bulk_insert``; a value the engine refuses is isolated by halving the
batch, so the rest still lands. ``send(batch)`` sends a whole batch without waiting
for its answer, on engines with ``pipelined``; a batch it could not settle goes
through ``store``.

``store`` can be called again after it raised (a timeout, a dropped connection):
it sends exactly what is not known to be stored, under the same batch ids and the
same ``now``, so on engines that apply batches exactly once (SQL, Redis) a retry
never counts a point twice, even when the failed attempt was applied after all.
"""
from __future__ import annotations

import itertools
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, cast

from kairos import InvalidValue, PartiallyStored
from kairos.pending import Pending

from .config import Configuration
from .schema import Schema

log = logging.getLogger(__name__)

Point = Tuple[str, Any, Optional[float]]
#: {timestamp: {stat: [values]}}, the argument of kairos bulk_insert; ``plan`` stores a stat's
#: only value at a timestamp bare when it is an int or a float (no list per point), which
#: bulk_insert takes as the list of it
Inserts = Dict[Optional[float], Dict[str, List[Any]]]


class BatchIds:
    """Unique batch ids: a random prefix per source (process, request) and a counter."""

    def __init__(self, prefix: Optional[str] = None):
        self.prefix = prefix or uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def next(self) -> str:
        return "%s.%d" % (self.prefix, next(self._counter))


@dataclass
class Unit:
    """A part of a batch written with one ``bulk_insert``, under its own id."""

    id: str
    inserts: Inserts
    points: int

    def items(self) -> Iterator[Point]:
        return iter_points(self.inserts)


@dataclass
class Refusal:
    """Points storage refused: one value that does not fit its column, or every value a
    bucket held when the database refused that bucket's write (``interval`` is then set)."""

    schema: str
    stat: str
    value: Any
    timestamp: Optional[float]
    reason: str
    points: int = 1
    interval: Optional[str] = None

    def __str__(self) -> str:
        if self.interval is not None:
            return "%s: %d value(s) in interval %s bucket %s -> schema %s: %s" % (
                self.stat, self.points, self.interval, self.timestamp, self.schema, self.reason)
        return "%s %r -> schema %s: %s" % (self.stat, self.value, self.schema, self.reason)


@dataclass
class Batch:
    """The points bound for one schema, and how far storing them got."""

    schema: Schema
    inserts: Inserts = field(default_factory=dict)
    points: int = 0
    aggregates: int = 0
    #: the batch's id: every retry and replay sends its parts under the same ids
    id: str = ""
    #: the ``now`` of the first attempt, sent again with every retry (retention, "now" points)
    created: float = 0.0
    #: the parts not known to be stored yet (None: the whole batch)
    pending: Optional[List[Unit]] = None
    #: what storage refused so far
    refused: List[Refusal] = field(default_factory=list)

    def items(self) -> Iterator[Point]:
        return iter_points(self.inserts)

    def unstored(self) -> List[Unit]:
        """The parts of the batch that are not stored (what dead letters must hold)."""
        if self.pending is None:
            return [Unit(self.id, self.inserts, self.points)]
        return list(self.pending)


#: types whose stored value does not depend on the order values are written in: a batch of
#: them may take in another one's values at a timestamp it holds already
ORDER_FREE_TYPES = frozenset(("count", "histogram", "set"))
#: types whose batch is written timestamp by timestamp in time order (kairos: a gauge's
#: bucket keeps the value of the batch's latest timestamp in it): a batch of them takes in
#: another only when none of its timestamps is earlier than the first one's last
TIME_ORDER_TYPES = frozenset(("gauge",))


def absorb(waiting: Batch, later: Batch, limit: int) -> bool:
    """Add the points of ``later`` to ``waiting`` (a batch of the same schema not sent yet)
    unless that would pass ``limit`` points; True when done (``later`` is then spent).

    The merged batch keeps ``waiting``'s id and ``created``: ``later``'s id is never used.
    A series stores the values of a batch timestamp by timestamp, in the order the batch
    holds them, a gauge in time order: merged, ``later``'s values at a timestamp
    ``waiting`` holds go with that timestamp's, before ``waiting``'s next timestamps and
    ``later``'s earlier ones. A series' batches merge only when the one timestamp they
    share, if any, is the last of ``waiting`` and the first of ``later`` (a flush cut in
    two by the planner's batch size), a gauge's only when no timestamp of ``later`` is
    earlier than ``waiting``'s latest, so values are written as separate batches would
    write them. A batch with points of no timestamp (stamped with ``created`` when
    written) never merges.
    """
    if (later.schema is not waiting.schema or waiting.pending is not None
            or waiting.points + later.points > limit or None in later.inserts
            or None in waiting.inserts):
        return False
    inserts = waiting.inserts
    if waiting.schema.type in TIME_ORDER_TYPES:
        if not _in_time_order(inserts, later.inserts):
            return False
    elif waiting.schema.type not in ORDER_FREE_TYPES and not _in_order(inserts, later.inserts):
        return False
    for timestamp, stats in later.inserts.items():
        stamp = inserts.get(timestamp)
        if stamp is None:
            inserts[timestamp] = stats  # the usual case: flushes come one timestamp each
            continue
        for stat, values in stats.items():
            had = stamp.get(stat)
            if had is None:
                stamp[stat] = values
                continue
            if type(had) is not list:  # a number alone: ``plan``'s usual form
                had = stamp[stat] = [had]
            if type(values) is list:
                had.extend(values)  # every list of ``waiting`` is its own
            else:
                had.append(values)
    waiting.points += later.points
    waiting.aggregates += later.aggregates
    later.inserts, later.points, later.aggregates = {}, 0, 0
    return True


def _in_time_order(first: Inserts, then: Inserts) -> bool:
    """Whether no timestamp of ``then`` is earlier than ``first``'s latest (neither holds a
    None timestamp): a late point stays in a batch of its own, written after."""
    return min(cast(Iterable[float], then)) >= max(cast(Iterable[float], first))


def _in_order(first: Inserts, then: Inserts) -> bool:
    """Whether ``then`` merged into ``first`` keeps every value in its order: they share no
    timestamp but maybe ``first``'s last, when it is ``then``'s first."""
    shared = first.keys() & then.keys()
    return not shared or (len(shared) == 1 and next(reversed(first)) in shared
                          and next(iter(then)) in shared)


def iter_points(inserts: Inserts) -> Iterator[Point]:
    for timestamp, stats in inserts.items():
        for stat, values in stats.items():
            if type(values) is list:
                for value in values:
                    yield stat, value, timestamp
            else:  # a number alone (``plan``)
                yield stat, values, timestamp


@dataclass
class PlanStats:
    """What ``plan`` did with the points it was given."""

    points: int = 0
    unmatched: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: List[str] = field(default_factory=list)
    #: the points no schema (nor any aggregate of theirs) matched, as given
    unmatched_points: List[Point] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        if len(self.rejections) < 10:
            self.rejections.append(why)


def plan(config: Configuration, points: Iterable[Point], ids: Optional[BatchIds] = None,
         now: Optional[float] = None) -> Tuple[Dict[str, Batch], PlanStats]:
    """Group points per schema name after routing, transform and write_func.

    Each batch gets the next id of ``ids`` (a fresh ``BatchIds`` by default) and
    ``now`` (default: the clock) as the time its writes are made at.
    """
    ids = ids or BatchIds()
    now = time.time() if now is None else now
    batches: Dict[str, Batch] = {}
    stats = PlanStats()
    route = config.route
    cached = config.cached_route
    count = unmatched = 0
    lost = stats.unmatched_points
    # per schema, [batch, timestamp, {stat: [values]}] of its last point: points come
    # time-major (statsd, collectd flush), so a schema's next point usually shares its stamp
    last: Dict[str, list] = {}
    # the hot loop of karbon: lookups bound to locals, the transform call skipped when there
    # is none, no per-point counter on the batches (counted once at the end)
    for stat, value, timestamp in points:
        count += 1
        routes = cached(stat)
        if routes is None:
            routes = route(stat)
        if not routes:
            unmatched += 1
            lost.append((stat, value, timestamp))
            continue
        for schema, name, via in routes:
            if schema.plain_numbers and (type(value) is int or (
                    type(value) is float and not value.is_integer())):
                prepared = value  # what long_or_float would return
            else:
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
            target = last.get(schema.name)
            if target is None:
                batch = batches[schema.name] = Batch(schema, id=ids.next(), created=now)
                target = last[schema.name] = [batch, _NO_STAMP, None, 0]
            if target[1] is timestamp or target[1] == timestamp:
                stamp = target[2]
            else:
                inserts = target[0].inserts
                stamp = inserts.get(timestamp)
                if stamp is None:
                    stamp = inserts[timestamp] = {}
                target[1] = timestamp
                target[2] = stamp
            values = stamp.get(name)  # never None: a None value is stored in a list
            if values is None:
                # one number alone, the usual case (no list per point; see ``Inserts``)
                stamp[name] = prepared if type(prepared) in _BARE else [prepared]
            else:
                target[3] += 1  # a second value of the stat at this timestamp
                if type(values) is list:
                    values.append(prepared)
                else:
                    stamp[name] = [values, prepared]
            if via:
                target[0].aggregates += 1
    for batch, _, _, more in last.values():  # a value per stat and timestamp, and the more
        batch.points = sum(map(len, batch.inserts.values())) + more
    stats.points += count
    stats.unmatched += unmatched
    return batches, stats


#: the "last timestamp" of a schema before its first point (equal to no timestamp)
_NO_STAMP = object()
#: values ``plan`` stores bare, not in a list, when a stat has one at a timestamp
_BARE = frozenset((int, float))


def store(batch: Batch, run: Optional[Callable[[Callable[[], None]], None]] = None
          ) -> List[Refusal]:
    """Write what of ``batch`` is not stored yet; returns everything refused once all is done.

    ``run``: how to make each write once its Python work is done here (kairos'
    ``prepare_bulk``), e.g. in the thread of a driver that holds the process while it
    waits; None: ``bulk_insert`` does both here.

    A part the engine refuses as a whole (InvalidValue: nothing of it was stored, or, a
    large gauge or set batch written in parts on SQL, values it writes again alike) is
    split in halves, each under an id of its own, until the refused points are alone;
    the rest is stored in a few round trips, in order. Engine failures (BackendError)
    raise with the unstored parts still pending: call ``store`` again to resume.
    """
    if batch.pending is None:
        batch.pending = [Unit(batch.id, batch.inserts, batch.points)]
    schema = batch.schema
    timeseries = schema.timeseries
    pending = batch.pending
    while pending:
        unit = pending[0]
        try:
            if run is None:
                timeseries.bulk_insert(unit.inserts, intervals=schema.rolling,
                                       batch_id=unit.id or None, now=batch.created or None)
            else:
                run(timeseries.prepare_bulk(unit.inserts, intervals=schema.rolling,
                                            batch_id=unit.id or None, now=batch.created or None))
        except PartiallyStored as err:  # stored, but for the buckets it names
            _partly_stored(batch, err)
        except InvalidValue as err:  # nothing of the unit was stored (or gauges, sets again alike)
            if unit.points <= 1:
                for stat, value, timestamp in unit.items():
                    batch.refused.append(Refusal(schema.name, stat, value, timestamp, str(err)))
            else:
                pending[0:1] = _halves(unit)
                continue
        pending.pop(0)
    return batch.refused


def send(batch: Batch) -> Optional[Pending]:
    """Send a whole, untried batch without waiting for storage's answer (engines with
    ``pipelined``): returns what waits for it and returns what was refused, as ``store``
    does. None: the batch must go through ``store`` (another engine, a batch already
    tried, or a value to isolate). When the wait raises (BackendError), nothing of the
    batch counts as stored: ``store`` sends it again under its id.
    """
    schema = batch.schema
    timeseries = schema.timeseries
    if batch.pending is not None or not timeseries.pipelined:
        return None
    try:
        wait = timeseries.send_bulk(batch.inserts, intervals=schema.rolling,
                                    batch_id=batch.id or None, now=batch.created or None)
    except InvalidValue:  # nothing was sent: store() isolates the value by halving
        return None

    def settle() -> List[Refusal]:
        try:
            wait()
        except PartiallyStored as err:
            _partly_stored(batch, err)
        batch.pending = []
        return batch.refused
    return Pending(settle, lambda: wait.lost)


def _partly_stored(batch: Batch, err: PartiallyStored) -> None:
    """Record the buckets storage refused of a write that stored the rest."""
    batch.refused.extend(Refusal(batch.schema.name, bucket[0], None, bucket[2], reason,
                                 points=count, interval=bucket[1])
                         for bucket, count, reason in err.refused)


def _halves(unit: Unit) -> List[Unit]:
    points = list(unit.items())
    middle = len(points) // 2
    return [Unit("%s.%d" % (unit.id, number) if unit.id else "", _inserts(half), len(half))
            for number, half in enumerate((points[:middle], points[middle:]))]


def _inserts(points: List[Point]) -> Inserts:
    inserts: Inserts = {}
    for stat, value, timestamp in points:
        inserts.setdefault(timestamp, {}).setdefault(stat, []).append(value)
    return inserts
