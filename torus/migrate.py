"""migrate: copy the data of one interval from one schema to another.

The source is read with ``Timeseries.iterate``, stat by stat and bucket by bucket
at its finest granularity (resolution buckets when the interval has a resolution,
never condensed), and written to the destination as raw points at each bucket's
timestamp, so the destination files them into its own intervals and resolutions
(another engine, other intervals: both fine). The source type says which points a
bucket stands for (``kairos.types``: series, each value; histogram, each value with
its count; count, the total; gauge, the value; set, each member); they are one
counted write when the destination takes counts (a histogram), else each point
repeated its count times. Copies of rolling schemas are not rolled again
(``intervals=0``): the source buckets already hold them. The destination's
transform and write_func are not applied: stored values are copied as they are.

Gauges and sets are idempotent: copying twice gives the same result. Counts,
histograms and series add to what the destination holds (their type is
``additive``), so a second run doubles them; the tool warns. ``--concurrency``
greenlets copy one stat each, in time order within the stat (the last gauge value
of a bucket stays the last).
"""
from __future__ import annotations

import argparse
import datetime
import re
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Dict, Iterator, List, Optional, Pattern, Sequence, Tuple

from kairos import BackendError, KairosError

from .carbon import BadLine, canonical_name
from .cli import ArgumentParser, add_config_argument, number_type
from .config import Configuration
from .daemon import console_main
from .errors import TorusError
from .schema import Schema

DEFAULT_CONCURRENCY = 10
#: interval buckets read per query (``iterate``'s chunk)
CHUNK = 100
#: buckets written per ``bulk_insert``
WRITE_CHUNK = 1000
#: at most this many stat names are listed when reporting an interruption
LIST_LIMIT = 20


@dataclass
class Job:
    """One migration: what to read, where to write, which range."""

    source: Schema
    destination: Schema
    interval: str
    start: Optional[float] = None
    end: Optional[float] = None
    dry_run: bool = False


@dataclass
class Copied:
    """What was (or, in a dry run, would be) copied for one stat."""

    stat: str
    buckets: int = 0
    points: int = 0
    first: Optional[float] = None
    last: Optional[float] = None
    error: Optional[str] = None


@dataclass
class Totals:
    stats: List[Copied] = field(default_factory=list)
    points: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def buckets(self) -> int:
        return sum(result.buckets for result in self.stats)

    @property
    def errors(self) -> List[Copied]:
        return [result for result in self.stats if result.error]


# -- reading -------------------------------------------------------------------
def select_stats(source: Schema, names: Sequence[str], match: Optional[Pattern[str]]) -> List[str]:
    """The stats to copy: those named (or every stat of the source), kept when ``match`` finds them."""
    candidates = list(dict.fromkeys(names)) if names else source.timeseries.list()
    if match is not None:
        candidates = [stat for stat in candidates if match.search(stat)]
    return candidates


def read_buckets(job: Job, stat: str) -> Iterator[List[Tuple[int, Any]]]:
    """Chunks of ``(bucket timestamp, data)`` holding data, oldest first, within start/end.

    ``Timeseries.iterate`` gives resolution buckets when the interval has a resolution
    (the finest data stored), else interval buckets, those overlapping [start, end].
    Rows are read with the type's own ``process_row``, so a gauge bucket never written
    stays None instead of reading as ``read_func('')``: nothing to copy.
    """
    series = job.source.timeseries
    kind = series.kind
    buckets = ((timestamp, data) for timestamp, data in series.iterate(
                   stat, job.interval, start=job.start, end=job.end, chunk=CHUNK,
                   process_row=kind.process_row)
               if kind.has_data(data))
    while True:
        chunk = list(islice(buckets, WRITE_CHUNK))
        if not chunk:
            return
        yield chunk


# -- writing -------------------------------------------------------------------
def write_chunk(job: Job, stat: str, chunk: Sequence[Tuple[float, Any]]) -> int:
    """Write one chunk to the destination (unless dry run); returns its number of points."""
    kind = job.source.timeseries.kind
    target = job.destination.timeseries
    counted = [(timestamp, kind.points(data)) for timestamp, data in chunk]
    points = sum(times for _, pairs in counted for _, times in pairs)
    if job.dry_run:
        return points
    if target.kind.takes_counts:
        target.bulk_insert_histogram({ts: {stat: _tally(pairs)} for ts, pairs in counted},
                                     intervals=0)
    else:
        target.bulk_insert({ts: {stat: [value for value, times in pairs for _ in range(times)]}
                            for ts, pairs in counted}, intervals=0)
    return points


