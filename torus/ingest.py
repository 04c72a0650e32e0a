"""From received bytes to storage: a bounded queue, a planner and one writer per schema.

::

    connections --submit(block)--> ByteQueue (bounded in bytes)
        --> planner greenlet: parse_block, processing.plan (route, transform, write_func)
        --> one SchemaWriter per schema (bounded, in order): processing.store = bulk_insert

Every stage is bounded: when storage falls behind, the batch waiting in a writer's
queue takes in the batches planned after it (``processing.absorb``) up to
``MERGED_POINTS``, so the writer stores several flushes at once; then the planner
waits on it, the byte queue fills and the connection greenlets, which ask the queue
for room before each read, stop reading their sockets (TCP back-pressure), instead of
memory growing. A driver that does not cooperate with gevent (the
engine's ``blocking``: SQLite's would stop every greenlet while it writes) is
written from a thread, one batch at a time, its rows made beforehand on the loop's
thread (kairos ``prepare_bulk``: the writer thread then holds the GIL only between
its statements, and SQLite runs beside the planner): one thread per database file
(``storage_file``), shared by the writers of the schemas in that file, so that they
take turns instead of waiting on each other's lock; each writer keeps its own queue,
order, retries and dead letters. On an engine with ``pipelined`` (Redis) a writer
keeps one batch in flight: it sends the next batch before it waits for the previous
one's answer (``processing.send``), so planning and building one batch overlap
storage running the other.

Each batch holds the configuration it was planned with (a lease, see
``torus.leases``) until it is written or dead-lettered: after a reload, the old
configuration's engines close only once its last batch is done.

Every batch has an id (``processing.BatchIds``). A schema's writer retries a failed
batch with back-off, resending only its unstored parts under their ids, so an
attempt that timed out but was applied is not applied again (engines with
``exactly_once``). A batch that still fails goes to the dead letters (its unstored
parts, with their ids), and the schema is then tried once per batch (no back-off)
until it recovers, so a dead backend cannot hold the other schemas back for long.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from itertools import chain
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import gevent
from gevent.queue import Queue
from gevent.threadpool import ThreadPool
from kairos.pending import Pending

from . import metrics, turns
from .byte_queue import ByteQueue
from .carbon import ParseStats, parse_block, truncate
from .config import ConfigHolder, Configuration
from .dead_letter import DeadLetter, Throttle
from .processing import Batch, BatchIds, Point, Refusal, absorb, plan, send, store
from .unmatched import Unmatched

log = logging.getLogger(__name__)

#: bytes of received lines held between the sockets and the planner
DEFAULT_QUEUE_BYTES = 32 * 1024 * 1024
#: bytes of lines the planner takes per batch
DEFAULT_BATCH_BYTES = 2 * 1024 * 1024
#: planned batches a schema writer may hold before the planner waits (besides the one it
#: writes and, on Redis, the one in flight: more would only hold memory)
WRITER_DEPTH = 1
#: points a batch waiting for its writer may grow to by taking in the batches planned after
#: it: a writer that is behind then stores several flushes at once, and the buckets they
#: share (a minute's six 10-second flushes) become one row or field instead of six
MERGED_POINTS = 50_000
#: seconds the planner works on a batch before it lets the greenlets whose sockets are
#: ready run (``turns.wait_for_turn``, at the loop's highest priority: never starved by
#: sockets that stay busy): ``sleep(0)`` runs only those gevent already woke, so a writer
#: whose storage had answered waited for the whole batch to be planned, and storage idled.
#: ``ingest_bench --regime steady``, 2 rounds alternating: PostgreSQL 153k, 143k points/s
#: before, 175k, 164k after, with the turn at the loop's default priority; at the
#: highest, 169k, 177k, 172k against 167k, 174k, 168k at the default (3 rounds);
#: SQLite and Redis the same within their noise (2026-12-01)
PLANNER_TURN = 0.001
#: seconds to wait before each retry of a failed batch
DEFAULT_RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)


@dataclass
class Counters:
    """What karbon did since it started (logged on exit, and in DONE lines)."""

    lines: int = 0
    points: int = 0
    bad: int = 0
    overlong: int = 0
    dropped: int = 0
    unmatched: int = 0
    skipped: int = 0
    rejected: int = 0
    stored: int = 0
    failed: int = 0
    retries: int = 0
    #: datagrams the kernel dropped because karbon's UDP receive buffer was full
    udp_dropped: int = 0
    #: datagrams left in the receive buffer when a stop's drain deadline passed
    udp_unread: int = 0
    #: connections closed for being idle too long, or to make room at the connection cap
    idle_closed: int = 0
    evicted: int = 0
    #: TCP connections and UDP datagrams refused because their sender is not in --allow
    denied: int = 0
    udp_denied: int = 0

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class RetryPolicy:
    """Seconds to wait before each retry; its length is the number of retries."""

    delays: Sequence[float] = DEFAULT_RETRY_DELAYS


class SchemaWriter:
    """Stores the batches of one schema in order, with retries; one greenlet per schema."""

    def __init__(self, name: str, ingest: "Ingest"):
        self.name = name
        self.ingest = ingest
        self.queue: Queue = Queue(maxsize=WRITER_DEPTH)
        self.failing = False
        #: a write failed after the drain deadline: the batches left go to the dead letters untried
        self.failed_stopping = False
        # this schema's metrics, looked up once
        self.stored = metrics.STORED.labels(schema=name)
        self.dead_lettered = metrics.DEAD_LETTERED.labels(schema=name)
        self.retried = metrics.RETRIED.labels(schema=name)
        self.merged = metrics.MERGED.labels(schema=name)
        self.errors = metrics.BACKEND_ERRORS.labels(schema=name)
        self.write_seconds = metrics.WRITE_SECONDS.labels(schema=name)
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        # on an engine with ``pipelined`` (Redis) one batch stays in flight: batch N+1 is
        # sent before N's replies are read, so building one overlaps storage running the
        # other; the same connection keeps them in order
        flying: Optional[Tuple[Configuration, Batch, Pending, float]] = None
        while True:
            if flying is not None and self.queue.empty():
                self._land(*flying)  # nothing to send meanwhile: wait for its answer now
                flying = None
                continue
            item = self.queue.get()
            if item is None:
                if flying is not None:
                    self._land(*flying)
                return
            config, batch = item
            del item
            if flying is not None and (flying[2].lost or flying[1].schema.timeseries
                                       is not batch.schema.timeseries):
                # its answer was lost: store it again before sending anything after it, or
                # a later batch could reach storage first; a batch for another engine (after
                # a reload) travels on another connection, which nothing orders with this one
                self._land(*flying)
                flying = None
            started = time.perf_counter()
            sent = None if self.failing or self.ingest.hurry else self._send(batch)
            if flying is not None:
                self._land(*flying)
                flying = None
            if sent is not None:
                flying = (config, batch, sent, started)
            else:
                self._guarded(config, batch, lambda: self.write(batch))
            # held by ``flying`` or done: not kept alive while waiting for the next batch
            del config, batch, sent

    def _send(self, batch: Batch) -> Optional[Pending]:
        """``processing.send``: the batch sent ahead, or None (written the usual way)."""
        self.ingest.queue.yield_to_producers()  # read what clients sent before storing
        try:
            return send(batch)
        except Exception:  # a bug building the batch: the usual path reports it
            log.exception("schema %s: unexpected error sending a batch ahead", self.name)
            return None

    def _land(self, config: Configuration, batch: Batch, settle: Pending, started: float) -> None:
        """Wait for a batch sent ahead; when its answer was lost, write it the usual way
        (retries under its id: what was applied is not applied again)."""
        def land() -> None:
            try:
                refused = settle()
            except Exception as err:  # BackendError, a timeout: its fate is unknown
                self.write_seconds.observe(time.perf_counter() - started)
                self.errors.inc()
                self.write(batch, failed=err)
                return
            self.write_seconds.observe(time.perf_counter() - started)
            self._stored(batch, refused, time.perf_counter() - started)
        self._guarded(config, batch, land)

    def _guarded(self, config: Configuration, batch: Batch, write: Callable[[], None]) -> None:
        """Run ``write``; a bug dead-letters the batch's points rather than killing the writer;
        the batch's configuration lease is released either way."""
        try:
            write()
        except Exception:  # never let a bug kill the writer: count and go on
            log.exception("schema %s: unexpected error storing a batch", self.name)
            self.ingest.counters.failed += batch.points
            self.dead_lettered.inc(batch.points)
        finally:
            config.leases.release()  # the batch's engines may close now (after a reload)

    def put(self, config: Configuration, batch: Batch) -> None:
        """Queue a batch planned with ``config``, which stays open until the batch is written
        (or dead-lettered); while this writer is behind, the batch joins the one waiting for
        it (``processing.absorb``) until that holds ``MERGED_POINTS``, then waits."""
        if self.queue.full():
            item = self.queue.queue[-1]  # not taken by the writer yet (None: it is stopping)
            if item is not None and item[0] is config and absorb(item[1], batch, MERGED_POINTS):
                self.merged.inc()
                return
        config.leases.acquire()
        try:
            self.queue.put((config, batch))
        except BaseException:  # killed while waiting: the batch never reaches the writer
            config.leases.release()
            raise

    def write(self, batch: Batch, failed: Optional[Exception] = None) -> None:
        """Store a batch, retrying its unstored parts; dead-letter them when retries run out.

        Each retry resumes ``store`` where the failure left it, with the same batch
        ids: a part whose reply was lost (applied after all) is not applied twice.
        ``failed``: the first attempt was made already (a batch sent ahead) and failed so.
        """
        ingest = self.ingest
        if ingest.hurry and self.failed_stopping:  # storage failed while stopping: no more waits
            self._dead_letter(batch, "not tried: karbon is stopping and this schema's storage failed")
            return
        delays = () if self.failing or ingest.hurry else tuple(ingest.retry.delays)
        attempt = 0
        started = time.perf_counter()
        while True:
            if failed is None:
                ingest.queue.yield_to_producers()  # read what clients sent before storing
                attempted = time.perf_counter()
                try:
                    timeseries = batch.schema.timeseries
                    if timeseries.blocking:  # the rows made here, written from the thread
                        key = timeseries.storage_file or "schema:%s" % self.name
                        refused = store(batch, run=ingest.thread(key).apply)
                    else:
                        refused = store(batch)
                    self.write_seconds.observe(time.perf_counter() - attempted)
                    break
                except Exception as error:  # BackendError, driver errors, timeouts
                    self.write_seconds.observe(time.perf_counter() - attempted)
                    self.errors.inc()
                    failed = error
            err, failed = failed, None
            if attempt >= len(delays) or ingest.hurry:
                self.failing = True
                self.failed_stopping = ingest.hurry
                self._dead_letter(batch, "%s: %s" % (type(err).__name__, err))
                return
            ingest.counters.retries += 1
            self.retried.inc()
            log.warning("schema %s: storing %d points failed (%s: %s); retry %d of %d in %.1f s",
                        self.name, _unstored(batch), type(err).__name__, err, attempt + 1,
                        len(delays), delays[attempt])
            gevent.sleep(delays[attempt])
            attempt += 1
        self._stored(batch, refused, time.perf_counter() - started)

    def _stored(self, batch: Batch, refused: List[Refusal], elapsed: float) -> None:
        """Count a batch storage answered for (all stored but what it refused), and log it."""
        ingest = self.ingest
        if self.failing:
            log.warning("schema %s: storage works again", self.name)
            self.failing = False
        rejected = _refused(batch)
        ingest.counters.stored += batch.points - rejected
        ingest.counters.rejected += rejected
        self.stored.inc(batch.points - rejected)
        if rejected:
            metrics.REJECTED.inc(rejected)
        for why in refused:
            if ingest.throttle.allow("rejected"):
                log.warning("REJECT %s", why)
        if ingest.debug >= 1:
            raw = batch.points - batch.aggregates
            log.info("STOR schema=%s points=%d in %.1f ms (%.0f points/s)", self.name, raw,
                     elapsed * 1000, batch.points / elapsed if elapsed else 0)
            if batch.aggregates:
                log.info("AGRT schema=%s points=%d", self.name, batch.aggregates)

    def _dead_letter(self, batch: Batch, why: str) -> None:
        """Write the unstored parts of ``batch`` to the dead letters, and count the batch."""
        counters = self.ingest.counters
        failed = self.ingest.dead_letter.write(batch, why)
        stored = batch.points - _unstored(batch) - _refused(batch)
        counters.failed += failed
        counters.stored += stored
        counters.rejected += _refused(batch)
        self.dead_lettered.inc(failed)
        self.stored.inc(stored)
        if batch.refused:
            metrics.REJECTED.inc(_refused(batch))

    def stop(self) -> None:
        self.queue.put(None)


