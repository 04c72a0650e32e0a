"""A large SQL batch written in parts at once: one transaction per run of its names.

A database server runs one statement on one core. A karbon schema has one writer,
which stores one batch at a time, so on PostgreSQL one server process worked while
the other core idled (karbon's gauges, 4 points in 5, on one connection). Written as
``write_parts`` parts, each a transaction on its own connection, the batch keeps as
many server processes busy: ``ingest_bench --cases karbon-postgresql --regime
steady``, 3 rounds alternating, 115k, 126k, 121k points/s in one part and 127k, 142k,
152k in two.

The rows, sorted, are cut between names into runs of about equal length, each a batch
of its own with its own marker (``<batch id>#<k>/<n>``): a retry or a replay skips the
parts already stored and writes the others. Only tables whose rows come out the same
when written twice are written in parts (gauges: the last value; sets: a member):
when the database refuses a value of one part while another was stored, the caller
splits the batch in halves under new ids (``torus.processing.store``) and writes the
stored part again, which a total or a list of values would take twice. Parts run at
once under gevent's monkey-patching (karbon, torus), as greenlets; elsewhere one after
the other, the same transactions and markers.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

#: rows a batch makes before it is cut (a small write, torus /insert, stays whole)
PART_MIN_ROWS = 1000
#: the most parts a batch may be written in (``write_parts``)
MAX_PARTS = 16


def cut(rows: List[tuple], parts: int) -> List[List[tuple]]:
    """``rows`` (sorted, a name's rows together) in ``parts`` runs of about equal length,
    cut between names: each part's transaction touches its own range of the table's key,
    so the server processes do not wait on each other's pages (names dealt out by a
    hash of each, every part in every page, measured no faster than one part)."""
    out: List[List[tuple]] = []
    start = 0
    for k in range(1, parts + 1):
        end = len(rows) * k // parts
        while 0 < end < len(rows) and rows[end][0] == rows[end - 1][0]:
            end += 1
        if end > start:
            out.append(rows[start:end])
            start = end
    return out


def part_id(batch_id: Optional[str], k: int, parts: int) -> Optional[str]:
    """The id part ``k`` of ``parts`` is written under (None without a batch id)."""
    return None if batch_id is None else "%s#%d/%d" % (batch_id, k, parts)


def run_all(calls: Sequence[Callable[[], Any]]) -> None:
    """Run every call, at once under gevent's monkey-patching; then raise the first error
    (the parts that succeeded are stored, under their markers)."""
    errors: List[BaseException] = []

    def guarded(call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception as err:
            errors.append(err)

    spawn = _spawn()
    if spawn is None or len(calls) == 1:
        for call in calls:
            guarded(call)
    else:
        from gevent import joinall
        joinall([spawn(guarded, call) for call in calls])
    if errors:
        raise errors[0]


def _spawn() -> Optional[Callable[..., Any]]:
    """gevent's spawn when its monkey-patching made the drivers cooperate, else None."""
    try:
        from gevent import spawn
        from gevent.monkey import is_module_patched
    except ImportError:  # pragma: no cover - gevent comes with torus
        return None
    return spawn if is_module_patched("socket") else None
