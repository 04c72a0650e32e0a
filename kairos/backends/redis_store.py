"""The Redis storage engine: one native Redis structure per bucket, TTLs for retention.

Which structure each type uses, and how it is written and read, is the type's
layout (``redis_layouts``); ``layout='hash'`` keeps counts and gauges as fields of
window hashes (``redis_keys.HashKeyScheme``, ``_hash_writes``, ``ExpiryMemory``). Keys follow ``redis_keys``
(``{prefix}{name}:{interval}:{i_key}[:{r_key}]``). An interval with ``steps`` gives
each key an EXPIREAT at the end of its retention window, so Redis deletes old
buckets by itself and ``expire()`` has nothing to do. A ``bulk_insert`` is one round
trip of Lua calls (``redis_bulk``), applied at most once when it carries a
``batch_id``; a read of a ``series`` fetches every bucket and resolution key in
pipelines of ``READ_CHUNK`` keys, letting other greenlets run between them.

The name index (``kairos.names``) is one sorted set ``{prefix}!names`` whose members
all have score 0, so ZRANGEBYLEX ranges over them in byte order:

=====================  ================================================
``{depth:06d}{path} L``  a stored name (leaf) of ``depth`` components
``{depth:06d}{path} B``  a branch (a proper prefix of stored names)
``~{name}``            a tagged name
``!built``             the marker: the index was built
=====================  ================================================

The children of ``a.b`` are the members in ``[000003a.b.``, ``(000003a.b/``: one
ZRANGEBYLEX reads exactly that level of that subtree. A ``bulk_insert`` with names
this object has not indexed yet sends one ZADD (idempotent) ahead of its data, in the
same round trip; the exactly-once batch itself is unchanged. A refused ZADD (a key of
another type at ``!names``) is logged and its names are tried again with the next batch.
``delete_all`` deletes the index key too (the next ``nodes`` builds it again). Keys
expiring by TTL leave their name's entries: ``rebuild_index`` prunes them.

Clients built from a URL use a blocking connection pool: more concurrent callers
than ``max_connections`` wait (up to ``timeout`` seconds) for a connection instead
of failing, and every command has a socket timeout, so a stalled server turns into
a BackendError rather than a caller waiting forever.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from itertools import islice
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, TypeVar, cast)

import redis
from redis.exceptions import RedisError, ResponseError

from .. import names as name_index
from ..exceptions import BackendError, ConfigError, PartiallyStored
from ..intervals import Interval
from ..pending import Pending
from ..registry import redact_url
from ..slot_batch import WrittenBuckets, slots_of
from ..timeseries import Timeseries
from . import redis_bulk, redis_layouts, redis_reads, redis_stream, redis_wire
from .redis_keys import WINDOW, HashKeyScheme, KeyScheme, ParsedKey, decode
from .redis_layout_choice import LayoutChoice, settle_before_keyed_calls

_gevent_sleep: Optional[Callable[[float], None]]
try:  # torus serves reads from gevent greenlets; kairos itself does not need gevent
    from gevent import sleep as _gevent_sleep
except ImportError:  # pragma: no cover - gevent is installed with torus
    _gevent_sleep = None

log = logging.getLogger(__name__)
T = TypeVar("T")

_PAST = object()
#: SCAN COUNT hint: keys Redis examines per SCAN call
SCAN_COUNT = 1000
#: ... for the SCAN telling the layout of an unmarked prefix (``redis_layout_choice``): it
#: stops at the first key of the prefix, so on a new prefix it walks the whole database
PROBE_SCAN_COUNT = 10000
#: keys per UNLINK when deleting
DELETE_CHUNK = 500
#: what a client built from a URL gets unless ``client_config`` or the URL says otherwise
CLIENT_DEFAULTS: Dict[str, Any] = {
    "decode_responses": True,
    "max_connections": 100,      # the pool's size; more callers wait for a free connection...
    "timeout": 20,               # ...this many seconds at most (then BackendError)
    "socket_timeout": 10,        # seconds a command may take before it fails
    "socket_connect_timeout": 5,
}
#: seconds a batch's marker lives (``batch_ttl``): a retry, or a replay of dead letters, of a
#: batch whose reply was lost is recognised for this long
DEFAULT_BATCH_TTL = 86400
#: ... and once its reply came back at the first try (no copy of it can still be in flight)
SETTLED_BATCH_TTL = 60
#: batch ids remembered as sent without an answer (a later success keeps their long TTL)
UNSETTLED_MEMORY = 10000

#: window hashes whose key and EXPIREAT (pure functions of the name, interval and window) a
#: timeseries keeps from batch to batch (``layout='hash'``); emptied when it grows past this
#: (a steady stream has one or two per name and interval)
KEY_CACHE = 200_000

#: seconds a window hash is known to carry its EXPIREAT (``layout='hash'``): within this,
#: writes to it send no EXPIREAT again; after it, the next write refreshes it
EXPIRY_MEMORY_S = 60


class ExpiryMemory:
    """The window hashes this timeseries gave their EXPIREAT recently (``layout='hash'``).

    A window hash's EXPIREAT never changes (the end of its window plus the retention),
    so sending it with every batch is wasted work for Redis: about one command per
    point in a time-major stream, where a batch brings each hash one or two fields.
    A hash is remembered for ``EXPIRY_MEMORY_S`` to ``2 * EXPIRY_MEMORY_S`` seconds (two
    generations of sets); a hash deleted and written again meanwhile by another process
    is without TTL until then, a bounded gap rather than data kept forever.
    """

    def __init__(self, seconds: float = EXPIRY_MEMORY_S, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.current: set = set()
        self.previous: set = set()
        self.turned = clock()

    def __contains__(self, key: str) -> bool:
        return key in self.current or key in self.previous

    def tick(self) -> None:
        """Start a new generation when the current one is ``seconds`` old (once per batch)."""
        now = self.clock()
        if now - self.turned >= self.seconds:
            self.previous, self.current, self.turned = self.current, set(), now

    def add(self, keys: Iterable[str]) -> None:
        """Remember ``keys`` (after Redis confirmed the batch that set their EXPIREAT)."""
        self.current.update(keys)

    def forget(self) -> None:
        self.current, self.previous = set(), set()


#: keys read per pipeline round trip; other greenlets run between two chunks
READ_CHUNK = 2000
#: keys read per round trip by the dense read of counts and gauges (``_fetch_flat``)
FLAT_BATCH = 20000

_BUILT = "!built"

#: KEYS[1] the index; ARGV[1] the member to remove, then per branch above it (deepest
#: first) its member and the ZRANGEBYLEX bounds of its children: removed while childless
_UNINDEX = """
redis.call('zrem', KEYS[1], ARGV[1])
for i = 2, #ARGV, 3 do
  if #redis.call('zrangebylex', KEYS[1], ARGV[i + 1], ARGV[i + 2], 'LIMIT', 0, 1) > 0 then
    return 0
  end
  redis.call('zrem', KEYS[1], ARGV[i])