def _tally(pairs: List[Tuple[Any, int]]) -> Dict[Any, int]:
    """``{value: occurrences}`` of ``(value, occurrences)`` pairs (a series repeats values)."""
    out: Dict[Any, int] = {}
    for value, times in pairs:
        out[value] = out.get(value, 0) + times
    return out


def copy_stat(job: Job, stat: str, on_points: Callable[[int], None] = lambda n: None) -> Copied:
    """Copy one stat; a value the destination refuses ends this stat only (BackendError stops all)."""
    result = Copied(stat)
    try:
        for chunk in read_buckets(job, stat):
            points = write_chunk(job, stat, chunk)
            result.buckets += len(chunk)
            result.points += points
            if result.first is None:
                result.first = chunk[0][0]
            result.last = chunk[-1][0]
            on_points(points)
    except BackendError:
        raise
    except (KairosError, ValueError, TypeError) as err:  # InvalidValue, a read_func that fails...
        result.error = "%s: %s" % (type(err).__name__, err)
    return result


# -- reporting -------------------------------------------------------------------
def _utc(timestamp: Optional[float]) -> str:
    if timestamp is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_copy(result: Copied, dry_run: bool) -> str:
    if result.error:
        return "failed %s after %d points: %s" % (result.stat, result.points, result.error)
    if not result.buckets:
        return "nothing in range for %s" % result.stat
    return "%s %s: %d buckets, %d points, %s .. %s" % (
        "would copy" if dry_run else "copied", result.stat, result.buckets, result.points,
        _utc(result.first), _utc(result.last))


def summary(job: Job, totals: Totals, planned: int) -> str:
    elapsed = time.monotonic() - totals.started
    copied = len(totals.stats) - len(totals.errors)
    text = "%s %d of %d stats, %d buckets, %d points from %s to %s in %.1f s (%.0f points/s)" % (
        "dry run: would copy" if job.dry_run else "copied", copied, planned, totals.buckets,
        totals.points, job.source.name, job.destination.name, elapsed,
        totals.points / elapsed if elapsed > 0 else 0)
    if totals.errors:
        text += "; %d stats failed" % len(totals.errors)
    return text


def _names(stats: Sequence[str]) -> str:
    shown = ", ".join(stats[:LIST_LIMIT])
    return shown + (" and %d more" % (len(stats) - LIST_LIMIT) if len(stats) > LIST_LIMIT else "")


# -- command line ------------------------------------------------------------------
def _time(text: str) -> float:
    from .times import parse_time
    try:
        return parse_time(text, time.time())
    except (ValueError, TorusError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _stat_name(text: str) -> str:
    """A --stat in the canonical form karbon stores (tags sorted by name)."""
    try:
        return canonical_name(text.strip())
    except BadLine as err:
        raise argparse.ArgumentTypeError("%r is not a valid tagged name: %s" % (text, err)) from None


def _regex(text: str) -> Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError("%r is not a regular expression: %s" % (text, err)) from None


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="migrate",
                            description="A tool to migrate data from one schema to another")
    add_config_argument(parser, required=True)
    parser.add_argument("--source", required=True, help="The name of the source schema [required]")
    parser.add_argument("--destination", required=True,
                        help="The name of the destination schema [required]")
    parser.add_argument("--interval", required=True,
                        help="The name of the interval from which to read data [required]")
    parser.add_argument("--start", type=_time,
                        help="Only copy stats occurring on or after this date. Same format as web "
                             "parameter. [optional]")
    parser.add_argument("--end", type=_time,
                        help="Only copy stats occurring on or before this date. Same format as web "
                             "parameter. [optional]")
    parser.add_argument("--concurrency", type=number_type(int, 1, "a whole number >= 1"), default=DEFAULT_CONCURRENCY,
                        help="Set the concurrency on the schema target writing. Defaults to %d."
                             % DEFAULT_CONCURRENCY)
    parser.add_argument("--stat", action="append", default=[], type=_stat_name,
                        help="The name of the stat to copy. Can be called multiple times for a list "
                             "of stats. If not provided, all stats will be copied. [optional]")
    parser.add_argument("--match", type=_regex,
                        help="Pattern match to migrate a subset of the data. [optional]")
    parser.add_argument("--dry-run", action="store_true",
                        help="Print out status but do not save results in the destination schema. "
                             "[optional]")
    parser.add_argument("--verbose", action="store_true",
                        help="Print out even more information during the migration [optional]")
    return parser


