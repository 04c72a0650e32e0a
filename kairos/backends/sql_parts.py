"""A large SQL batch written in parts at once: one transaction per run of its names.

A database server runs one statement on one core. A karbon schema has one writer,
which stores one batch at a time, so on PostgreSQL one server process worked while
the other core idled (karbon's gauges, 4 points in 5, on one connection). Written as
``write_parts`` parts, each a transaction on its own connection, the batch keeps as
many server processes busy: ``ingest_bench --cases karbon-postgresql --regime
steady``, 3 rounds alternating, 115k, 126k, 121k points/s in one part and 127k, 142k,
152k in two.

The rows, sorted, are cut between names into runs of about equal length, each a
transaction under its own marker (``<batch id>#<k>/<n>``): a retry of the batch, cut the
same way, skips the parts already stored. When the database refuses a value of one
part, the parts stored meanwhile are not rolled back: their markers are deleted, so
the batch sent again under its id is written whole. Only tables whose rows come out
the same when written twice in a row are written in parts (gauges: the last value;
sets: a member), never a total or a list of values. Parts wait for nothing but their
own rows: a part waiting for the others before it commits (all or nothing) would let
two writers of the same names wait for each other in a circle the database cannot
see. Parts need gevent's monkey-patching (karbon, torus), which runs them as
greenlets on the pool's connections; elsewhere a batch is one transaction.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Sequence

from ..cooperative import at_once, sockets_patched
from ..exceptions import BackendError

log = logging.getLogger(__name__)

#: rows a batch makes before it is cut (a small write, torus /insert, stays whole)
PART_MIN_ROWS = 1000
#: the most parts a batch may be written in (``write_parts``)
MAX_PARTS = 8


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


def parts_for(engine: Any, wanted: int) -> int:
    """The parts a batch is cut in on ``engine``: ``wanted``, but 1 when parts cannot run
    at once, and no more than the connections its pool keeps open."""
    if wanted == 1 or not sockets_patched():
        return 1
    import sqlalchemy as sa
    pool = engine.pool
    if isinstance(pool, sa.pool.QueuePool):  # the connections it keeps (more: opened and
        return max(1, min(wanted, pool.size() or wanted))  # closed again at every batch)
    if isinstance(pool, sa.pool.NullPool):  # a new connection every time
        return wanted
    return 1  # one shared connection (StaticPool, SingletonThreadPool)


def run_all(calls: Sequence[Callable[[], Any]]) -> None:
    """Run every call at once, as greenlets; then raise the first error (the others are
    logged). A part that did not finish (killed) is an error too: it was not written."""
    errors = [error for _, error in at_once(calls) if error is not None]
    for later in errors[1:]:
        log.warning("another part of the same batch failed too: %s: %s",
                    type(later).__name__, later)
    if errors:
        first = errors[0]
        if not isinstance(first, Exception):  # GreenletExit: not the caller's own
            raise BackendError("a part of the batch was interrupted (%s)" % type(first).__name__)
        raise first