end
return 1
"""


def _expiry(intervals: Dict[str, Interval], interval: str, i_key: int,
            now: Optional[float]) -> Any:
    """The EXPIREAT of an interval bucket (None: kept for ever), or ``_PAST`` when it is past
    its retention at ``now`` (Redis would delete it at once: it is not written)."""
    expires = intervals[interval].expires_at(i_key)
    if now is not None and expires is not None and expires <= now:
        return _PAST
    return expires


def _member(entry: name_index.Entry) -> str:
    """The sorted-set member of an index entry (see the module docstring)."""
    depth, path, kind = entry
    if kind == name_index.TAGGED:
        return "~" + path
    return "%06d%s %s" % (depth, path, kind)


def _parse_member(member: str) -> Tuple[str, str]:
    """``(path, kind)`` of a leaf or branch member."""
    return member[6:-2], member[-1]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def describe(client: redis.Redis) -> str:
    """Where a client connects, for error messages: "redis at 127.0.0.1:6379 db 15"."""
    try:
        kwargs = client.connection_pool.connection_kwargs
    except AttributeError:
        return "redis %r" % (client,)
    if kwargs.get("path"):
        return "redis at unix:%s db %s" % (kwargs["path"], kwargs.get("db", 0))
    return "redis at %s:%s db %s" % (kwargs.get("host", "localhost"), kwargs.get("port", 6379),
                                     kwargs.get("db", 0))


#: the plain command of each ``redis_bulk`` write, for a caller's own pipeline
_PLAIN = {"S": "set", "I": "incrby", "F": "incrbyfloat", "H": "hincrby", "L": "rpush", "A": "sadd",
          "C": "hincrby", "D": "hincrbyfloat", "G": "hset",
          "c": "hincrby", "d": "hincrbyfloat", "g": "hset"}


def _queue_plain(pipeline: Any, writes: "redis_bulk.Writes") -> None:
    """Queue writes (each with its key's EXPIREAT) as ordinary commands on a caller's pipeline."""
    position = 0
    for key, size in zip(writes.keys, writes.sizes):
        op = writes.args[position]
        if op in redis_bulk.NO_EXPIRY:
            expiry, values = "", writes.args[position + 1:position + size]
        else:
            expiry, values = writes.args[position + 1], writes.args[position + 2:position + size]
        if redis_bulk.ARITY[op] is None:
            values = values[1:]  # after the count
        getattr(pipeline, _PLAIN[op])(key, *values)
        if expiry != "":
            pipeline.expireat(key, expiry)
        position += size


def _split(names: Sequence[str], flat: List[Any], size: int) -> Dict[str, List[Any]]:
    """``flat``, the replies of each name's ``size`` buckets in turn, as a list per name."""
    return {name: flat[index * size:(index + 1) * size] for index, name in enumerate(names)}


def _decoded(raws: Dict[str, List[Any]]) -> Dict[str, List[Any]]:
    """Replies as text: a client without ``decode_responses`` gives bytes."""
    sample = next((raw for values in raws.values() for raw in values if raw is not None), None)
    if sample is None or type(sample) is str:
        return raws
    return {name: [decode(raw) for raw in values] for name, values in raws.items()}


def _present(keys: List[int], raws: Sequence[Any]) -> Tuple[Sequence[int], Sequence[Any]]:
    """The keys holding something and their raw rows, as two parallel sequences."""
    found = [(key, raw) for key, raw in zip(keys, raws) if raw is not None]
    # zip(*pairs) is the two columns; mypy sees a tuple of any length
    return tuple(zip(*found)) if found else ((), ())  # type: ignore[return-value]


def _chunks(items: Iterable[T], size: int) -> Iterator[List[T]]:
    """Lists of ``size`` items (the last one shorter), taken from ``items`` as they come."""
    iterator = iter(items)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def _cooperate() -> None:
    """Let other greenlets run (a no-op without gevent): reads are CPU work between round trips."""
    if _gevent_sleep is not None:
        _gevent_sleep(0)


class RedisTimeseries(Timeseries):
    """A timeseries stored in Redis (see the module docstring, and ``redis_layouts``)."""

    engine = "redis"
    native_expiry = True
    exactly_once = True
    pipelined = True
    #: whether ``_apply`` takes writes in groups (``redis_bulk.GROUPS``); not a cluster's,
    #: which splits a batch write by write between its shards
    groups_writes = True
    #: the options ``_setup`` takes, named when an unknown one is given
    options = "prefix, client_config, batch_ttl, layout"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's own storage calls that build keys settle the layout first too."""
        super().__init_subclass__(**kwargs)
        settle_before_keyed_calls(cls)

    def _setup(self, client: Any, prefix: Optional[str] = None,
               client_config: Optional[dict] = None, batch_ttl: int = DEFAULT_BATCH_TTL,
               layout: Optional[str] = None, **unknown: Any) -> None:
        if unknown:
            raise ConfigError("unknown Redis option(s): %s (Redis takes %s)"
                              % (", ".join(sorted(unknown)), self.options))
        if isinstance(batch_ttl, bool) or not isinstance(batch_ttl, int) or batch_ttl < 1:
            raise ConfigError("batch_ttl must be a whole number of seconds, not %r" % (batch_ttl,))
        self.batch_ttl = batch_ttl
        if layout is not None:
            redis_layouts.layout_for(self.type, layout)  # a ConfigError for an unknown one
        # the prefix's layout is settled at the first I/O (``redis_layout_choice``)
        self._layout_choice = LayoutChoice(layout, redis_layouts.has_hash_layout(self.type))
        self._prefix_option = prefix
        # the key and EXPIREAT of each window hash written lately, per (interval, window)
        # and name (KEY_CACHE), and how many it holds
        self._hash_targets: Dict[Tuple[str, int], Dict[str, Tuple[str, Optional[int]]]] = {}
        self._hash_target_count = 0  # ... and the key bases of the key layout's counts and gauges
        self._key_bases: Dict[str, Dict[str, str]] = {}
        self.client = self._connect(client, client_config)
        self._bind_layout(self._layout_choice.initial())
        self._names_key = self.keys.prefix + "!names"
        self.where = describe(self.client)
        self._packs_reads = redis_reads.can_pack(self.client)
        # ``_write`` goes on the stream too where hiredis packs it (redis-py's pipeline packs
        # each argument in Python, several times the CPU) while nothing is in flight there (a
        # retry of a failed batch must not wait behind the failure of the batch sent after
        # it); a subclass with its own ``_apply`` (a cluster: one call per shard) keeps it
        self._streams_writes = (redis_wire.can_pack(self.client)
                                and type(self)._apply is RedisTimeseries._apply)
        self._settled: List[str] = []  # markers to shorten: their batch's reply came at once
        self._unsettled: "OrderedDict[str, None]" = OrderedDict()  # ids sent without an answer
        self._expiring = ExpiryMemory()  # window hashes whose EXPIREAT was set (layout='hash')
        self._expiring_sent: List[str] = []  # ... and those of the batch being written
        self._command_stream: Optional[redis_stream.CommandStream] = None  # for ``_start_write``
        #: the last batch ``_start_write`` sent: its marker, calls and ticket (see redis_bulk.commands)
        self._ahead: Optional[Tuple[str, int, redis_stream.Ticket]] = None
        if self.read_func is None and self.layout.default_read is not None:
            self.kind = type(self.kind)(self.layout.default_read)

    def _connect(self, client: Any, client_config: Optional[dict]) -> Any:
        """The client of a URL (a blocking pool with ``CLIENT_DEFAULTS``) or the one given."""
        if isinstance(client, str):
            options = dict(CLIENT_DEFAULTS)
            options.update(client_config or {})
            try:
                pool = redis.BlockingConnectionPool.from_url(client, **options)
            except (ValueError, TypeError) as err:
                raise ConfigError("cannot use Redis URL %s: %s" % (redact_url(client), err)) from None
            connection = redis.Redis(connection_pool=pool)
            connection.auto_close_connection_pool = True
            return connection
        if isinstance(client, redis.Redis):
            if client_config:
                raise ConfigError("client_config only applies when the client is a URL")
            return client
        raise ConfigError("the Redis engine takes a redis://, rediss:// or unix:// URL or a "
                          "redis.Redis client, not %r" % (client,))

    def _key_scheme(self, prefix: Optional[str], hashed: bool) -> KeyScheme:
        if hashed:
            return HashKeyScheme(prefix, self.intervals)
        return KeyScheme(prefix, self.intervals)

    def _bind_layout(self, name: str) -> None:
        """Read and write in layout ``name`` from now on (``redis_layout_choice``)."""
        if getattr(self, "layout_name", None) == name:
            return
        self.layout = redis_layouts.layout_for(self.type, name)
        self.layout_name = name
        self.keys = self._key_scheme(self._prefix_option, self.layout.hashed)
        self._hash_targets.clear()  # keys of the other scheme
        self._hash_target_count = 0
        self._key_bases.clear()

    def _stored_layout(self) -> Optional[str]:
        """The layout of the first key of this prefix a SCAN meets, None when it has none."""
        probe = cast(HashKeyScheme, self._key_scheme(self._prefix_option, True))  # parses both
        for key, _ in self._scan(probe.all_pattern(), probe.parse, count=PROBE_SCAN_COUNT):
            return "hash" if probe.parse_hash(key) is not None else "key"
        return None

    def _pipeline(self) -> Any:
        """A pipeline for reads (no transaction)."""
        return self.client.pipeline(transaction=False)

    def __repr__(self) -> str:
        return "RedisTimeseries(%s, type=%r, prefix=%r)" % (self.where, self.type, self.keys.prefix)

    def _release(self) -> None:
        """Disconnect the connection pool built from the URL (a client passed in is its owner's)."""
        if self._command_stream is not None:
            self._command_stream.close()
        self.client.close()

    @property
    def prefix(self) -> str:
        """The key prefix, ":" included ("" without one)."""
        return self.keys.prefix

    # -- plumbing ---------------------------------------------------------
    def _error(self, err: Exception) -> BackendError:
        return BackendError("%s: %s: %s" % (self.where, type(err).__name__, err))

    def _execute(self, pipe: Any) -> List[Any]:
        """Run a pipeline once; every reply comes back, a failed command as its ResponseError."""
        try:
            return pipe.execute(raise_on_error=False)
        except RedisError as err:
            raise self._error(err) from err

    def _raise_first(self, replies: List[Any]) -> None:
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise self._error(reply) from reply

    def _scan(self, pattern: str, parse: Optional[Callable[[Any], Optional[ParsedKey]]] = None,
              count: int = SCAN_COUNT) -> Iterator[Tuple[Any, ParsedKey]]:
        """``(key, parsed)`` for every key matching ``pattern`` that this timeseries wrote
        (as ``parse`` tells, by default its key scheme's)."""
        parse = parse or self.keys.parse
        try:
            for key in self.client.scan_iter(match=pattern, count=count):
                parsed = parse(key)
                if parsed is not None:
                    yield key, parsed
        except RedisError as err:
            raise self._error(err) from err

    def _unlink(self, keys: Iterator[Any]) -> int:
        """Delete keys in chunks as they come (no full key list held in memory)."""
        deleted = 0
        chunk: List[Any] = []
        try:
            for key in keys:
                chunk.append(key)
                if len(chunk) >= DELETE_CHUNK:
                    deleted += self.client.unlink(*chunk)
                    chunk = []
            if chunk:
                deleted += self.client.unlink(*chunk)
        except RedisError as err:
            raise self._error(err) from err
        return deleted

    # -- writing ----------------------------------------------------------
    def _write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
               now: Optional[float] = None, new_names: Sequence[str] = (),
               pipeline: Any = None, **kwargs: Any) -> Optional[List[str]]:
        """Apply the batch in one round trip (at most once with a ``batch_id``), or queue it
        on the caller's ``pipeline``.

        On the caller's pipeline the commands are plain INCRBY/SET/...: the caller executes
        them, and an INCRBY of an int on a count already holding a float fails there
        (``redis_bulk`` redoes it as INCRBYFLOAT when kairos runs the batch itself).
        """
        if kwargs:
            raise ConfigError("unknown Redis write option(s): %s (Redis takes pipeline)"
                              % ", ".join(sorted(kwargs)))
        writes, buckets = self._writes(batch, now, grouped=pipeline is None)
        if pipeline is not None:
            if batch_id is not None:
                raise ConfigError("batch_id needs kairos to run the batch, not a caller's pipeline")
            members = self._members(name_index.entries_of(new_names))
            if members:
                pipeline.zadd(self._names_key, members)
            _queue_plain(pipeline, writes)
            return None
        stream = self._command_stream
        if self._streams_writes and (stream is None or stream.idle):
            return self._send_writes(writes, buckets, batch_id, new_names)()
        before, members = self._before(new_names)
        replies: List[Any] = []
        sent = self._expiring_sent
        try:
            refused, markers = self._apply(writes, batch_id, before, replies)
        except BackendError:
            self._unanswered(batch_id)
            raise
        return self._answered(batch_id, markers, refused, buckets, sent, members, replies,
                              new_names)

    def _start_write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
                     now: Optional[float] = None, new_names: Sequence[str] = ()) -> Pending:
        """``_write`` on the engine's ``CommandStream``: sent now, replies read by the returned
        function (see ``pipelined``)."""
        writes, buckets = self._writes(batch, now)
        return self._send_writes(writes, buckets, batch_id, new_names)

    def _send_writes(self, writes: "redis_bulk.Writes", buckets: Sequence[Tuple],
                     batch_id: Optional[str], new_names: Sequence[str]) -> Pending:
        """Send a batch's writes on the ``CommandStream`` (after the batch sent before it, see
        ``redis_bulk.commands``); the returned function reads and settles the replies."""
        before, members = self._before(new_names)
        sent = self._expiring_sent
        marker = None if batch_id is None else self.keys.marker(batch_id)
        ahead = self._ahead  # the batch sent before this one: unanswered, it must land first
        after = None if ahead is None or ahead[2].settled else ahead[:2]
        calls, slices = redis_bulk.commands(writes, marker, self.batch_ttl, after)
        if not calls:
            before = []  # as ``redis_bulk.run``: nothing at all is sent for an empty batch
        ticket = self._stream().send(list(before) + calls)
        self._ahead = None if marker is None or not calls else (marker, len(calls), ticket)

        def finish() -> Optional[Sequence[str]]:
            try:
                replies = ticket.replies()
                refused = redis_bulk.results(replies[len(before):], slices, self._error)
            except BackendError:
                self._unanswered(batch_id)
                raise
            return self._answered(batch_id, [] if marker is None else [marker], refused,
                                  buckets, sent, members, replies[:len(before)], new_names)
        return Pending(finish, lambda: ticket.lost)

    def _stream(self) -> redis_stream.CommandStream:
        if self._command_stream is None:
            self._command_stream = redis_stream.CommandStream(self.client, self._error)
        return self._command_stream

    def _before(self, new_names: Sequence[str]) -> Tuple[List[Tuple], Dict[str, int]]:
        """The commands sent ahead of a batch's writes (the index entries of its new names,
        the shorter TTL of markers settled since the last batch), and those entries."""
        before: List[Tuple] = [("expire", key, SETTLED_BATCH_TTL) for key in self._settled]
        members = self._members(name_index.entries_of(new_names))
        if members:  # first: the names are indexed before any of their data is written
            before.insert(0, ("ZADD", self._names_key,
                              *[part for member in members for part in (0, member)]))
        self._settled = []
        return before, members

    def _unanswered(self, batch_id: Optional[str]) -> None:
        """A batch's fate is unknown: its marker keeps its long TTL."""
        if batch_id is not None:
            self._unsettled[batch_id] = None
            if len(self._unsettled) > UNSETTLED_MEMORY:
                self._unsettled.popitem(last=False)

    def _answered(self, batch_id: Optional[str], markers: List[str],
                  refused: List["redis_bulk.Refusal"], buckets: Sequence[Tuple], sent: List[str],
                  members: Dict[str, int], replies: List[Any], new_names: Sequence[str]
                  ) -> Optional[List[str]]:
        """After a batch's replies: what ``_write`` returns (names to index again) or raises."""
        if sent:
            self._expiring.add(sent)
        if batch_id is not None:
            if batch_id in self._unsettled:
                del self._unsettled[batch_id]
            elif not self.keep_batch_ids:
                self._settled.extend(markers)
        missed = None
        if members and not replies:  # nothing was sent: every write was past retention
            missed = list(new_names)
        elif members and isinstance(replies[0], Exception):
            log.warning("%s refused the name index entries of %d names (tried again with the "
                        "next batch): %s", self.where, len(new_names), replies[:1])
            missed = list(new_names)
        if refused:
            raise PartiallyStored((buckets[r.position], 0, r.reason) for r in refused)
        return missed

    def _apply(self, writes: "redis_bulk.Writes", batch_id: Optional[str], before: Sequence[Tuple],
               replies: List[Any]) -> Tuple[List["redis_bulk.Refusal"], List[str]]:
        """Run the writes (``redis_bulk``), ``before`` first; the refusals and the batch's
        marker keys. Raises BackendError when the fate of the batch is unknown."""
        marker = None if batch_id is None else self.keys.marker(batch_id)
        refused = redis_bulk.run(self.client, writes, self._error, marker, self.batch_ttl,
                                 before, replies)
        return refused, [] if marker is None else [marker]

    def _writes(self, batch: Mapping[Tuple, Any], now: Optional[float], grouped: bool = True
                ) -> Tuple["redis_bulk.Writes", Sequence[Tuple]]:
        """Every write of a batch (values encoded first, so a bad value sends nothing), and the
        bucket each write belongs to. Buckets already past retention at ``now`` are left out.

        The hottest loop of a Redis karbon: the layout's ``put`` appends the encoding of
        ``redis_bulk`` straight to its lists (``op, expiry, arguments``), no object per write.
        """
        if self.layout.hashed:
            return self._hash_writes(batch, now, grouped)
        if self.layout.scalar:
            return self._string_writes(batch, now)
        writes = redis_bulk.Writes()
        buckets: List[Tuple] = []
        put = self.layout.writer(writes, buckets)
        key_of = self.keys.key
        intervals = self.intervals
        # each interval bucket's EXPIREAT argument ("": none), or _PAST: few per batch
        expiries: Dict[Tuple[str, int], Any] = {}
        for bucket, data in batch.items():
            name, interval, i_key, r_key = bucket
            expires = expiries.get((interval, i_key))
            if expires is None:
                expires = _expiry(intervals, interval, i_key, now)
                if expires is None:
                    expires = ""
                expiries[interval, i_key] = expires
            if expires is _PAST:
                continue
            put(bucket, key_of(name, interval, i_key, r_key), expires, data)
        return writes, buckets

    def _string_writes(self, batch: Mapping[Tuple, Any], now: Optional[float]
                       ) -> Tuple["redis_bulk.Writes", Sequence[Tuple]]:
        """``_writes`` of counts and gauges in the key layout: a key per bucket, built slot by
        slot (``slot_batch``) from its name's key base (kept from batch to batch, as
        ``_hash_writes`` keeps its hash keys) and the slot's suffix; the writes are encoded
        list by list by the layout."""
        writes = redis_bulk.Writes()
        intervals = self.intervals
        scheme = self.keys
        bases = self._bounded(self._key_bases)  # interval -> {name: key base}
        keys: List[str] = []
        expiries: List[Any] = []
        values: List[Any] = []
        written = WrittenBuckets()
        for slot, names in slots_of(batch).items():
            interval, i_key, r_key = slot
            expires = _expiry(intervals, interval, i_key, now)
            if expires is _PAST:  # left out: Redis would delete it at once
                continue
            written.add(slot, names)
            named = bases.get(interval)
            if named is None:
                named = bases[interval] = {}
            suffix = str(i_key) if r_key is None else "%d:%d" % (i_key, r_key)
            for name in names:
                base = named.get(name)
                if base is None:
                    base = named[name] = scheme.key_base(name, interval)
                    self._hash_target_count += 1
                keys.append(base + suffix)
            expiries.extend(["" if expires is None else expires] * len(names))
            values.extend(names.values())
        cast(redis_layouts.StringLayout, self.layout).string_writes(writes, keys, expiries, values)
        return writes, written

    def _hash_writes(self, batch: Mapping[Tuple, Any], now: Optional[float], grouped: bool = True
                     ) -> Tuple["redis_bulk.Writes", Sequence[Tuple]]:
        """``_writes`` of ``layout='hash'``: each bucket a field of its window hash, built slot
        by slot (``slot_batch``: a slot's buckets share their field and window).

        A bucket past its own retention at ``now`` is left out, as in the key layout; the
        hash expires when the last bucket of its window does (a bucket may so outlive its
        retention by up to ``WINDOW - 1`` steps, until its hash goes). A hash given its
        EXPIREAT recently (``ExpiryMemory``) is written without it; every write of the
        others carries it. ``grouped``: a slot's writes may go as groups (``redis_bulk``),
        where the engine sends them itself (``groups_writes``).
        """
        writes = redis_bulk.Writes()
        expiring = self._expiring
        expiring.tick()
        current, previous = expiring.current, expiring.previous
        self._expiring_sent = sent = []
        scheme = cast(HashKeyScheme, self.keys)
        intervals = self.intervals
        # (interval, window) -> {name: (hash key, its EXPIREAT)}: kept from batch to batch
        windows = self._bounded(self._hash_targets)
        # one entry per write, slot by slot; the layout encodes them list by list
        keys: List[str] = []
        runs: List[Tuple[int, int, str]] = []  # (first write, end, field) of each slot
        values: List[Any] = []
        due: List[Tuple[int, int]] = []  # (write, EXPIREAT) of the hashes that need theirs
        written = WrittenBuckets()
        for slot, names in slots_of(batch).items():
            interval, i_key, r_key = slot
            if _expiry(intervals, interval, i_key, now) is _PAST:
                continue  # left out, as in the key layout
            written.add(slot, names)
            start = len(keys)
            fine = i_key if r_key is None else r_key
            window = fine - fine % WINDOW
            named = windows.get((interval, window))
            if named is None:
                named = windows[interval, window] = {}
            for name in names:
                target = named.get(name)
                if target is None:
                    target = named[name] = self._hash_target(scheme, name, interval, window)
                    self._hash_target_count += 1
                key = target[0]
                if key not in current and key not in previous and target[1] is not None:
                    sent.append(key)  # once per write: remembered as a set
                    due.append((len(keys), target[1]))
                keys.append(key)
            runs.append((start, len(keys), str(fine)))
            values.extend(names.values())
        cast(redis_layouts.HashFieldLayout, self.layout).hash_writes(
            writes, keys, runs, values, due, grouped=grouped and self.groups_writes)
        return writes, written

    def _bounded(self, cache: Dict) -> Dict:
        """A cache of keys kept from batch to batch (``_hash_targets``, ``_key_bases``),
        emptied first once it holds more than ``KEY_CACHE`` names."""
        if self._hash_target_count > KEY_CACHE:
            cache.clear()
            self._hash_target_count = 0
        return cache

    def _hash_target(self, scheme: HashKeyScheme, name: str, interval: str,
                     window: int) -> Tuple[str, Optional[int]]:
        """The key of a window hash and the EXPIREAT it carries (None: kept forever)."""
        config = self.intervals[interval]
        try:
            expires = config.expires_at(scheme.interval_key(config, scheme.window_end(config,
                                                                                     window)))
        except (ValueError, OverflowError):  # the window's retention ends past year 9999
            expires = None
        return scheme.hash_key(name, interval, window), expires

    # -- reading ----------------------------------------------------------
    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        return self._fetch_many([name], interval, first, last, fetch)[name]

    def _fetch_many(self, names: Sequence[str], interval: Interval, first: int, last: int,
                    fetch: Optional[Callable]) -> Dict[str, Dict[int, Dict[Optional[int], Any]]]:
        """Every bucket (and resolution key) of the range of every name, ``READ_CHUNK`` keys
        per pipeline (a 50-stat dashboard is one round trip, not 50).

        Keys are built chunk by chunk and other greenlets run between chunks, so a read
        of a million resolution keys neither holds them all in memory at once nor stops
        a gevent server from answering its other requests until it is done.
        """
        if fetch is not None and self.layout.hashed:
            raise ConfigError("a custom fetch reads one key per bucket; layout='hash' keeps the "
                              "buckets of %ss as fields of window hashes" % (self.type,))
        out: Dict[str, Dict[int, Dict[Optional[int], Any]]] = {name: {} for name in names}
        keys = ((out[name], i_key, r_key, key) for name in names
                for i_key, r_key, key in self.keys.bucket_keys(
                    name, interval, interval.step.iter_buckets(first, last)))
        for index, chunk in enumerate(_chunks(keys, READ_CHUNK)):
            if index:
                _cooperate()
            pipe = self._pipeline()
            if fetch is None:
                self._native_fetch(pipe, chunk)
            else:
                self._custom_fetch(pipe, chunk, fetch)
        return out

    def _fetch_flat(self, names: Sequence[str], interval: Interval, first: int, last: int
                    ) -> Dict[str, Tuple[Sequence[int], Sequence[Any]]]:
        """Counts and gauges: every key of every name built from one string per name and
        read with MGETs, ``FLAT_BATCH`` keys per round trip (other greenlets run between
        round trips; packed by hiredis where it can, ``_read_commands``); only the keys
        that exist are kept."""
        layout, scheme = self.layout, self.keys  # one layout for the whole read (``_fetch_dense``)
        if not layout.scalar and not layout.hashed:
            return super()._fetch_flat(names, interval, first, last)
        buckets = list(interval.step.iter_buckets(first, last))
        if interval.has_resolution:
            pairs = [(i_key, r_key) for i_key in buckets for r_key in interval.resolution_buckets(i_key)]
            flat_keys = [r_key for _, r_key in pairs]
        else:
            flat_keys = buckets
        if layout.hashed:  # the window hashes' fields, named by the fine keys
            raws = self._read_windows(cast(HashKeyScheme, scheme), names, interval, flat_keys)
            return {name: _present(flat_keys, raws[name]) for name in names}
        suffixes = (["%d:%d" % pair for pair in pairs] if interval.has_resolution
                    else [str(i_key) for i_key in buckets])
        replies: Dict[str, List[Any]] = {name: [] for name in names}
        commands: List[Tuple[Any, ...]] = []
        queued: List[str] = []
        size = 0

        def flush() -> None:
            for owner, answer in zip(queued, self._read_commands(commands)):
                replies[owner].extend(answer)
            queued.clear()
            commands.clear()
            _cooperate()

        for name in names:
            base = scheme.key_base(name, interval.name)
            keys = [base + suffix for suffix in suffixes]
            for offset in range(0, len(keys), READ_CHUNK):
                commands.append(("MGET", *keys[offset:offset + READ_CHUNK]))
                queued.append(name)
                size += min(READ_CHUNK, len(keys) - offset)
                if size >= FLAT_BATCH:
                    flush()
                    size = 0
        if queued:
            flush()
        return {name: _present(flat_keys, replies[name]) for name in names}

    def _fetch_dense(self, names: Sequence[str], interval: Interval, first: int, last: int
                     ) -> Optional[Dict[str, List[Any]]]:
        """Counts and gauges: the replies of one MGET of every name's keys (``layout='hash'``:
        an HMGET per window hash) kept as they come, a list per name. Keys are built from one
        string per name; ``FLAT_BATCH`` buckets per round trip, other greenlets run between
        two. Packed by hiredis where the client allows it (``redis_reads``)."""
        # one layout for the whole read: another greenlet may bind the prefix's meanwhile
        layout, scheme = self.layout, self.keys
        if not layout.scalar and not layout.hashed:
            return None
        buckets = list(interval.step.iter_buckets(first, last))
        if layout.hashed:
            return self._read_windows(cast(HashKeyScheme, scheme), names, interval, buckets)
        fields = [str(key) for key in buckets]
        per_round = max(1, FLAT_BATCH // max(1, len(fields)))  # names per round trip
        flat: List[Any] = []
        for offset in range(0, len(names), per_round):
            if offset:
                _cooperate()
            bases = [scheme.key_base(name, interval.name) for name in names[offset:offset + per_round]]
            commands = [("MGET", *[base + field for base in bases for field in fields])]
            for reply in self._read_commands(commands):
                flat.extend(reply)
        return _decoded(_split(names, flat, len(fields)))

    def _read_windows(self, scheme: HashKeyScheme, names: Sequence[str], interval: Interval,
                      fine: List[int]) -> Dict[str, List[Any]]:
        """Per name, the raw field of each fine key (None where nothing is stored), read with
        one HMGET per window hash, ``FLAT_BATCH`` fields per round trip (``layout='hash'``)."""
        windows: List[Tuple[int, List[str]]] = []  # consecutive fine keys of one window hash
        for key in fine:
            window = key - key % WINDOW
            if not windows or windows[-1][0] != window:
                windows.append((window, []))
            windows[-1][1].append(str(key))
        per_round = max(1, FLAT_BATCH // max(1, len(fine)))  # names per round trip
        flat: List[Any] = []
        for offset in range(0, len(names), per_round):
            if offset:
                _cooperate()
            commands = [("HMGET", scheme.hash_key(name, interval.name, window), *fields)
                        for name in names[offset:offset + per_round] for window, fields in windows]
            for reply in self._read_commands(commands):
                flat.extend(reply)
        return _decoded(_split(names, flat, len(fine)))

    def _read_commands(self, commands: List[Tuple[Any, ...]]) -> List[Any]:
        """Replies of read commands in one round trip: packed by hiredis on a pooled
        connection where it can (``redis_reads``), else (or after a connection failure)
        on a pipeline."""
        if self._packs_reads:
            try:
                replies = redis_reads.run(self.client, commands)
            except RedisError as err:
                raise self._error(err) from err
            if replies is not None:
                return replies
        pipe = self._pipeline()
        for command in commands:
            if command[0] == "MGET":  # a cluster's pipeline splits it by slot
                pipe.mget(list(command[1:]))
            else:
                pipe.execute_command(*command)
        replies = self._execute(pipe)
        self._raise_first(replies)
        return replies

    def _native_fetch(self, pipe: Any, keys: List[Tuple[Dict, int, Optional[int], str]]) -> None:
        """Rows of one chunk of ``(rows of its name, i_key, r_key, key)`` read with the layout's
        commands, added to the rows of their name. Counts and gauges are strings: one
        MGET reads the whole chunk (a command per key costs the client ten times more)."""
        self.layout.queue_reads(pipe, [key for _, _, _, key in keys])
        replies = self._execute(pipe)
        self._raise_first(replies)
        for (rows, i_key, r_key, _), raw in zip(keys, self.layout.raws(replies)):
            if raw is not None:
                rows.setdefault(i_key, {})[r_key] = raw

    def _custom_fetch(self, pipe: Any, keys: List[Tuple[Dict, int, Optional[int], str]],
                      fetch: Callable) -> None:
        """Rows of a caller's ``fetch(handle, key)``, queued on one pipeline with an EXISTS each.

        The row is the reply of the one command ``fetch`` queued (a list of replies if
        it queued several, its return value if it queued none); keys that do not exist
        hold no data, as with the native read. Rows are added to the rows of their name.
        """
        queued = []
        for _, _, _, key in keys:
            pipe.exists(key)
            before = len(pipe)
            result = fetch(pipe, key)
            queued.append((len(pipe) - before, result))
        replies = self._execute(pipe)
        self._raise_first(replies)
        position = 0
        for (rows, i_key, r_key, _), (count, result) in zip(keys, queued):
            exists = replies[position]
            mine = replies[position + 1:position + 1 + count]
            position += 1 + count
            if not exists:
                continue
            if count == 0:
                row = result
            else:
                row = decode(mine[0] if count == 1 else mine)
            rows.setdefault(i_key, {})[r_key] = row

    # -- meta data and deletion --------------------------------------------
    def ping(self) -> None:
        try:
            self.client.ping()
        except RedisError as err:
            raise self._error(err) from err

    def list(self) -> List[str]:
        """Every stat name with at least one live bucket (SCAN over the prefix)."""
        return sorted({parsed[0] for _, parsed in self._scan(self.keys.all_pattern())})

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        if self.layout.hashed:
            return self._hash_properties(name)
        spans: Dict[str, Tuple[int, int]] = {}
        for _, (key_name, interval, i_key, _) in self._scan(self.keys.name_pattern(name)):
            if key_name != name:
                continue
            span = spans.get(interval)
            spans[interval] = (i_key, i_key) if span is None else (min(span[0], i_key),
                                                                  max(span[1], i_key))
        return {interval: spans[interval] for interval in self.intervals if interval in spans}

    def _hash_properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        """``_properties`` of ``layout='hash'``: the first and last field of the first and last
        window hash of each interval (HKEYS of two hashes per interval)."""
        keys = cast(HashKeyScheme, self.keys)
        windows: Dict[str, List[int]] = {}
        for key, _ in self._scan(keys.name_pattern(name)):
            parsed = keys.parse_hash(key)
            if parsed is not None and parsed[0] == name:
                windows.setdefault(parsed[1], []).append(parsed[2])
        spans: Dict[str, Tuple[int, int]] = {}
        for interval, found in windows.items():
            config = self.intervals[interval]
            fields: List[int] = []
            for window in {min(found), max(found)}:
                try:
                    fields.extend(int(f) for f in self.client.hkeys(
                        keys.hash_key(name, interval, window)))
                except RedisError as err:
                    raise self._error(err) from err
            if fields:
                spans[interval] = (keys.interval_key(config, min(fields)),
                                   keys.interval_key(config, max(fields)))
        return {interval: spans[interval] for interval in self.intervals if interval in spans}

    def delete(self, name: str) -> None:
        """Delete every key of ``name`` (found with SCAN; other keys are never touched), then
        its index entries."""
        count = self._unlink(key for key, parsed in self._scan(self.keys.name_pattern(name))
                             if parsed[0] == name)
        log.debug("deleted %d keys of %r from %s", count, name, self.where)
        self._unindex(name)
        self._forget_names([name])
        self._expiring.forget()  # its hashes may be written again: they need their EXPIREAT

    def delete_all(self) -> None:
        """Delete every key of this timeseries: its prefix, key scheme and interval names,
        and its name index (the next ``nodes`` builds it again, from nothing). The layout
        marker stays (``redis_layout_choice``): the prefix keeps its layout."""
        count = self._unlink(key for key, _ in self._scan(self.keys.all_pattern()))
        log.debug("deleted %d keys under prefix %r from %s", count, self.prefix, self.where)
        self._call("DEL", self._names_key)
        self._forget_names()
        self._expiring.forget()
        self._layout_choice.forget()

    # -- the name index (see the module docstring) -------------------------------
    @staticmethod
    def _members(entries: Sequence[name_index.Entry]) -> Dict[str, int]:
        return {_member(entry): 0 for entry in entries}

    def _call(self, command: str, *args: Any) -> Any:
        try:
            return self.client.execute_command(command, *args)
        except RedisError as err:
            raise self._error(err) from err

    def _unindex(self, name: str) -> None:
        """Remove the entry of ``name`` and the branches above it left without children, in
        one script (atomic: a writer's ZADD of a new child lands before or after it)."""
        own, walk = name_index.removal(name)
        if own is None:
            return
        args = [_member(own)]
        for entry, depth, low, high in walk:
            args.extend((_member(entry), "[%06d%s" % (depth, low), "(%06d%s" % (depth, high)))
        self._call("EVAL", _UNINDEX, 1, self._names_key, *args)

    def _index_children(self, depth: int, low: str, high: Optional[str]) -> List[Tuple[str, str]]:
        top = "(%06d" % (depth + 1) if high is None else "(%06d%s" % (depth, high)
        members = self._call("ZRANGEBYLEX", self._names_key, "[%06d%s" % (depth, low), top)
        return [_parse_member(_text(m)) for m in members]

    def _index_find(self, keys: Sequence[Tuple[int, str]]) -> List[Tuple[str, str]]:
        candidates = [(depth, path, kind) for depth, path in keys
                      for kind in ((name_index.TAGGED,) if depth == 0
                                   else (name_index.LEAF, name_index.BRANCH))]
        pipe = self._pipeline()
        for entry in candidates:
            pipe.zscore(self._names_key, _member(entry))
        replies = self._execute(pipe)
        self._raise_first(replies)
        return [(path, kind) for (_, path, kind), score in zip(candidates, replies)
                if score is not None]

    def _index_tagged(self) -> List[str]:
        members = self._call("ZRANGEBYLEX", self._names_key, "[~", "+")
        return [_text(m)[1:] for m in members]

    def _index_entries(self) -> List[name_index.Entry]:
        out = []
        for member in self._call("ZRANGEBYLEX", self._names_key, "-", "+"):
            member = _text(member)
            if member.startswith("~"):
                out.append((0, member[1:], name_index.TAGGED))
            elif member != _BUILT:
                path, kind = _parse_member(member)
                out.append((int(member[:6]), path, kind))
        return out

    def _index_add(self, entries: Sequence[name_index.Entry]) -> None:
        for start in range(0, len(entries), 10000):
            members = self._members(entries[start:start + 10000])
            try:
                self.client.zadd(self._names_key, members)
            except RedisError as err:
                raise self._error(err) from err

    def _index_discard(self, entries: Sequence[name_index.Entry]) -> None:
        for start in range(0, len(entries), 10000):
            self._call("ZREM", self._names_key,
                       *[_member(entry) for entry in entries[start:start + 10000]])

    def _index_built(self) -> bool:
        return self._call("ZSCORE", self._names_key, _BUILT) is not None

    def _index_set_built(self) -> None:
        self._call("ZADD", self._names_key, 0, _BUILT)

    def expire(self, name: str, now: Optional[float] = None) -> None:
        """Nothing to do: every key written with ``steps`` carries a TTL and expires by itself.

        Kept callable (rather than raising NotImplementedError as seed 002 says) so code
        written for any engine can call ``expire`` without knowing which one it has.
        """
        return None

    def expire_all(self) -> None:
        """Nothing to do either (see ``expire``), and no SCAN of the database for it."""
        return None


settle_before_keyed_calls(RedisTimeseries)  # its subclasses: ``__init_subclass__``