def make_job(config: Configuration, args: argparse.Namespace) -> Job:
    """Check the schema and interval names; TorusError (exit 2) when one does not exist."""
    for role in ("source", "destination"):
        name = getattr(args, role)
        if name not in config.schemas:
            raise TorusError("unknown %s schema %r: the configuration has %s"
                             % (role, name, ", ".join(config.schemas) or "no schemas"))
    if args.source == args.destination:
        raise TorusError("the source and destination are both schema %r" % args.source)
    source = config.schemas[args.source]
    if args.interval not in source.timeseries.intervals:
        raise TorusError("schema %r has no interval %r (it has %s)"
                         % (source.name, args.interval, ", ".join(source.timeseries.intervals)))
    return Job(source, config.schemas[args.destination], args.interval, args.start, args.end,
               args.dry_run)


def _warn(text: str) -> None:
    print("migrate: %s" % text, file=sys.stderr)


def _announce(job: Job, stats: Sequence[str]) -> None:
    """What is about to be copied (stdout), and the notes and warnings that go with it (stderr)."""
    source, target = job.source, job.destination
    span = "every bucket" if job.start is None and job.end is None else "%s .. %s" % (
        _utc(job.start) if job.start is not None else "first",
        _utc(job.end) if job.end is not None else "last")
    print("%s %d stats of schema %s (%s, %s) interval %s, %s, to schema %s (%s, %s)" % (
        "dry run: reading" if job.dry_run else "copying", len(stats), source.name, source.type,
        source.describe_host(), job.interval, span, target.name, target.type,
        target.describe_host()), flush=True)
    if source.type != target.type:
        _warn("note: the source is a %s and the destination a %s: stored values are written "
              "as raw points" % (source.type, target.type))
    if target.timeseries.kind.additive and not job.dry_run:
        _warn("warning: schema %s is a %s, so copying adds to what it holds: running the same "
              "migration twice doubles the data" % (target.name, target.type))


def copy_all(job: Job, stats: Sequence[str], concurrency: int, verbose: bool) -> int:
    """Copy ``stats`` with ``concurrency`` greenlets; the exit status (130 after Ctrl-C).

    A BackendError stops everything and propagates once how far the copy got is reported.
    """
    import gevent
    from gevent.pool import Pool
    from tqdm import tqdm

    totals = Totals()
    running: Dict[str, int] = {}  # stats being copied -> points written so far
    bar = tqdm(total=len(stats), unit="stat", file=sys.stderr, disable=None, dynamic_ncols=True)

    def work(stat: str) -> Copied:
        running[stat] = 0

        def counted(points: int) -> None:
            running[stat] += points
            totals.points += points
            bar.set_postfix_str("%d points" % totals.points, refresh=False)
        result = copy_stat(job, stat, counted)
        del running[stat]
        return result

    hub = gevent.get_hub()
    # Ctrl-C still reaches this greenlet; the hub need not print it as a crash first
    hub.NOT_ERROR = tuple(hub.NOT_ERROR) + (KeyboardInterrupt,)
    pool = Pool(concurrency)
    try:
        for result in pool.imap_unordered(work, stats):
            totals.stats.append(result)
            bar.update(1)
            if result.error or verbose or job.dry_run:
                bar.write(describe_copy(result, job.dry_run), file=sys.stdout)
    except (KeyboardInterrupt, BackendError) as err:
        pool.kill()
        bar.close()
        interrupted = isinstance(err, KeyboardInterrupt)
        _warn("%s after %d of %d stats (%d points%s)" % (
            "interrupted" if interrupted else "stopped", len(totals.stats) - len(totals.errors),
            len(stats), totals.points, "" if job.dry_run else " written"))
        partly = sorted(stat for stat, points in running.items() if points)
        if partly and not job.dry_run:
            _warn("partly copied: %s%s" % (_names(partly), (
                " (copying them again adds their first part twice)"
                if job.destination.timeseries.kind.additive else "")))
        if interrupted:
            return 130
        raise
    bar.close()
    print(summary(job, totals, len(stats)))
    return 1 if totals.errors else 0


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    if args.start is not None and args.end is not None and args.end < args.start:
        raise TorusError("--end (%s) is before --start (%s)" % (_utc(args.end), _utc(args.start)))
    job = make_job(Configuration(args.config), args)
    stats = select_stats(job.source, args.stat, args.match)
    _announce(job, stats)
    return copy_all(job, stats, args.concurrency, args.verbose)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point of ``migrate`` (gevent: the copying greenlets share the drivers)."""
    return console_main(_main, list(argv) if argv is not None else None)


if __name__ == "__main__":
    sys.exit(main())
