"""torus_delete: delete stats from storage by exact name, Graphite glob or regular expression.

Finds everything first and lists it, per schema; then, unless ``--dry-run``,
asks for confirmation (``--yes`` skips the question) and deletes each name from
every interval of each schema holding it (``deletion.remove``). Exact names are
looked up directly; a ``--pattern`` or ``--regex`` lists every name each schema
stores (a scan of the prefix on Redis) and keeps those that match the whole name.
Exit status: 0 done (or nothing to delete), 1 declined at the prompt, 2 an error.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Callable, List, Optional, Pattern, TextIO

from . import __version__
from .cli import ArgumentParser, add_config_argument, setup_logging
from .config import ConfigHolder
from .daemon import console_main
from .deletion import DeleteError, Found, by_schema, exact_name, find, find_matching, remove
from .errors import TorusError
from .name_patterns import PatternError, compile_glob, compile_regex, is_glob
from .schema import Schema

DESCRIPTION = ("Delete stats from every interval of every schema that holds them: exact names, "
               "Graphite globs (--pattern) or regular expressions (--regex). Lists what would "
               "go, then asks before deleting.")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="torus_delete", description=DESCRIPTION)
    parser.add_argument("stats", metavar="STAT", nargs="*",
                        help="Exact stat names to delete (tagged names in any tag order).")
    add_config_argument(parser, required=True)
    parser.add_argument("--pattern", metavar="GLOB", action="append", default=[],
                        help="Delete every stored name matching this Graphite glob: * and ? "
                             "within one dotted component, [abc], {a,b}; the whole name must "
                             "match. Repeatable.")
    parser.add_argument("--regex", metavar="REGEX", action="append", default=[],
                        help="Delete every stored name this Python regular expression matches "
                             "as a whole (it is anchored at both ends). Repeatable.")
    parser.add_argument("--schema", metavar="NAME", action="append", default=[],
                        help="Only delete from this schema (repeatable); defaults to every "
                             "schema of the configuration.")
    parser.add_argument("--dry-run", action="store_true",
                        help="Only list what would be deleted; delete nothing.")
    parser.add_argument("--yes", action="store_true",
                        help="Delete without asking for confirmation.")
    parser.add_argument("--version", action="version", version="torus_delete %s" % __version__)
    return parser


def _schemas(holder: ConfigHolder, names: List[str]) -> List[Schema]:
    schemas = holder.current.schemas
    unknown = [name for name in names if name not in schemas]
    if unknown:
        raise TorusError("--schema %s: no such schema (known: %s)"
                         % (unknown[0], ", ".join(schemas) or "none"))
    return [schemas[name] for name in dict.fromkeys(names)] if names else list(schemas.values())


def _patterns(args: argparse.Namespace) -> List[Pattern[str]]:
    try:
        return ([compile_glob(glob) for glob in args.pattern]
                + [compile_regex(regex) for regex in args.regex])
    except PatternError as err:
        raise TorusError("bad pattern %s" % err) from None


def _names(stats: List[str]) -> List[str]:
    out = []
    for text in stats:
        if is_glob(text):
            raise TorusError("%r holds a pattern character (* ? [ ] { }): names given as "
                             "arguments are exact; use --pattern for a glob" % text)
        try:
            out.append(exact_name(text))
        except DeleteError as err:
            raise TorusError(str(err)) from None
    return out


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def describe(found: List[Found], out: TextIO) -> None:
    """The list of what ``found`` holds, per schema, one name a line."""
    schemas = {item.schema.name: item.schema for item in found}
    for name, stats in by_schema(found).items():
        print("schema %s (%s): %d stat(s)" % (name, schemas[name].describe_host(), len(stats)),
              file=out)
        for stat, spans in stats.items():
            if spans:
                print("  %s  %s" % (stat, ", ".join("%s %s..%s" % (interval, _when(span["first"]),
                                                                  _when(span["last"]))
                                                    for interval, span in spans.items())), file=out)
            else:
                print("  %s" % stat, file=out)


def confirm(question: str, stdin: TextIO, out: TextIO) -> bool:
    """Ask on ``out``, read one answer from ``stdin``; only y/yes agrees (end of input declines)."""
    out.write(question)
    out.flush()
    answer = stdin.readline()
    if not answer:
        out.write("\n")
    elif not stdin.isatty():  # piped: show the answer, as a terminal would have
        out.write(answer if answer.endswith("\n") else answer + "\n")
    return answer.strip().lower() in ("y", "yes")


def _main(argv: Optional[List[str]] = None, stdin: Optional[TextIO] = None,
          out: Optional[TextIO] = None) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    if not (args.stats or args.pattern or args.regex):
        raise TorusError("name what to delete: STAT arguments, --pattern or --regex")
    names = _names(args.stats)
    patterns = _patterns(args)
    holder = ConfigHolder(args.config)
    setup_logging(holder.current.debug)
    schemas = _schemas(holder, args.schema)
    found = find(schemas, names)
    if patterns:
        seen = {(item.schema.name, item.stat) for item in found}
        accept: Callable[[str], bool] = lambda name: any(p.match(name) for p in patterns)
        found.extend(item for item in find_matching(schemas, accept)
                     if (item.schema.name, item.stat) not in seen)
    missing = [name for name in dict.fromkeys(names) if name not in {i.stat for i in found}]
    for name in missing:
        print("not found: %s (no schema holds it)" % name, file=out)
    if not found:
        print("nothing to delete", file=out)
        return 0
    describe(found, out)
    count = len({item.stat for item in found})
    summary = "%d stat(s) in %d schema(s)" % (count, len({item.schema.name for item in found}))
    if args.dry_run:
        print("dry run: would delete %s; nothing deleted" % summary, file=out)
        return 0
    if not args.yes and not confirm("delete %s? [y/N] " % summary, stdin, out):
        print("declined: nothing deleted", file=out)
        return 1

    def done(item: Found) -> None:
        print("deleted %s from %s" % (item.stat, item.schema.name), file=out)

    remove(found, progress=done, level=logging.INFO)
    print("deleted %s" % summary.replace(" in ", " from "), file=out)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``torus_delete --config FILE [--pattern GLOB] [--dry-run] STAT...``."""
    return console_main(_main, argv)
