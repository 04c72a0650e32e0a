"""Whether a stat has ever been stored (and not expired): one cheap lookup per name, never a SCAN.

A /series of a stat nobody ever wrote answers the same zeros or gaps as a stat
without traffic in the range. ``stored(schema, name, interval, now)`` tells them
apart with at most one extra read per name, asked through kairos' documented
customized ``fetch`` so that no engine needs a new method:

* SQL: ``SELECT name ... WHERE name = ? LIMIT 1`` on the table's name index;
* Redis, which keeps no index of names: the keys of one interval's retention
  window (the interval with ``steps`` and the fewest keys, at most
  ``REDIS_PROBE_KEYS``), checked with EXISTS in one pipeline. Redis deletes
  expired buckets, so "never stored" there means "nothing left in the window";
  without such an interval the answer is None (unknown), not a scan of the
  database;
* other engines: None.

None means "cannot tell cheaply"; callers must not treat it as "never stored".
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import sqlalchemy as sa

from kairos.intervals import Interval

from .read_cost import keys_read
from .schema import Schema

#: the most keys a Redis presence check reads (one interval's retention window)
REDIS_PROBE_KEYS = 4000

Probe = Callable[[Schema, str, Interval, float], Optional[bool]]


def _sql(schema: Schema, name: str, interval: Interval, now: float) -> Optional[bool]:
    found: List[bool] = []

    def fetch(conn: Any, table: Any, stat: str, *_bucket: Any) -> Dict:
        query = sa.select(table.c.name).where(table.c.name == stat).limit(1)
        found.append(conn.execute(query).first() is not None)
        return {}  # no rows for the read itself: only the answer above matters

    schema.timeseries.get(name, interval.name, timestamp=now, fetch=fetch)
    return found[0]


def _window(schema: Schema, now: float) -> Optional[Interval]:
    """The interval with ``steps`` whose whole retention window has the fewest keys."""
    best, best_keys = None, REDIS_PROBE_KEYS + 1
    for interval in schema.timeseries.intervals.values():
        oldest = interval.oldest_bucket(now)
        if oldest is None:
            continue
        keys = keys_read(interval, oldest, interval.step.to_bucket(now), REDIS_PROBE_KEYS)
        if keys < best_keys:
            best, best_keys = interval, keys
    return best


def _redis(schema: Schema, name: str, interval: Interval, now: float) -> Optional[bool]:
    window = _window(schema, now)
    oldest = window.oldest_bucket(now) if window is not None else None
    if window is None or oldest is None:
        return None
    step = window.step
    # fetch queues nothing: the engine's EXISTS of each key decides; a present key reads True
    rows = schema.timeseries.series(
        name, window.name, start=step.from_bucket(oldest), end=now,
        fetch=lambda handle, key: None, process_row=lambda raw: True,
        condense=lambda resolution_rows: bool(resolution_rows))
    return any(row is True for row in rows.values())


#: engine name (``Timeseries.engine``) -> presence check
PROBES: Dict[str, Probe] = {"sql": _sql, "redis": _redis}


def stored(schema: Schema, name: str, interval: Interval, now: float) -> Optional[bool]:
    """True when ``name`` holds data in ``schema``, False when it holds none, None: unknown."""
    probe = PROBES.get(schema.timeseries.engine)
    return None if probe is None else probe(schema, name, interval, now)


def has_values(data: Any) -> bool:
    """Whether an answer holds any non-empty value (then the stat is stored: no lookup needed)."""
    if isinstance(data, dict):
        return any(has_values(value) for value in data.values())
    if isinstance(data, (list, tuple, set, frozenset)):
        return any(has_values(value) for value in data)
    return data is not None and data != 0 and data is not False
