"""schema_test: load-test a configuration with the schemas' own ``generator`` functions.

Every schema that defines a ``generator`` is called in turn to make points
``(stat, value)``; the points then take the full processing path that karbon
uses (``torus.processing.plan`` + ``store``: routing, aggregates, transforms,
write_func, one ``bulk_insert`` per schema and round), so the figures include
every schema and aggregate a point reaches. It runs for ``--duration`` seconds;
``--clear`` first deletes all data of every schema of the configuration.

The test must not write into real stats: points are routed by their generated
name (tagged names made canonical, as karbon does) but stored under
``--prefix`` (default ``schema_test.``), and ``--clean`` deletes every stat under
that prefix afterwards.

Live progress goes to stderr when it is a terminal; the summary table goes to
stdout in any case. Exit status 1 when any point failed (generator, transform,
write_func or storage), 0 otherwise.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

from kairos import KairosError

from .carbon import canonical_name
from .cli import ArgumentParser, add_config_argument, number_type, run
from .config import Configuration
from .errors import TorusError
from .processing import Batch, Point, plan, store

#: points asked of each generator per round; a round is planned and stored as one batch
ROUND = 50
#: where generated stats are stored by default: beside real ones, never on top of them
DEFAULT_PREFIX = "schema_test."
#: distinct error messages remembered, and how many of the most frequent the summary shows
KEEP_ERRORS = 100
SHOW_ERRORS = 10


@dataclass
class Results:
    """What a run did, per schema and in total."""

    generated: int = 0
    unmatched: int = 0
    skipped: int = 0
    rejected: int = 0
    elapsed: float = 0.0
    rounds: int = 0
    interrupted: bool = False
    generated_by: Counter = field(default_factory=Counter)
    stored: Counter = field(default_factory=Counter)
    aggregates: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)

    def error(self, schema: str, count: int, message: str) -> None:
        self.errors[schema] += count
        self.note(message, count)

    def note(self, message: str, count: int = 1) -> None:
        """Remember an error message (a bounded number of distinct ones) and how often it came."""
        if message in self.messages or len(self.messages) < KEEP_ERRORS:
            self.messages[message] += count

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values()) + self.rejected

    @property
    def rate(self) -> float:
        return self.generated / self.elapsed if self.elapsed > 0 else 0.0


def generators(config: Configuration) -> List[Tuple[str, Callable[[], Any]]]:
    """``(schema name, generator)`` for each schema that has one; TorusError when none has."""
    found = [(name, schema.generator) for name, schema in config.schemas.items()
             if schema.generator is not None]
    if not found:
        raise TorusError("no schema of %s defines a generator: nothing to test"
                         % ", ".join(config.paths))
    return found


def clear(config: Configuration) -> None:
    """Delete every stat of every schema (the whole point of --clear: it is not undoable)."""
    for schema in config.schemas.values():
        schema.timeseries.delete_all()


def _generate(sources: List[Tuple[str, Callable[[], Any]]], results: Results) -> List[Point]:
    """One round of points, ``ROUND`` from each generator; a failing call costs one point."""
    points: List[Point] = []
    now = time.time()
    for _ in range(ROUND):
        for name, generator in sources:
            try:
                made = generator()
                stat, value = made
                if not isinstance(stat, str) or not stat:
                    raise TypeError("stat name %r is not a non-empty string" % (stat,))
                stat = canonical_name(stat)  # as karbon receives it
            except Exception as err:
                results.error(name, 1, "generator of schema %s: %s: %s" % (name, type(err).__name__, err))
                continue
            results.generated_by[name] += 1
            points.append((stat, value, now))
    return points


def prefixed(batch: Batch, prefix: str) -> Batch:
    """The batch with every stat name (generated or aggregate) under ``prefix``."""
    if prefix:
        batch.inserts = {timestamp: {prefix + name: values for name, values in stats.items()}
                         for timestamp, stats in batch.inserts.items()}
    return batch


def clean(config: Configuration, prefix: str) -> List[str]:
    """Delete every stat under ``prefix`` in every schema; one line per schema that had some."""
    if not prefix:
        raise TorusError("--clean needs a --prefix: it would delete real stats")
    lines = []
    for name, schema in config.schemas.items():
        stats = [stat for stat in schema.timeseries.list() if stat.startswith(prefix)]
        for stat in stats:
            schema.timeseries.delete(stat)
        if stats:
            lines.append("removed %d stats under %r from schema %s" % (len(stats), prefix, name))
    return lines or ["nothing to remove under %r" % prefix]


def run_test(config: Configuration, duration: float,
             progress: Optional[Callable[[Results], None]] = None,
             prefix: str = DEFAULT_PREFIX) -> Results:
    """Generate points and store them under ``prefix`` until ``duration`` seconds have passed."""
    sources = generators(config)
    results = Results()
    started = time.monotonic()
    try:
        _loop(config, sources, duration, started, results, progress, prefix)
    except KeyboardInterrupt:  # Ctrl-C: still report what was done
        results.interrupted = True
        results.elapsed = time.monotonic() - started
    return results


def _loop(config: Configuration, sources: List[Tuple[str, Callable[[], Any]]], duration: float,
          started: float, results: Results, progress: Optional[Callable[[Results], None]],
          prefix: str) -> None:
    while True:
        results.elapsed = time.monotonic() - started
        if results.elapsed >= duration:
            break
        points = _generate(sources, results)
        results.generated += len(points)
        batches, planned = plan(config, points)
        results.unmatched += planned.unmatched
        results.skipped += planned.skipped
        results.rejected += planned.rejected
        for why in planned.rejections:  # plan keeps the first few of each batch
            results.note(why)
        for name, batch in batches.items():
            try:
                refused = store(prefixed(batch, prefix))
            except KairosError as err:  # the engine failed the whole batch
                results.error(name, batch.points, "schema %s: %s" % (name, err))
                continue
            for refusal in refused:
                results.error(name, 1, str(refusal))
            results.stored[name] += batch.points - len(refused)
            results.aggregates[name] += batch.aggregates
        results.rounds += 1
        if progress is not None:
            progress(results)


def summary(config: Configuration, results: Results) -> List[str]:
    """The final table: per schema generated, stored (of which aggregates) and errors."""
    lines = ["schema_test: %.1f s%s, %d points generated, %.0f points/s, %d rounds of %d per generator"
             % (results.elapsed, " (interrupted)" if results.interrupted else "", results.generated,
                results.rate, results.rounds, ROUND)]
    rows = [("schema", "type", "generated", "stored", "aggregates", "stored/s", "errors")]
    for name, schema in config.schemas.items():
        stored = results.stored[name]
        rows.append((name, schema.type, str(results.generated_by[name]),
                     str(stored), str(results.aggregates[name]),
                     "%.0f" % (stored / results.elapsed if results.elapsed > 0 else 0),
                     str(results.errors[name])))
    total_stored = sum(results.stored.values())
    rows.append(("total", "", str(results.generated), str(total_stored),
                 str(sum(results.aggregates.values())),
                 "%.0f" % (total_stored / results.elapsed if results.elapsed > 0 else 0),
                 str(results.total_errors)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    if results.unmatched:
        lines.append("%d generated points matched no schema" % results.unmatched)
    if results.rejected:
        lines.append("%d values rejected by a transform or write_func (in the total errors)"
                     % results.rejected)
    if results.skipped:
        lines.append("%d schema writes skipped by a transform" % results.skipped)
    if results.messages:
        lines.append("errors (the most frequent %d distinct messages):"
                     % min(SHOW_ERRORS, len(results.messages)))
        lines.extend("  " + message for message, _ in results.messages.most_common(SHOW_ERRORS))
    return lines


class _Progress:
    """A one-line live display on a terminal (tqdm over the test's seconds)."""

    def __init__(self, duration: float):
        from tqdm import tqdm
        self.total = round(duration, 1)
        self.bar = tqdm(total=self.total, unit="s", file=sys.stderr, leave=False,
                        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f}s{postfix}")
        self.shown = 0.0

    def __call__(self, results: Results) -> None:
        if results.elapsed - self.shown < 0.2:
            return
        self.bar.update(round(min(results.elapsed, self.total) - self.bar.n, 1))
        top = ", ".join("%s %d" % item for item in results.stored.most_common(4))
        self.bar.set_postfix_str("%d points, %.0f/s | %s" % (results.generated, results.rate, top))
        self.shown = results.elapsed

    def close(self) -> None:
        self.bar.close()



def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="schema_test", description="Tool for performance testing of schemas")
    add_config_argument(parser)
    parser.add_argument("--clear", action="store_true",
                        help="If true, clear all data of every schema before running the test. "
                             "Defaults to false.")
    parser.add_argument("--duration", type=number_type(float, 0, "a positive number of seconds", allow_minimum=False), default=60.0,
                        help="Duration of the test in seconds. Defaults to 60 seconds.")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX,
                        help="Store every generated stat (and its aggregates) under this prefix, "
                             "so the test never writes into real stats. Defaults to %r; '' "
                             "stores the generated names themselves." % DEFAULT_PREFIX)
    parser.add_argument("--clean", action="store_true",
                        help="After the test, delete every stat whose name starts with the prefix "
                             "(what this and earlier runs stored), in every schema.")
    return parser


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.config:
        parser.error("no configuration file given (use --config FILE)")
    if args.clean and not args.prefix:
        parser.error("--clean needs a --prefix: it would delete real stats")
    config = Configuration(args.config)
    generators(config)  # before --clear deletes anything
    if args.clear:
        clear(config)
        print("cleared every stat of schemas %s" % ", ".join(config.schemas))
    progress = _Progress(args.duration) if sys.stderr.isatty() else None
    try:
        results = run_test(config, args.duration, progress, args.prefix)
    finally:
        if progress is not None:
            progress.close()
    print("\n".join(summary(config, results)))
    if args.clean:
        print("\n".join(clean(config, args.prefix)))
    if results.interrupted:
        return 130
    return 1 if results.total_errors else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``schema_test`` command."""
    return run(_main, list(argv) if argv is not None else None)


if __name__ == "__main__":
    sys.exit(main())
