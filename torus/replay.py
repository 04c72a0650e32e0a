"""karbon_replay: store what karbon wrote to its dead letters, nothing twice.

Each part of a dead-letter file (see ``dead_letter``) is written straight into the
schema it names, under its batch id and its ``now``: on engines that apply
batches exactly once (SQL, Redis) a part the database had applied after all (its
reply was lost) changes nothing. Parts go in as karbon would have stored them: no
routing, no aggregates, no ``transform``/``write_func`` again.

A file is renamed while it is replayed (karbon may append to the original name
meanwhile); the parts that could not be stored are appended back to the original
name, so running the tool again retries exactly those.
"""
from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from typing import List, Optional

from . import __version__
from .cli import ArgumentParser, add_config_argument, setup_logging
from .config import ConfigHolder, Configuration
from .daemon import console_main
from .dead_letter import SUFFIX, Part, append_whole, read_parts, render
from .errors import TorusError
from .processing import Batch, store

log = logging.getLogger(__name__)

DESCRIPTION = ("Store the points karbon wrote to its dead-letter files, each part under its "
               "batch id, so that nothing already stored is stored twice.")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="karbon_replay", description=DESCRIPTION)
    parser.add_argument("paths", metavar="PATH", nargs="+",
                        help="Dead-letter files (DIR/<schema>.carbon) or directories holding them.")
    add_config_argument(parser, required=True)
    parser.add_argument("--dry-run", action="store_true",
                        help="Only list what each file holds; store and change nothing.")
    parser.add_argument("--version", action="version", version="karbon_replay %s" % __version__)
    return parser


@dataclass
class Totals:
    parts: int = 0
    points: int = 0
    stored: int = 0
    refused: int = 0
    failed: int = 0
    unsure: int = 0  # parts without a batch id: may be stored twice


#: a file being replayed (or left by a replay that was killed): picked up again by the next run
WORKING = ".replaying"


def files_of(paths: List[str]) -> List[str]:
    """Every dead-letter file named, directories expanded (sorted), files a killed replay
    left included; TorusError for a missing path."""
    out: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            out.extend(os.path.join(path, name) for name in sorted(os.listdir(path))
                       if name.endswith(SUFFIX) or name.endswith(SUFFIX + WORKING))
        elif os.path.isfile(path):
            out.append(path)
        else:
            raise TorusError("%s: no such file or directory" % path)
    return out


def _parts(path: str, named: Optional[str] = None) -> List[Part]:
    """The parts of a file; lines without a header belong to the schema its name (or
    ``named``, the file's original name) gives: ``DIR/<schema>.carbon``."""
    name = os.path.basename(named or path)
    default = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else None
    with open(path, encoding="utf-8") as handle:
        try:
            return list(read_parts(handle, default))
        except ValueError as err:
            raise TorusError("%s: %s" % (path, err)) from None


def replay_part(config: Configuration, part: Part, totals: Totals) -> str:
    """Store one part; returns the dead-letter text of what is still not stored ("" if none)."""
    totals.parts += 1
    totals.points += part.points
    schema = config.schemas.get(part.schema)
    if schema is None:
        totals.failed += part.points
        log.error("schema %r (line %d) is not in the configuration: %d points kept",
                  part.schema, part.line, part.points)
        return part.text
    if part.batch is None:
        totals.unsure += 1
    batch = Batch(schema, part.inserts, part.points, id=part.batch or "", created=part.now or 0.0)
    try:
        refused = store(batch)
    except Exception as err:  # BackendError, driver errors: keep what is left
        left = sum(unit.points for unit in batch.unstored())
        totals.failed += left
        totals.stored += part.points - left
        log.error("schema %s: %d points not stored (%s: %s); kept", part.schema, left,
                  type(err).__name__, err)
        return render(batch, "replay: %s: %s" % (type(err).__name__, err))
    rejected = min(part.points, sum(refusal.points for refusal in refused))
    totals.refused += rejected
    totals.stored += part.points - rejected
    for refusal in refused:
        log.warning("REJECT %s", refusal)
    return ""


def replay_file(config: Configuration, path: str, totals: Totals) -> None:
    """Replay one file, renamed while in use; what is not stored is appended back to its name.

    Interrupted (Ctrl-C, an error), the parts not replayed yet go back; killed, the
    renamed file stays and the next run replays it whole. Either way a part sent a
    second time changes nothing: its batch id is recorded, and kept for the whole
    ``batch_ttl`` (``keep_batch_ids``).
    """
    if path.endswith(WORKING):  # left by a replay that was killed
        work, path = path, path[:-len(WORKING)]
    else:
        work = path + WORKING
        os.rename(path, work)
    for schema in config.schemas.values():
        schema.timeseries.keep_batch_ids = True
    try:
        parts = _parts(work, path)
    except BaseException:  # unreadable: the file goes back as it was
        with open(work, encoding="utf-8") as handle:
            append_whole(path, handle.read())
        os.remove(work)
        raise
    kept: List[str] = []
    done = 0
    try:
        for part in parts:
            kept.append(replay_part(config, part, totals))
            done += 1
    except BaseException:
        kept.extend(part.text for part in parts[done:])
        raise
    finally:
        if "".join(kept):
            append_whole(path, "".join(kept))
        os.remove(work)




def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    holder = ConfigHolder(args.config)
    setup_logging(holder.current.debug)
    config = holder.current
    totals = Totals()
    for path in files_of(args.paths):
        if args.dry_run:
            for part in _parts(path):
                print("%s: schema %s, batch %s, %d points%s" % (
                    path, part.schema, part.batch or "(none)", part.points,
                    "" if part.schema in config.schemas else " (schema not configured)"))
                totals.parts += 1
                totals.points += part.points
            continue
        replay_file(config, path, totals)
    if args.dry_run:
        print("karbon_replay: %d parts, %d points (dry run: nothing stored)"
              % (totals.parts, totals.points))
        return 0
    print("karbon_replay: %d parts, %d points: %d stored (or found already stored), %d refused, "
          "%d kept for a later run" % (totals.parts, totals.points, totals.stored, totals.refused,
                                       totals.failed))
    if totals.unsure:
        print("karbon_replay: %d part(s) had no batch id (written by hand or by an older karbon): "
              "those may have been stored twice" % totals.unsure)
    return 1 if totals.failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``karbon_replay --config CONFIG PATH ...``."""
    return console_main(_main, argv)