def _unstored(batch: Batch) -> int:
    return sum(unit.points for unit in batch.unstored())


def _refused(batch: Batch) -> int:
    return min(batch.points, sum(refusal.points for refusal in batch.refused))


class Ingest:
    """Owns the queue, the planner and the schema writers of one karbon process."""

    def __init__(self, holder: ConfigHolder, queue_bytes: int = DEFAULT_QUEUE_BYTES,
                 batch_bytes: int = DEFAULT_BATCH_BYTES, dead_letter: Optional[DeadLetter] = None,
                 retry: Optional[RetryPolicy] = None, unmatched: Optional[Unmatched] = None):
        self.holder = holder
        self.queue = ByteQueue(queue_bytes)
        self.batch_bytes = batch_bytes
        self.dead_letter = dead_letter or DeadLetter()
        self.retry = retry or RetryPolicy()
        self.counters = Counters()
        self.throttle = Throttle()
        #: points no schema matched, per top-level prefix (``unmatched.counts()``)
        self.unmatched = unmatched or Unmatched(throttle=self.throttle)
        self.writers: Dict[str, SchemaWriter] = {}
        #: the threads writing blocking engines: one per database file (or schema)
        self.threads: Dict[str, ThreadPool] = {}
        self.ids = BatchIds()
        #: stopping past the drain deadline: dead-letter failed batches without retrying
        self.hurry = False
        self._planner: Optional[gevent.Greenlet] = None

    @property
    def debug(self) -> int:
        return self.holder.current.debug

    def thread(self, key: str) -> ThreadPool:
        """The thread writing ``key`` (a database file), for drivers that do not cooperate
        with gevent; the writers of every schema in that file share it."""
        pool = self.threads.get(key)
        if pool is None:
            pool = self.threads[key] = ThreadPool(1)
        return pool

    def start(self) -> None:
        self._planner = gevent.spawn(self._plan_loop)

    def submit(self, block: bytes, source: str, now: Optional[float] = None,
               charged: bool = False) -> None:
        """Queue a block of whole lines from ``source``; waits while the queue is full, unless
        the caller ``charged`` the queue for these bytes before reading them."""
        self.queue.put((block, source, time.time() if now is None else now), len(block),
                       charged=charged)

    def add_overlong(self, count: int, source: str) -> None:
        """Count lines the framer skipped for being too long."""
        if count:
            self.counters.lines += count
            self.counters.overlong += count
            metrics.count_overlong(count)
            if self.throttle.allow("overlong"):
                log.warning("SKIP %d line(s) from %s longer than the limit", count, source)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Store everything queued, stop the greenlets; True when all finished in time."""
        self.queue.close()
        if self._planner is not None:
            self._planner.join(timeout)
            if not self._planner.dead:
                return False
        writers = list(self.writers.values())
        for writer in writers:
            writer.stop()
        done = gevent.joinall([w.greenlet for w in writers], timeout=timeout)
        if len(done) < len(writers):
            return False
        threads, self.threads = list(self.threads.values()), {}
        for pool in threads:
            pool.kill()
        return True

    # -- the planner ------------------------------------------------------
    def _plan_loop(self) -> None:
        while True:
            items = self.queue.get_batch(self.batch_bytes, timeout=None)
            if items is None:
                return
            try:
                self.process(items)
            except Exception:  # a bug must not stop ingestion
                log.exception("unexpected error processing %d blocks", len(items))

    def process(self, items: List[Tuple[bytes, str, float]]) -> None:
        """Parse, plan and hand to the schema writers one batch of received blocks."""
        with self.holder.lease() as config:  # one configuration for the whole batch
            self._process(config, items)

    def _process(self, config: Configuration, items: List[Tuple[bytes, str, float]]) -> None:
        started = time.perf_counter()
        parsed = ParseStats()
        # parsed block by block as ``plan`` consumes them: the points of the whole batch are
        # never all held as tuples at once, only its planned form (``items`` is consumed)
        points: Iterable[Point] = chain.from_iterable(self._parse(config, items, parsed))
        if config.debug >= 2:
            points = list(points)
            self._log_points(config, points)
        batches, stats = plan(config, points, self.ids)
        del points
        counters = self.counters
        counters.lines += parsed.lines
        counters.points += parsed.points
        counters.bad += parsed.bad
        counters.overlong += parsed.overlong
        counters.dropped += parsed.dropped
        metrics.count_parsed(parsed.lines, parsed.points, parsed.bad, parsed.overlong,
                             parsed.dropped)
        counters.unmatched += stats.unmatched
        if stats.unmatched_points:
            metrics.count_unmatched(self.unmatched.record(stats.unmatched_points))
        counters.skipped += stats.skipped
        counters.rejected += stats.rejected
        if stats.skipped:
            metrics.SKIPPED.inc(stats.skipped)
        if stats.rejected:
            metrics.REJECTED.inc(stats.rejected)
        for why in stats.rejections:
            if self.throttle.allow("rejected"):
                log.warning("REJECT %s", why)
        count = len(batches)
        for name in list(batches):
            batch = batches.pop(name)  # the writer's queue holds it, not this planner
            writer = self.writers.get(name)
            if writer is None or writer.greenlet.dead:
                writer = self.writers[name] = SchemaWriter(name, self)
            writer.put(config, batch)  # waits while this schema's writer is behind
            del batch
        if config.debug >= 1:
            elapsed = time.perf_counter() - started
            log.info("DONE lines=%d points=%d unmatched=%d bad=%d schemas=%d in %.1f ms "
                     "(%.0f lines/s)", parsed.lines, parsed.points, stats.unmatched,
                     parsed.bad + parsed.overlong, count, elapsed * 1000,
                     parsed.lines / elapsed if elapsed else 0)

    def _parse(self, config: Configuration, items: List[Tuple[bytes, str, float]],
               parsed: ParseStats) -> Iterator[Iterable[Point]]:
        """The points of each block, in order; a block's bytes are dropped once parsed
        (``items`` is emptied as it goes)."""
        items.reverse()
        turn_ends = time.perf_counter() + PLANNER_TURN
        while items:
            block, source, now = items.pop()
            points = parse_block(block, now, parsed, self._reporter(source, config.debug))
            del block
            self.queue.yield_to_producers()  # reading stays ahead of parsing
            if time.perf_counter() >= turn_ends:
                turns.wait_for_turn()  # the loop polls its sockets: writers whose storage
                turn_ends = time.perf_counter() + PLANNER_TURN  # answered go on
            yield points

    def _reporter(self, source: str, debug: int):
        throttle = self.throttle

        def report(kind: str, line: str, reason: str) -> None:
            if kind == "dropped":
                if debug >= 2:
                    log.debug("SKIP %s from %s: %s", truncate(line), source, reason)
            elif throttle.allow(kind):
                log.warning("SKIP %s line from %s: %s: %r", kind, source, reason, truncate(line))
        return report

    def _log_points(self, config: Configuration, points: list) -> None:
        for stat, value, timestamp in points:
            log.debug("RECV %s %s %s", stat, value, timestamp)
            if not config.route(stat):
                log.debug("SKIP %s: no schema matches", stat)
