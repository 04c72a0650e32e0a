"""The Timeseries API of seed 002, written once for every storage engine.

``Timeseries(client, type=..., intervals=...)`` picks the engine class from the
client (a URL or a driver object, see ``registry``) and returns an instance of it.
This base turns writes into per-bucket batches and runs the read pipeline

    fetch -> process_row -> condense -> join_rows -> collapse -> transform

so an engine implements only storage primitives:

* ``_write(kind_batch, batch_id=None, now=None, new_names=(), **kwargs)``: store
  ``{(name, interval, i_key, r_key): aggregated}`` (the shape ``TimeseriesType.aggregate``
  returns), one round trip where it can; an engine with ``exactly_once`` applies a batch
  with a ``batch_id`` atomically and records the id in the same step, so the same batch
  sent again (a retry after a timeout) changes nothing;
* ``_fetch(name, interval, first, last, fetch)``: ``{i_key: {r_key or None: raw}}``;
* ``list``, ``_properties``, ``delete``, ``delete_all``, ``expire``;
* the name index (``kairos.names``): ``_write`` also stores the index entries of its
  ``new_names`` (in the data's transaction on SQL, in a call before it on Redis), and
  ``_index_children``, ``_index_find``, ``_index_tagged``, ``_index_entries``,
  ``_index_add``, ``_index_discard``, ``_index_built``, ``_index_set_built`` serve
  ``nodes``, ``lookup``, ``tagged_names`` and ``rebuild_index``; ``_write`` may return
  the new names it could not index (tried again with their next write);
* ``_release()``: close the driver objects the engine built from a URL (``close``).

Every one of these storage calls raises ``Closed`` once ``close()`` ran: the check is
added to each engine's methods as the class is defined (``kairos.lifecycle``), not
written in every engine.
"""
from __future__ import annotations

import operator
import time
from collections import OrderedDict
from numbers import Real
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, cast)

from . import names as name_index
from . import registry
from .exceptions import (BackendError, ConfigError, InvalidValue, KairosError, PartiallyStored, UnknownInterval,
                         UnsupportedType)
from .intervals import Interval, parse_intervals
from .lifecycle import guard_storage_calls
from .names import Entry, Node
from .pending import Pending
from .slot_batch import SlotBatch
from .transforms import compile_transform
from .types import TYPES, TimeseriesType

_MULTI = (list, tuple, set, frozenset)
_first_item = operator.itemgetter(0)
#: ints within this are converted by ``float()`` (past about 2**1024 it overflows)
FLOAT_SAFE = 2 ** 1023


def _grid(config: Interval, first: int, last: int, apply: Callable[[Any, int], Any]
          ) -> Tuple[List[int], List[int], Optional[List[int]]]:
    """The bucket keys of ``first..last``, their timestamps, and their durations when
    ``apply`` (a transform) needs them: worked out once for every name of a read."""
    keys = list(config.step.iter_buckets(first, last))
    stamps = [config.step.from_bucket(key) for key in keys]
    durations = None if apply is _untransformed else [config.step.duration(key) for key in keys]
    return keys, stamps, durations


def _nothing() -> None:
    """What ``send_bulk``'s wait does when the batch had nothing to write."""
#: the timestamps kairos stores: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the years that
#: calendars (and the 64-bit columns and TTLs of every engine) can hold
TIMESTAMP_MIN, TIMESTAMP_MAX = -62135596800, 253402300799


