"""schema_debug: show where input stats would be stored, as an indented tree.

For each input (a bare stat name, or a Carbon line ``name value [timestamp]``)
it prints every schema that matches and by which pattern, where that schema
stores data (credentials hidden), the stat name and value after the schema's
``transform`` and ``write_func``, then every aggregate the name generates and,
recursively, the schemas and aggregates of each aggregate. The tree is the walk
karbon routes every point with (``Configuration.walk``, whose ``routes`` are
``Configuration.route``), printed instead of flattened, so one can see *why* a
point lands somewhere. Nothing is written and no storage is contacted.
"""
from __future__ import annotations

import datetime
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple

from .aggregates import Aggregate
from .carbon import BadLine, DroppedValue, canonical_name, parse_timestamp, parse_value
from .cli import ArgumentParser, add_config_argument
from .config import Configuration
from .errors import ConfigError
from .routing import Hop
from .schema import Schema
from .values import long_or_float

INDENT = "  "
#: marks a value that was not given (a bare stat name)
NO_VALUE = object()


class BadInput(ValueError):
    """An input string is neither a stat name nor a Carbon line."""


def parse_input(text: str, now: Optional[float] = None) -> Tuple[str, Any, Optional[float]]:
    """``"name"`` or ``"name value [timestamp]"`` -> (name, value or NO_VALUE, timestamp or None).

    Name, value and timestamp are parsed as karbon parses a Carbon line (a tagged
    name canonicalised, an integral value an int, other numbers floats, anything
    else kept as text; a timestamp of -1 is now), so transforms see what they
    would see in karbon.
    """
    parts = text.split()
    if not parts or len(parts) > 3:
        raise BadInput("%r is neither a stat name nor a Carbon line 'name value [timestamp]'" % text)
    try:
        name = canonical_name(parts[0])
        value: Any = parse_value(parts[1]) if len(parts) > 1 else NO_VALUE
        timestamp = None
        if len(parts) == 3:
            timestamp = parse_timestamp(parts[2], time.time() if now is None else now)
    except (BadLine, DroppedValue) as err:
        raise BadInput("%r: %s" % (text, err)) from None
    return name, value, timestamp


def _utc(timestamp: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _storage(schema: Schema) -> str:
    """Host without password, plus the table or key prefix when the schema names one."""
    where = schema.describe_host()
    for key in ("table_name", "prefix"):
        if schema.definition.get(key):
            where += " (%s %s)" % (key, schema.definition[key])
    return where


def _intervals(schema: Schema) -> str:
    """``hour (step 1h, resolution 60, steps 720), ...`` from the schema's own definition."""
    out = []
    for name, spec in schema.definition["intervals"].items():
        details = ", ".join("%s %s" % (key, spec[key]) for key in ("step", "resolution", "steps")
                            if key in spec)
        out.append("%s (%s)" % (name, details))
    return ", ".join(out)


def _stored_as(schema: Schema, stat: str, value: Any) -> str:
    """What the processing path would write for ``stat``/``value`` in ``schema``."""
    given = value is not NO_VALUE
    if schema.transform is not None:
        try:
            renamed, value = schema.apply_transform(stat, value if given else None)
        except Exception as err:  # a user function: report, do not crash the tool
            if not given:
                return "transform needs a value to run (give 'name value'): %s: %s" % (
                    type(err).__name__, err)
            return "transform fails, point dropped: %s: %s" % (type(err).__name__, err)
        if renamed is None:
            return "transform skips it: not stored"
        stat = renamed
    if not given:
        return "stores %s" % stat
    try:
        value = schema.write_func(value)
    except Exception as err:
        return "write_func rejects %r, point dropped: %s: %s" % (value, type(err).__name__, err)
    return "stores %s = %r" % (stat, value)


def _schema_lines(schema: Schema, pattern: str, stat: str, value: Any, depth: int) -> List[str]:
    pad = INDENT * depth
    inner = pad + INDENT
    return [
        "%sschema %s (%s) matched by '%s'" % (pad, schema.name, schema.type, pattern),
        "%sstorage: %s" % (inner, _storage(schema)),
        "%sintervals: %s%s" % (inner, _intervals(schema),
                               "; rolling %+d" % schema.rolling if schema.rolling else ""),
        "%s%s" % (inner, _stored_as(schema, stat, value)),
    ]


def _tree(hop: Hop, value: Any, depth: int) -> List[str]:
    """Schemas of one name of the walk, then each aggregate it generates with its own subtree."""
    lines: List[str] = []
    for schema, pattern in hop.matches:
        lines.extend(_schema_lines(schema, pattern, hop.stat, value, depth))
    if not lines:
        lines.append("%sno schema matches" % (INDENT * depth))
    for rollup in hop.rollups:
        lines.append("%saggregate %s from rule %s" % (INDENT * depth, rollup.name, _rule(rollup.rule)))
        if rollup.hop is None:
            lines.append("%salready shown above (rules loop back to it)" % (INDENT * (depth + 1)))
            continue
        lines.extend(_tree(rollup.hop, value, depth + 1))
    return lines


def _rule(rule: Aggregate) -> str:
    return "(%r, %r)" % (rule.rollup, rule.source)


def describe(config: Configuration, text: str) -> List[str]:
    """The tree printed for one input string (raises BadInput for a malformed one)."""
    stat, value, timestamp = parse_input(text)
    head = [stat]
    if value is not NO_VALUE:
        head.append("value %r" % value)
    if timestamp is not None:
        head.append("at %s (%s)" % (long_or_float(round(timestamp, 3)), _utc(timestamp)))
    return [", ".join(head)] + _tree(config.walk(stat), value, 1)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="schema_debug", description="Debugging tool for schemas")
    parser.add_argument("strings", nargs="+",
                        help="One or more input strings to test against the schemas: a stat name "
                             "or a Carbon line 'name value [timestamp]' (quote it)")
    add_config_argument(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the tree of every input; 1 when a configuration fails to load or an input is bad."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.config:
        parser.error("no configuration file given (use --config FILE)")
    try:
        config = Configuration(args.config)
    except ConfigError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    status = 0
    printed = False
    try:
        for text in args.strings:
            try:
                lines = describe(config, text)
            except BadInput as err:
                print("error: %s" % err, file=sys.stderr)
                status = 1
                continue
            if printed:
                print()
            print("\n".join(lines))
            printed = True
    finally:
        config.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