class Timeseries:
    """A named family of timeseries of one type, stored in one engine.

    Capabilities: each engine declares what its storage does, as class attributes (or
    properties) that callers read instead of asking which engine or database driver
    they have (see ``native_expiry``, ``exactly_once``, ``blocking``,
    ``keep_batch_ids`` below, and ``engine``, the engine's name, for messages).

    Lifecycle: ``close()`` releases what the timeseries opened itself (the SQLAlchemy
    engine, Redis pool, MongoClient or Cassandra Cluster it built from a URL); a
    client object passed in stays its owner's, so several timeseries may share one
    and close in any order. ``clock`` (default ``time.time``) is the "now" of every
    call given no time: inserts without a timestamp, ``get``/``series`` without one,
    retention and ``expire``.
    """

    #: set by each engine subclass, e.g. "sql", "redis"
    engine = ""
    #: whether the engine expires data by itself (TTL); copies outside retention are skipped
    native_expiry = False
    #: whether a ``bulk_insert`` with a ``batch_id`` is applied at most once (atomic, id recorded)
    exactly_once = False
    #: whether the driver blocks every greenlet while it waits (callers run it in a thread)
    blocking = False
    #: the file a ``blocking`` engine writes, when several timeseries may share it (None:
    #: nothing shared); callers writing from threads use one thread per file, so that the
    #: writers of one file do not wait on each other's lock
    storage_file: Optional[str] = None
    #: keep every batch id for the engine's whole ``batch_ttl``, even once its write was
    #: acknowledged; for callers that may send a batch again after it succeeded (a replay
    #: interrupted and run again). Engines may otherwise forget acknowledged ids sooner.
    keep_batch_ids = False
    #: whether ``send_bulk`` returns before storage answered (several batches in flight on
    #: one connection, applied in the order they were sent); otherwise it writes at once
    pipelined = False
    #: an engine's check/coercion of each written value (after ``write_func``), run once per
    #: value before it is copied into its buckets; raises InvalidValue. None: values as given.
    _check_value: Optional[Callable[[Any], Any]] = None
    #: the exact types ``_check_value`` returns unchanged (a float for a float column): their
    #: values skip the call, one per point on the write path
    _unchecked_types: Tuple[type, ...] = ()
    #: whether ``_check_value`` makes ``float(value)`` of an int (a float column): a lone
    #: int is converted in place, without the call
    _ints_as_floats = False
    #: whether ``close()`` ran (every storage call then raises Closed)
    closed = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make each storage call an engine defines refuse to run once closed."""
        super().__init_subclass__(**kwargs)
        guard_storage_calls(cls)

    def __new__(cls, client: Any = None, *args: Any, **kwargs: Any) -> "Timeseries":
        if cls is Timeseries:
            cls = registry.engine_for(client)
        return super().__new__(cls)

    def __init__(self, client: Any, type: Optional[str] = None, intervals: Optional[dict] = None,
                 read_func: Optional[Callable] = None, write_func: Optional[Callable] = None,
                 clock: Callable[[], float] = time.time, **options: Any):
        if not callable(clock):
            raise ConfigError("clock must be a callable returning seconds since the epoch, "
                              "not %r" % (clock,))
        #: "now", for every call given no time (tests pass a fake clock)
        self.clock = clock
        #: whether the client was a URL: then the engine built its driver objects and
        #: ``close`` releases them; a client object passed in is its owner's to close
        self.owns_client = isinstance(client, str)
        if type is None:
            raise ConfigError("a timeseries needs a type: one of %s" % ", ".join(TYPES))
        if type not in TYPES:
            raise UnsupportedType("unknown timeseries type %r: use one of %s" % (type, ", ".join(TYPES)))
        self.type = type
        self.kind: TimeseriesType = TYPES[type](read_func)
        self.intervals: Dict[str, Interval] = parse_intervals(intervals)
        self.read_func = read_func
        self.write_func = write_func
        #: names whose index entries this object wrote (or found): see ``_unindexed``
        self._indexed_names: set = set()
        #: whether this object saw the index built (then ``nodes`` never checks again)
        self._index_ready = False
        self._setup(client, **options)

    # -- engine hooks ---------------------------------------------------
    def _setup(self, client: Any, **options: Any) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Close the driver objects built from the URL (called once, only when ``owns_client``)."""

    def close(self) -> None:
        """Release the storage connections this timeseries opened; safe to call again.

        Only what it built from a URL is closed: a client object passed in may be shared
        by other timeseries and stays open. Every storage call afterwards raises
        ``kairos.Closed``; a call already running finishes (close when they are done).
        """
        if self.closed:
            return
        self.closed = True
        if self.owns_client:
            self._release()

    def _write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
               now: Optional[float] = None, new_names: Sequence[str] = (),
               **kwargs: Any) -> Optional[Sequence[str]]:
        """Store the batch; returns the ``new_names`` it could not index, if any."""
        raise NotImplementedError

    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        raise NotImplementedError

    def _fetch_many(self, names: Sequence[str], interval: Interval, first: int, last: int,
                    fetch: Optional[Callable]) -> Dict[str, Dict[int, Dict[Optional[int], Any]]]:
        """``_fetch`` of several names: ``{name: raw}``. Engines that can read several names
        in one round trip override it; this one asks for each in turn."""
        return {name: self._fetch(name, interval, first, last, fetch) for name in names}

    def _fetch_flat(self, names: Sequence[str], interval: Interval, first: int, last: int
                    ) -> Dict[str, Tuple[Sequence[int], Sequence[Any]]]:
        """What ``points`` reads: per name, the keys of its stored buckets (the resolution key
        where the interval has one) and their raw rows, in two parallel lists. Engines that
        can fill these straight from their replies override it."""
        out: Dict[str, Tuple[Sequence[int], Sequence[Any]]] = {}
        for name, by_bucket in self._fetch_many(names, interval, first, last, None).items():
            keys: List[int] = []
            rows: List[Any] = []
            for i_key, by_resolution in by_bucket.items():
                for r_key, raw in by_resolution.items():
                    keys.append(i_key if r_key is None else r_key)
                    rows.append(raw)
            out[name] = (keys, rows)
        return out

    def _fetch_dense(self, names: Sequence[str], interval: Interval, first: int, last: int
                     ) -> Optional[Dict[str, List[Any]]]:
        """What ``series_many`` reads for an interval without resolution and no custom fetch:
        per name, the raw row of each interval bucket from ``first`` to ``last`` in order
        (None where nothing is stored). Engines whose replies come in that shape (Redis'
        MGET) override it to skip the per-bucket dicts of ``_fetch_many``; None: not here."""
        return None

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        """``{interval name: (first key, last key)}`` for intervals holding data."""
        raise NotImplementedError

    def ping(self) -> None:
        """One cheap round trip to the storage (a readiness probe); BackendError when it fails."""
        raise NotImplementedError

    # -- the name index hooks (see kairos.names) ------------------------------
    def _index_children(self, depth: int, low: str, high: Optional[str]) -> List[Tuple[str, str]]:
        """``(path, kind)`` of the entries of ``depth`` with ``low <= path < high``."""
        raise NotImplementedError

    def _index_find(self, keys: Sequence[Tuple[int, str]]) -> List[Tuple[str, str]]:
        """``(path, kind)`` of the entries at exactly these ``(depth, path)``: leaves and
        branches, and at depth 0 tagged names."""
        raise NotImplementedError

    def _index_tagged(self) -> List[str]:
        """Every tagged name in the index."""
        raise NotImplementedError

    def _index_entries(self) -> List[Entry]:
        """Every entry of the index (the marker aside): for ``rebuild_index`` only."""
        raise NotImplementedError

    def _index_add(self, entries: Sequence[Entry]) -> None:
        """Store entries (idempotent: an entry already there is left alone)."""
        raise NotImplementedError

    def _index_discard(self, entries: Sequence[Entry]) -> None:
        """Remove exactly these entries (no pruning of branches)."""
        raise NotImplementedError

    def _index_built(self) -> bool:
        """Whether the marker saying the index was built is there."""
        raise NotImplementedError

    def _index_set_built(self) -> None:
        raise NotImplementedError

    # -- the name index -------------------------------------------------------
    def nodes(self, parent: str = "") -> List[Node]:
        """The direct children of the dotted path ``parent`` ("" = the root), sorted by path.

        Each is a ``Node(name, path, is_leaf, is_branch)``: a leaf is a stored name, a
        branch has children (a node can be both). Tagged names are not in the tree. One
        range read of the index: it never lists another level or another subtree.
        """
        try:
            parent = name_index.check_parent(parent)
        except ValueError as err:
            raise InvalidValue(str(err)) from None
        self._ensure_index()
        return name_index.to_nodes(self._index_children(*name_index.child_range(parent)))

    def lookup(self, paths: Iterable[str]) -> List[Node]:
        """The nodes at exactly these paths that exist, sorted: literal path components are
        checked in one read, without listing their siblings. Paths that cannot be nodes
        (tagged, empty components) are simply not found."""
        if isinstance(paths, str):
            paths = [paths]
        keys = sorted({(name_index.depth_of(p), p) for p in paths
                       if isinstance(p, str) and not name_index.is_tagged(p)
                       and name_index.in_tree(p)})
        if not keys:
            return []
        self._ensure_index()
        return name_index.to_nodes(self._index_find(keys))

    def known(self, names: Iterable[str]) -> Dict[str, Optional[bool]]:
        """Whether each name is stored, from the name index: True or False per name, None
        for a name the index cannot hold (an empty component: ``a..b``). One read of the
        index, never a scan of the data. The index follows writes and deletes at once and
        expiry at the next ``rebuild_index`` (karbon's upkeep pass), so a name whose data
        all expired stays known until then."""
        keys = {name: name_index.own_key(name) for name in names}
        wanted = sorted({key for key in keys.values() if key is not None})
        if wanted:
            self._ensure_index()
        found = {path for path, kind in (self._index_find(wanted) if wanted else ())
                 if kind in (name_index.LEAF, name_index.TAGGED)}
        return {name: None if key is None else name in found for name, key in keys.items()}

    def tagged_names(self) -> List[str]:
        """Every stored name holding tags (``cpu;host=a``), sorted."""
        self._ensure_index()
        return sorted(self._index_tagged())

    def tree_names(self) -> List[str]:
        """Every stored name of the tree (the leaves; tagged names aside), sorted: one read of
        the whole index, for Graphite's /metrics/index.json."""
        self._ensure_index()
        return sorted(path for _, path, kind in self._index_entries() if kind == name_index.LEAF)

    def _ensure_index(self) -> None:
        """Build the index from ``list()`` once, for a store written before the index existed.

        Races: two readers building at once write the same entries (idempotent) and
        both set the marker. Writers running the index code write their new names'
        entries themselves, before or with their data, so a name written after the
        ``list()`` snapshot is indexed by its writer; only a writer of an older
        version (no index code) could add names the build misses: ``rebuild_index``
        after the upgrade catches those. A name deleted between the snapshot and the
        build comes back as a stale entry, which ``rebuild_index`` prunes too.
        """
        if self._index_ready:
            return
        if not self._index_built():
            self._index_add(name_index.entries_of(self.list()))
            self._index_set_built()
        self._index_ready = True

    def rebuild_index(self) -> Dict[str, int]:
        """Make the index match the stored names: ``{"added": n, "removed": m}`` entries.

        Deleting a name removes its entries, but data that expires does not: Redis TTLs
        and SQL ``expire_all`` (and MongoDB/Cassandra TTLs) leave the entries of names
        with no data left, which ``nodes`` keeps listing until this runs (a periodic
        job, like ``expire_all``). Entries are compared, not replaced: an entry a
        writer adds meanwhile is kept. The one race left: a name whose data had all
        expired and is written again between the ``list()`` here and the removal loses
        its entries until the next rebuild (its writer believes it indexed).
        """
        existing = set(self._index_entries())
        stored = set(self.list())
        wanted = set(name_index.entries_of(stored))
        added = sorted(wanted - existing)
        removed = sorted(existing - wanted)
        if added:
            self._index_add(added)
        if removed:
            self._index_discard(removed)
        self._index_set_built()
        self._index_ready = True
        self._indexed_names &= stored
        return {"added": len(added), "removed": len(removed)}

    def _forget_names(self, names: Optional[Iterable[str]] = None) -> None:
        """After a delete: the named names (all without ``names``) must be indexed again when
        written again."""
        if names is None:
            self._indexed_names.clear()
        else:
            self._indexed_names.difference_update(names)

    def list(self) -> List[str]:
        """Every stat name stored in this timeseries, sorted."""
        raise NotImplementedError

    def delete(self, name: str) -> None:
        """Delete every bucket of ``name`` in every interval."""
        raise NotImplementedError

    def delete_all(self) -> None:
        """Delete every stat of this timeseries."""
        raise NotImplementedError

    def expire(self, name: str) -> None:
        """Delete the buckets of ``name`` older than each interval's ``steps``."""
        raise NotImplementedError

    def expire_all(self) -> None:
        """``expire`` every stat: what a periodic job runs on engines without TTLs.

        Engines that can delete old buckets of every name at once override this.
        """
        for name in self.list():
            self.expire(name)

    # -- writing --------------------------------------------------------
    def insert(self, name: str, value: Any = None, timestamp: Optional[float] = None,
               intervals: int = 0, **kwargs: Any) -> None:
        """Store one value (or, for a list/tuple/set value, each of them) of ``name``."""
        if isinstance(value, _MULTI):
            values = list(value)
        else:
            values = [self.kind.default_value() if value is None else value]
        self.bulk_insert({timestamp: {name: values}}, intervals=intervals, **kwargs)

    def bulk_insert(self, inserts: Mapping[Optional[float], Mapping[str, Iterable[Any]]],
                    intervals: int = 0, batch_id: Optional[str] = None,
                    now: Optional[float] = None, **kwargs: Any) -> None:
        """Store ``{timestamp or None: {name: [values]}}`` in as few round trips as the engine allows.

        ``batch_id`` names this batch: on an engine with ``exactly_once`` the batch is
        applied atomically and the id recorded with it, so calling again with the same
        id and the same ``inserts`` (a retry after a timeout) applies nothing twice.
        ``now`` is the time used for points without a timestamp and for retention
        (default: the clock); a retry must pass the ``now`` of the first attempt.
        Raises InvalidValue (nothing stored; but for a large gauge or set batch written
        in parts on SQL, ``write_parts``, where the other parts' values may be, and are
        written again when the batch is sent again under its id) or PartiallyStored
        (all stored but the bucket writes it names).
        """
        self.prepare_bulk(inserts, intervals, batch_id, now, **kwargs)()

    def prepare_bulk(self, inserts: Mapping[Optional[float], Mapping[str, Iterable[Any]]],
                     intervals: int = 0, batch_id: Optional[str] = None,
                     now: Optional[float] = None, **kwargs: Any) -> Callable[[], None]:
        """``bulk_insert`` in two steps: its Python work now (the buckets; on SQL the rows
        too), and the storage's in the call it returns, which may run in another thread.

        karbon's SQLite writer runs in a thread of its own, which takes the GIL back
        after each statement: building the rows there too left the planner waiting
        for it. Raises InvalidValue now for a value refused before anything is sent
        (on a timeseries' first write, whose tables may still have to be made, the
        call does all of it and raises it); the call raises what ``bulk_insert``
        raises otherwise.
        """
        now = self.clock() if now is None else _check_timestamp(now)
        batch = self._aggregate(inserts, intervals, now)
        if not batch:
            return _nothing
        new = self._unindexed(inserts)
        write = self._prepare_write(batch, batch_id=batch_id, now=now, new_names=new, **kwargs)
        return lambda: self._settle(write, new, inserts, intervals, now)

    def _prepare_write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
                       now: Optional[float] = None, new_names: Sequence[str] = (),
                       **kwargs: Any) -> Callable[[], Optional[Sequence[str]]]:
        """``_write`` as a call to make later; an engine with Python work to do first (SQL's
        rows) does it here."""
        return lambda: self._write(batch, batch_id=batch_id, now=now, new_names=new_names,
                                   **kwargs)

    def send_bulk(self, inserts: Mapping[Optional[float], Mapping[str, Iterable[Any]]],
                  intervals: int = 0, batch_id: Optional[str] = None,
                  now: Optional[float] = None) -> Pending:
        """``bulk_insert`` that may return before storage answered; call what it returns to wait.

        On an engine with ``pipelined`` the batch is sent and the call returns at once,
        so the caller can prepare its next batch while storage runs this one; batches
        sent by one caller are applied in the order they were sent. The returned
        function waits for storage and raises what ``bulk_insert`` would (BackendError,
        PartiallyStored; see ``Pending``); InvalidValue is raised here, before anything
        is sent. Other
        engines store the batch here and the returned function only reports how it went
        (InvalidValue is raised here on every engine, as ``bulk_insert`` raises it).
        """
        now = self.clock() if now is None else _check_timestamp(now)
        batch = self._aggregate(inserts, intervals, now)
        if not batch:
            return Pending(_nothing)
        new = self._unindexed(inserts)
        try:
            if self.pipelined:
                sent = self._start_write(batch, batch_id=batch_id, now=now, new_names=new)
            else:
                missed = self._write(batch, batch_id=batch_id, now=now, new_names=new)
                sent = Pending(lambda: missed)
        except InvalidValue:
            raise  # nothing was stored: the caller isolates the value before sending the rest
        except KairosError as err:
            failure: KairosError = err

            def failed() -> None:
                raise failure
            sent = Pending(failed, lambda: isinstance(failure, BackendError))
        return Pending(lambda: self._settle(sent, new, inserts, intervals, now), sent._lost)

    def _start_write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
                     now: Optional[float] = None, new_names: Sequence[str] = ()) -> Pending:
        """``_write`` in two halves for engines with ``pipelined``: send now, and return what
        waits for the outcome (returns or raises what ``_write`` would)."""
        raise NotImplementedError

    def _settle(self, finish: Callable[[], Optional[Sequence[str]]], new: List[str],
                inserts: Mapping, intervals: int, now: float) -> None:
        """Wait for a write (``finish``), then record its new names as indexed."""
        try:
            missed = finish()
        except PartiallyStored as err:
            self._indexed_names.update(new)  # the entries went in with the rest
            raise self._count_refused(err, inserts, intervals, now) from None
        self._remember(new, missed)

    def bulk_insert_histogram(self,
                              inserts: Mapping[Optional[float], Mapping[str, Dict[Any, int]]],
                              intervals: int = 0, batch_id: Optional[str] = None,
                              now: Optional[float] = None, **kwargs: Any) -> None:
        """Store ``{timestamp or None: {name: {value: occurrences}}}`` in a histogram.

        The same as ``bulk_insert`` with each value repeated ``occurrences`` times, without
        building those lists: for copying or replaying histograms already counted.
        """
        if not self.kind.takes_counts:
            raise InvalidValue("bulk_insert_histogram needs a histogram, not a %s" % self.type)
        now = self.clock() if now is None else _check_timestamp(now)
        batch: Dict[Tuple, Dict[Any, int]] = {}
        for timestamp, names in inserts.items():
            if not isinstance(names, Mapping):
                raise InvalidValue("bulk_insert_histogram takes {timestamp: {name: {value: count}}}")
            for name, counts in names.items():
                if not isinstance(counts, dict):
                    raise InvalidValue("%r: histogram counts must be a {value: count} dict" % (name,))
                for value, count in counts.items():
                    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                        raise InvalidValue("%r: an occurrence count must be a whole number >= 0, "
                                           "not %r" % (name, count))
                    if not count:
                        continue
                    for key, stored in self._bucket_writes({timestamp: {name: [value]}},
                                                           intervals, now):
                        bucket = batch.setdefault(key, {})
                        bucket[stored] = bucket.get(stored, 0) + count
        if batch:
            new = self._unindexed(inserts)
            self._remember(new, self._write(batch, batch_id=batch_id, now=now, new_names=new,
                                            **kwargs))

    def _remember(self, new: List[str], missed: Optional[Sequence[str]]) -> None:
        """After a write: its new names are indexed, but those the engine says it could not
        index (``_write`` returned them), which the next write of each name tries again."""
        if missed:
            self._indexed_names.update(set(new).difference(missed))
        else:
            self._indexed_names.update(new)

    def _unindexed(self, inserts: Mapping) -> List[str]:
        """The names of ``inserts`` this object has not indexed yet, sorted.

        The steady-state cost of the index on the write path: one set lookup per name.
        The set holds every name this object wrote (memory grows with the names, about
        100 bytes each); a name deleted by another process stays in it, so a writer
        that keeps writing it does not index it again until it restarts or
        ``rebuild_index`` runs.
        """
        seen = self._indexed_names
        new = None
        for names in inserts.values():
            if seen.issuperset(names):  # the steady state: every name seen, at C speed
                continue
            for name in names:
                if name not in seen:
                    if new is None:
                        new = set()
                    new.add(name)
        return sorted(new) if new else []

    def _count_refused(self, err: PartiallyStored, inserts: Mapping, copies: int,
                       now: float) -> PartiallyStored:
        """``err`` with the number of values of the batch each refused bucket held."""
        held: Dict[Tuple, int] = {bucket: 0 for bucket, _, _ in err.refused}
        for key, _ in self._bucket_writes(inserts, copies, now):
            if key in held:
                held[key] += 1
        return PartiallyStored((bucket, held[bucket] or points, reason)
                               for bucket, points, reason in err.refused)

    def _aggregate(self, inserts: Mapping, copies: int, now: float) -> Mapping[Tuple, Any]:
        """``kind.aggregate(_bucket_writes(...))``: every bucket of the batch written once.

        The hot path of every write: a type whose buckets keep the last value or a sum
        (``kind.combine``) is folded here slot by slot (``SlotBatch``: one dict per
        interval bucket, keyed by the name), straight from each value, with no tuple per
        bucket written (each value is checked once, not once per bucket).
        """
        combine = self.kind.combine
        if combine is None:
            return self.kind.aggregate(self._bucket_writes(inserts, copies, now))
        out: Dict[Tuple[str, int, Optional[int]], Dict[str, Any]] = {}
        last = combine == "last"
        number = self.kind.check_number
        # a lone int or float (``plan`` sends a stat's only value at a timestamp bare) that
        # neither ``write_func`` nor the engine's check would change is folded as it is
        check = self._check_value
        bare = () if self.write_func is not None else tuple(
            kind for kind in (int, float) if check is None or kind in self._unchecked_types)
        floated = self.write_func is None and self._ints_as_floats
        # a gauge's bucket keeps the value of the batch's latest timestamp in it, whatever
        # order the timestamps come in (a batch groups values by timestamp, so another
        # stat's point may put a later timestamp first)
        for slots, names in self._stamps(inserts, copies, now, in_time_order=last):
            targets = []
            for slot in slots:
                target = out.get(slot)
                if target is None:
                    target = out[slot] = {}
                targets.append(target)
            for name, values in names.items():
                if type(values) in bare and type(name) is str and name:
                    checked: Sequence[Any] = (values,)
                elif (floated and type(values) is int and type(name) is str and name
                      and -FLOAT_SAFE < values < FLOAT_SAFE):
                    checked = (float(values),)  # (past it, the check refuses it)
                else:
                    checked = self._checked_list(name, values)
                if last:
                    for value in checked:
                        for target in targets:
                            target[name] = value
                    continue
                for value in checked:
                    if type(value) is not float and type(value) is not int:  # these are numbers:
                        number(value)  # the abstract Number check is kept for the others
                    for target in targets:
                        target[name] = target.get(name, 0) + value
        return SlotBatch(out)

    def _bucket_writes(self, inserts: Mapping, copies: int,
                       now: float) -> Iterator[Tuple[Tuple, Any]]:
        """Yield ``((name, interval, i_key, r_key), value)`` for every value, interval and copy."""
        for name, value, slots in self._values(inserts, copies, now):
            for interval_name, i_key, r_key in slots:
                yield (name, interval_name, i_key, r_key), value

    def _values(self, inserts: Mapping, copies: int,
                now: float) -> Iterator[Tuple[str, Any, List[Tuple[str, int, Optional[int]]]]]:
        """Yield ``(name, value, slots)`` for every value, checked and converted as stored, and
        the ``(interval, i_key, r_key)`` of each bucket it goes to (shared by the values of
        one timestamp)."""
        for slots, names in self._stamps(inserts, copies, now):
            for name, value in self._checked_values(names):
                yield name, value, slots

    def _stamps(self, inserts: Mapping, copies: int, now: float, in_time_order: bool = False
                ) -> Iterator[Tuple[List[Tuple[str, int, Optional[int]]], Mapping]]:
        """Yield ``(slots, {name: values})`` for every timestamp of ``inserts``: the buckets
        (``_slots``) its values go to, and its names; ``in_time_order``: the timestamps
        sorted (else in the mapping's order)."""
        if not isinstance(inserts, Mapping):
            raise InvalidValue("bulk_insert takes {timestamp: {name: [values]}}, not %s"
                               % type(inserts).__name__)
        if isinstance(copies, bool) or not isinstance(copies, int):
            raise InvalidValue("intervals must be a whole number of intervals, not %r" % (copies,))
        shifts = range(1, copies + 1) if copies > 0 else range(copies, 0)
        stamps = [(now if timestamp is None else _check_timestamp(timestamp), timestamp, names)
                  for timestamp, names in inserts.items()]
        if in_time_order:
            stamps.sort(key=_first_item)
        for ts, timestamp, names in stamps:
            if not isinstance(names, Mapping):
                raise InvalidValue("bulk_insert takes {timestamp: {name: [values]}}; "
                                   "got %r under timestamp %r" % (names, timestamp))
            yield self._slots(ts, shifts, now), names

    def _checked_values(self, names: Mapping) -> Iterator[Tuple[str, Any]]:
        """Yield ``(name, value)`` for every value of one timestamp's ``{name: values}``
        (a list of values, or one alone), checked and converted as stored."""
        for name, values in names.items():
            for value in self._checked_list(name, values):
                yield name, value

    def _checked_list(self, name: Any, values: Any) -> List[Any]:
        """The values of ``name`` at one timestamp (a list of values, or one alone), checked
        and converted as stored; the name is checked too."""
        if type(name) is not str or not name:
            _check_name(name)
        if type(values) is not list and not isinstance(values, _MULTI):
            values = (values,)
        write = self.write_func
        check = self._check_value
        unchecked = self._unchecked_types
        out = []
        for value in values:
            if value is None:
                value = self.kind.default_value()
            if write is not None:
                value = write(value)
            if check is not None and type(value) not in unchecked:
                value = check(value)
            out.append(value)
        return out

    def _slots(self, ts: float, shifts: range, now: float) -> List[Tuple[str, int, Optional[int]]]:
        """``(interval, i_key, r_key)`` of every bucket a value at ``ts`` goes to (and its copies).

        The buckets depend on the timestamp only: computed once for all its values.
        """
        slots = []
        try:
            for interval in self.intervals.values():
                i_key = interval.step.to_bucket(ts)
                if self.native_expiry:
                    interval.expires_at(i_key)  # the engine computes it later: fail here, not there
                slots.append((interval.name, i_key, interval.resolution_bucket(ts)))
                for shift in shifts:
                    copy = interval.copy_timestamp(ts, shift)
                    i_key = interval.step.to_bucket(copy)
                    if self.native_expiry and not self._retained(interval, i_key, now):
                        continue
                    slots.append((interval.name, i_key, interval.resolution_bucket(copy)))
        except (KairosError, ValueError, OverflowError) as err:  # a copy past year 9999, say
            raise InvalidValue("timestamp %r cannot be stored in interval %r: %s"
                               % (ts, interval.name, err)) from None
        return slots

    @staticmethod
    def _retained(interval: Interval, i_key: int, now: float) -> bool:
        expires = interval.expires_at(i_key)
        return expires is None or expires > now

    # -- reading --------------------------------------------------------
    def _interval(self, name: str) -> Interval:
        try:
            return self.intervals[name]
        except (KeyError, TypeError):
            raise UnknownInterval("unknown interval %r: this timeseries has %s"
                                  % (name, ", ".join(self.intervals))) from None

    def get(self, name: Any, interval: str, timestamp: Optional[float] = None,
            transform: Any = None, fetch: Optional[Callable] = None,
            process_row: Optional[Callable] = None, condense: Any = False,
            join_rows: Optional[Callable] = None, condensed: Any = None) -> "OrderedDict":
        """The data of one interval bucket: ``{timestamp: data}``.

        With resolutions and no ``condense``, one entry per resolution bucket holding data.
        """
        config = self._interval(interval)
        if condensed is not None:
            condense = condensed
        ts = self.clock() if timestamp is None else _check_timestamp(timestamp)
        i_key = config.step.to_bucket(ts)
        rows = self._read(name, config, i_key, i_key, fetch, process_row, condense, join_rows,
                          fill=True)
        data = rows[i_key]
        start = config.step.from_bucket(i_key)
        apply = self._transformer(transform)
        if config.has_resolution and not condense:
            out = OrderedDict()
            for r_key, row in data.items():
                out[config.resolution.from_bucket(r_key)] = apply(row, config.resolution.duration(r_key))
            return out
        return OrderedDict([(start, apply(data, config.step.duration(i_key)))])

    def series(self, name: Any, interval: str, start: Optional[float] = None,
               end: Optional[float] = None, steps: Optional[int] = None, transform: Any = None,
               fetch: Optional[Callable] = None, process_row: Optional[Callable] = None,
               condense: Any = False, join_rows: Optional[Callable] = None,
               collapse: Any = False, condensed: Any = None) -> "OrderedDict":
        """Every bucket of a date range: ``{timestamp: data}`` (or ``{timestamp: {r_ts: data}}``)."""
        config = self._interval(interval)
        if condensed is not None:
            condense = condensed
        if collapse:
            condense = condense or True
        first, last = self.bucket_range(config, start, end, steps)
        rows = self._read(name, config, first, last, fetch, process_row, condense, join_rows,
                          fill=not collapse)
        return self._shape(rows, config, first, last, self._transformer(transform), condense,
                           collapse)

    def series_many(self, names: Sequence[str], interval: str, start: Optional[float] = None,
                    end: Optional[float] = None, steps: Optional[int] = None, transform: Any = None,
                    fetch: Optional[Callable] = None, process_row: Optional[Callable] = None,
                    condense: Any = False, collapse: Any = False) -> List["OrderedDict"]:
        """``series`` of each of ``names`` (one name each, none joined) over the same range,
        read in one round trip on engines that can (SQL, Redis): a dashboard asks for
        tens of stats at once."""
        config = self._interval(interval)
        if collapse:
            condense = condense or True
        first, last = self.bucket_range(config, start, end, steps)
        for name in names:
            _check_name(name)
        unique = list(dict.fromkeys(names))
        apply = self._transformer(transform)
        if fetch is None and not config.has_resolution and process_row is None and not collapse:
            dense = self._fetch_dense(unique, config, first, last)
            if dense is not None:
                return self._shape_dense(names, dense, config, first, last, apply)
        raws = self._fetch_many(unique, config, first, last, fetch)
        if not config.has_resolution and process_row is None and not collapse:
            return self._shape_many(names, raws, config, first, last, apply)
        return [self._shape(self._read(name, config, first, last, fetch, process_row, condense,
                                       None, prefetched=raws[name], fill=not collapse),
                            config, first, last, apply, condense, collapse)
                for name in names]

    def _shape_many(self, names: Sequence[str], raws: Dict[str, Dict], config: Interval, first: int,
                    last: int, apply: Callable[[Any, int], Any]) -> List["OrderedDict"]:
        """``series_many``'s answers without resolutions, row processors or collapse (what a
        dashboard asks): what ``_read`` then ``_shape`` give, with the buckets, their
        timestamps and durations worked out once for every name instead of once per name."""
        keys, stamps, durations = _grid(config, first, last, apply)
        process, blank = self.kind.process_row, self.kind.no_data
        out = []
        for name in names:
            stored = list(map(raws[name].get, keys))
            if all(stored):  # every bucket written (a busy stat): converted in one pass
                values = self.kind.process_rows(list(map(_UNRESOLVED, stored)))
            else:  # buckets never written are filled one by one
                values = [process(row[None]) if row else blank() for row in stored]
            if durations is not None:
                values = list(map(apply, values, durations))
            out.append(OrderedDict(zip(stamps, values)))
        return out

    def _shape_dense(self, names: Sequence[str], dense: Dict[str, List[Any]], config: Interval,
                     first: int, last: int, apply: Callable[[Any, int], Any]) -> List["OrderedDict"]:
        """``_shape_many`` from ``_fetch_dense``'s lists: the same answers, no dict per bucket."""
        _, stamps, durations = _grid(config, first, last, apply)
        process, blank = self.kind.process_row, self.kind.no_data
        out = []
        for name in names:
            stored = dense[name]
            if None not in stored:  # every bucket written (a busy stat): converted in one pass
                values = self.kind.process_rows(stored)
            else:  # buckets never written are filled one by one
                values = [blank() if raw is None else process(raw) for raw in stored]
            if durations is not None:
                values = list(map(apply, values, durations))
            out.append(OrderedDict(zip(stamps, values)))
        return out

    def points(self, names: Sequence[str], interval: str, start: float, end: float,
               reduce: Optional[Callable[[Any, int], Any]] = None,
               read: Optional[Callable[[Any], Any]] = None) -> Dict[str, Dict[int, Any]]:
        """The stored buckets of each name from ``start`` to ``end`` (inclusive), in one
        round trip where the engine can: ``{name: {timestamp: data}}``.

        Unlike ``series``, buckets never written are absent (no empty rows are made, so a
        gap is told from a zero), and an interval with a resolution gives its resolution
        buckets, flat. ``reduce(data, seconds)``, when given, turns each bucket's data
        into what is kept (a number, for the Graphite API); ``read``, when given, converts
        each stored value instead of the timeseries' ``read_func``. This is the read of dense
        dashboards, tens of thousands of buckets per request, so it makes no per-bucket
        objects beyond the answer itself.
        """
        config = self._interval(interval)
        first, last = self.bucket_range(config, start, end, None)
        for name in names:
            _check_name(name)
        unique = list(dict.fromkeys(names))
        flat = self._fetch_flat(unique, config, first, last)
        calendar = config.resolution if config.has_resolution else config.step
        width = getattr(calendar, "step", None)  # fixed-width calendars: timestamp = key * width
        kind = self.kind if read is None else TYPES[self.type](read)
        out: Dict[str, Dict[int, Any]] = {}
        for name in unique:
            keys, rows = flat[name]
            datas = kind.process_rows(list(rows))
            if width is not None:
                stamps = [key * width for key in keys]
                if reduce is not None:
                    datas = [reduce(data, width) for data in datas]
            else:
                stamps = [calendar.from_bucket(key) for key in keys]
                if reduce is not None:
                    datas = [reduce(data, calendar.duration(key)) for key, data in zip(keys, datas)]
            out[name] = dict(zip(stamps, datas))
        return out

    def points_list(self, names: Sequence[str], interval: str, start: int, stop: int,
                    reduce: Optional[Callable[[Any, int], Any]] = None,
                    read: Optional[Callable[[Any], Any]] = None) -> Optional[Dict[str, List[Any]]]:
        """``points`` as lists: per name, the data of each bucket whose timestamp is in
        ``range(start, stop, width)`` (the width of the interval's resolution, else of its
        step), None where nothing is stored. None when the calendar has no fixed width or
        ``start``/``stop`` are not on its grid.

        The read of /render: a name with every bucket stored (most of a dashboard) is the
        list of its data as read, without the timestamps and dict ``points`` makes per bucket.
        """
        config = self._interval(interval)
        calendar = config.resolution if config.has_resolution else config.step
        width = getattr(calendar, "step", None)  # fixed-width calendars: timestamp = key * width
        if width is None or start % width or stop % width or stop <= start:
            return None
        first, last = self.bucket_range(config, start, stop - 1, None)
        for name in names:
            _check_name(name)
        unique = list(dict.fromkeys(names))
        flat = self._fetch_flat(unique, config, first, last)
        kind = self.kind if read is None else TYPES[self.type](read)
        low, count = start // width, (stop - start) // width
        out: Dict[str, List[Any]] = {}
        for name in unique:
            keys, rows = flat[name]
            datas = kind.process_rows(list(rows))
            if reduce is not None:
                datas = [reduce(data, width) for data in datas]
            if len(keys) == count and all(map(operator.eq, keys, range(low, low + count))):
                out[name] = datas  # every bucket, in order
                continue
            values: List[Any] = [None] * count
            for key, data in zip(keys, datas):
                if low <= key < low + count:  # a resolution read also gives the buckets around
                    values[key - low] = data
            out[name] = values
        return out

    def _shape(self, rows: "OrderedDict", config: Interval, first: int, last: int,
               apply: Callable[[Any, int], Any], condense: Any, collapse: Any) -> "OrderedDict":
        """``series``' answer from the rows ``_read`` made: timestamps, transforms, collapse."""
        if collapse:
            if callable(collapse) or callable(condense):
                merge = collapse if callable(collapse) else condense
                data = merge(OrderedDict((config.step.from_bucket(k), v) for k, v in rows.items()))
            else:
                data = self.kind.condense(list(rows.values()))
            duration = config.step.from_bucket(config.step.shift(last, 1)) - config.step.from_bucket(first)
            return OrderedDict([(config.step.from_bucket(first), apply(data, duration))])
        from_bucket = config.step.from_bucket
        if apply is _untransformed and not (config.has_resolution and not condense):
            return OrderedDict((from_bucket(i_key), data) for i_key, data in rows.items())
        out = OrderedDict()
        for i_key, data in rows.items():
            ts = from_bucket(i_key)
            if config.has_resolution and not condense:
                out[ts] = OrderedDict(
                    (config.resolution.from_bucket(r_key), apply(row, config.resolution.duration(r_key)))
                    for r_key, row in data.items())
            else:
                out[ts] = apply(data, config.step.duration(i_key))
        return out

    def iterate(self, name: Any, interval: str, transform: Any = None,
                fetch: Optional[Callable] = None, process_row: Optional[Callable] = None,
                condense: Any = False, join_rows: Optional[Callable] = None,
                condensed: Any = None, chunk: int = 500, start: Optional[float] = None,
                end: Optional[float] = None) -> Iterator[Tuple[int, Any]]:
        """Yield ``(timestamp, data)``: the items ``get`` gives for each bucket from the first
        to the last holding data, as the original did.

        So one per interval bucket (empty ones included) without a resolution or with
        ``condense``; with a resolution, one per resolution bucket holding data. ``start``
        and ``end`` keep the buckets overlapping them (an addition, for copying a range);
        ``chunk`` interval buckets are read per query.
        """
        config = self._interval(interval)
        if condensed is not None:
            condense = condensed
        if start is not None:
            start = _check_timestamp(start)
        if end is not None:
            end = _check_timestamp(end)
            if start is not None and end < start:
                raise InvalidValue("end (%r) is before start (%r)" % (end, start))
        names = list(name) if isinstance(name, _MULTI) else [name]
        found = [self._properties(n).get(interval) for n in names]
        spans = [s for s in found if s]
        if not spans:
            return
        first = min(s[0] for s in spans)
        last = max(s[1] for s in spans)
        if start is not None:
            first = max(first, config.step.to_bucket(start))
        if end is not None:
            last = min(last, config.step.to_bucket(end))
        flat = config.has_resolution and not condense
        low = high = None
        if flat:  # the resolution buckets overlapping [start, end]
            if start is not None:
                low = config.resolution.from_bucket(config.resolution.to_bucket(start))
            high = end
        while first <= last:
            stop = min(config.step.shift(first, chunk - 1), last)
            data = self.series(name, interval, start=config.step.from_bucket(first),
                               end=config.step.from_bucket(stop), transform=transform, fetch=fetch,
                               process_row=process_row, condense=condense, join_rows=join_rows)
            if not flat:
                yield from data.items()
            else:
                for row in data.values():
                    for timestamp, item in row.items():
                        if (low is None or timestamp >= low) and (high is None or timestamp <= high):
                            yield timestamp, item
            first = config.step.shift(stop, 1)

    def properties(self, name: str) -> Dict[str, Dict[str, int]]:
        """``{interval: {'first': ts, 'last': ts}}`` for each interval holding data for ``name``."""
        out = {}
        for interval, (first, last) in self._properties(name).items():
            config = self.intervals.get(interval)
            if config is not None:
                out[interval] = {"first": config.step.from_bucket(first),
                                 "last": config.step.from_bucket(last)}
        return out

    def bucket_range(self, config: Interval, start: Optional[float], end: Optional[float],
                     steps: Optional[int]) -> Tuple[int, int]:
        """First and last interval keys of a ``series`` query (seed 002's inclusive rules)."""
        if steps is None:
            steps = config.steps or 1
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidValue("steps must be a positive whole number, not %r" % (steps,))
        if start is not None and end is not None:
            first = config.step.to_bucket(_check_timestamp(start))
            last = config.step.to_bucket(_check_timestamp(end))
            if last < first:
                raise InvalidValue("end (%r) is before start (%r)" % (end, start))
            return first, last
        if start is not None:
            first = config.step.to_bucket(_check_timestamp(start))
            return first, config.step.shift(first, steps - 1)
        last = config.step.to_bucket(self.clock() if end is None else _check_timestamp(end))
        return config.step.shift(last, -(steps - 1)), last

    # -- the read pipeline ---------------------------------------------
    def _read(self, name: Any, config: Interval, first: int, last: int,
              fetch: Optional[Callable], process_row: Optional[Callable], condense: Any,
              join_rows: Optional[Callable], prefetched: Optional[Dict] = None,
              fill: bool = False) -> "OrderedDict[int, Any]":
        """``{i_key: row}`` for every bucket in range, rows processed, joined and condensed.

        A row is the type's data, or ``{r_key: data}`` when the interval has resolutions
        and ``condense`` is false. Joined names are merged per resolution bucket before
        condensing, so a condensed row follows time across the names (a joined gauge's
        last value written, a joined series in time order), as the original did.
        ``prefetched``: what the engine already fetched for ``name`` (a single name).
        ``fill``: buckets of a single name never written read as the type's ``no_data``
        (left ``empty`` while a collapse or join still has to merge them).
        """
        process = process_row or self.kind.process_row
        multi = isinstance(name, _MULTI)
        blank = self.kind.no_data if fill and not multi and process_row is None else self.kind.empty
        names = list(name) if multi else [name]
        per_name = []
        for one in names:
            if prefetched is not None and not multi:
                raw = prefetched
            else:
                raw = self._fetch(one, config, first, last, fetch)
            rows = OrderedDict()
            for i_key in config.step.iter_buckets(first, last):
                stored = raw.get(i_key)
                if config.has_resolution:
                    rows[i_key] = (OrderedDict((r, process(stored[r])) for r in sorted(stored))
                                   if stored else OrderedDict())
                else:
                    rows[i_key] = process(stored[None]) if stored else blank()
            per_name.append(rows)
        rows = self._join(per_name, config.has_resolution, join_rows) if multi else per_name[0]
        if config.has_resolution and condense:
            return OrderedDict((i_key, self._condense(row, config, condense))
                               for i_key, row in rows.items())
        return rows

    def _condense(self, row: "OrderedDict", config: Interval, condense: Any) -> Any:
        """One interval bucket's ``{r_key: data}`` merged into one row, oldest first."""
        if callable(condense):
            to_ts = config.resolution.from_bucket
            return condense(OrderedDict((to_ts(r), data) for r, data in row.items()))
        return self.kind.condense(list(row.values()))

    def _join(self, per_name: List["OrderedDict"], has_resolution: bool,
              join_rows: Optional[Callable]) -> "OrderedDict":
        """The names' rows merged bucket by bucket: ``join_rows`` gets one row per name (the
        empty form for a name without data), or with a resolution, per resolution bucket,
        the rows of the names holding it."""
        join = join_rows or self.kind.condense
        out = OrderedDict()
        for i_key in per_name[0]:
            rows = [rows[i_key] for rows in per_name]
            if has_resolution:
                r_keys = sorted({r for row in rows for r in row})
                out[i_key] = OrderedDict(
                    (r, join([row[r] for row in rows if r in row])) for r in r_keys)
            else:
                out[i_key] = join(rows)
        return out

    def _transformer(self, transform: Any) -> Callable[[Any, int], Any]:
        if transform is None:
            return _untransformed
        return compile_transform(transform, self.kind.builtins)


#: the value of a raw row without resolutions (``{None: value}``)
_UNRESOLVED: Callable[[Any], Any] = operator.itemgetter(None)


def _untransformed(data: Any, _duration: int) -> Any:
    """The transform of reads without one (recognised by ``_shape``, which skips it)."""
    return data


def _check_timestamp(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidValue("timestamp must be a number of seconds since the epoch, not %r" % (value,))
    # typeshed's numbers.Real has no >=; every Real compares (and is used) as a float does
    number = cast(float, value)
    if not TIMESTAMP_MIN <= number <= TIMESTAMP_MAX:  # also refuses nan and the infinities
        raise InvalidValue("timestamp %r is outside the years 1 to 9999 (%d to %d)"
                           % (value, TIMESTAMP_MIN, TIMESTAMP_MAX))
    return number


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidValue("a stat name must be a non-empty string, not %r" % (name,))
