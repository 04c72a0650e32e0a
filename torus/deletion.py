"""Deleting stats: a name goes from every interval of every schema whose storage holds it.

Shared by ``DELETE /series`` (torus) and the ``torus_delete`` tool. ``find`` asks
each schema's storage which of the given names it holds (kairos ``properties``: the
first and last bucket of each interval), ``remove`` deletes them (kairos
``Timeseries.delete``: a SQL ``DELETE ... WHERE name = ?``, a SCAN of the name's keys
then UNLINK on Redis, ``delete_many`` on MongoDB, one partition delete per interval
on Cassandra). Everything is found before anything is deleted, so a dry run and the
real run report the same thing, and two schemas sharing one table both report it.

Over HTTP a ``stat`` is an exact name, never a pattern: one mistyped URL (or a
dashboard variable expanding to ``*``) must not be able to wipe a database, and
matching a pattern means listing every name of every schema, a full scan of the
keyspace on Redis, which is no work for a request. Patterns (Graphite globs and
regular expressions) are the tool's, which shows every name it would delete and
asks before it does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from .carbon import BadLine, canonical_name
from .config import Configuration
from .name_patterns import is_glob
from .params import ParameterError, Params, UnknownName
from .queries import check_stat_count
from .schema import Schema

log = logging.getLogger(__name__)

#: {interval: {"first": timestamp, "last": timestamp}} (None: not looked up)
Spans = Optional[Dict[str, Dict[str, int]]]


@dataclass
class Found:
    """One stat a schema's storage holds (``intervals``: its first and last buckets)."""

    schema: Schema
    stat: str
    intervals: Spans = None


class DeleteError(ValueError):
    """A name that cannot be deleted as given (malformed tagged name)."""


def exact_name(text: str) -> str:
    """A stat name as karbon stores it (tags sorted); DeleteError when malformed."""
    text = text.strip()
    if not text or any(char.isspace() for char in text):
        raise DeleteError("%r is not a stat name" % text)
    try:
        return canonical_name(text)
    except BadLine as err:
        raise DeleteError("%r is not a valid tagged name: %s" % (text, err)) from None


def find(schemas: Sequence[Schema], names: Iterable[str]) -> List[Found]:
    """Every (schema, name) pair whose storage holds data, with its intervals' spans (in the
    schema's order of intervals)."""
    out = []
    for name in dict.fromkeys(names):
        for schema in schemas:
            spans = schema.timeseries.properties(name)
            if spans:
                ordered = {interval: spans[interval] for interval in schema.timeseries.intervals
                           if interval in spans}
                out.append(Found(schema, name, ordered))
    return out


def find_matching(schemas: Sequence[Schema], accept: Callable[[str], bool]) -> List[Found]:
    """Every name stored in each schema that ``accept`` takes (kairos ``list``: every name)."""
    out: List[Found] = []
    for schema in schemas:
        out.extend(Found(schema, name) for name in schema.timeseries.list() if accept(name))
    return out


def remove(found: Iterable[Found], progress: Optional[Callable[[Found], None]] = None,
           level: int = logging.WARNING) -> int:
    """Delete each found (schema, name); returns how many were deleted.

    Each deletion is logged at ``level`` (WARNING by default: a server logs it whatever
    DEBUG says).
    A storage failure raises at once; what was deleted before it stays deleted, and
    running the same deletion again is harmless.
    """
    count = 0
    for item in found:
        item.schema.timeseries.delete(item.stat)
        count += 1
        log.log(level, "DELETE %s from schema %s (%s)", item.stat, item.schema.name,
                item.schema.describe_host())
        if progress is not None:
            progress(item)
    return count


def by_schema(found: Iterable[Found]) -> Dict[str, Dict[str, Any]]:
    """``{schema: {stat: intervals}}`` (intervals None when they were not looked up)."""
    out: Dict[str, Dict[str, Any]] = {}
    for item in found:
        out.setdefault(item.schema.name, {})[item.stat] = item.intervals
    return out


# -- DELETE /series --------------------------------------------------------------
def _chosen_schemas(config: Configuration, params: Params) -> List[Schema]:
    """Every schema, or those named by ``schema`` (repeatable; 404 for an unknown one)."""
    names = params.all("schema")
    if not names:
        return list(config.schemas.values())
    out = []
    for name in dict.fromkeys(n.strip() for n in names):
        schema = config.schemas.get(name)
        if schema is None:
            raise UnknownName("schema", "unknown schema %r (known: %s)"
                              % (name, ", ".join(config.schemas) or "none"))
        out.append(schema)
    return out


def delete_series(config: Configuration, params: Params, now: float) -> Dict[str, Any]:
    """DELETE /series: remove each ``stat`` (exact names) from every schema holding it.

    Parameters: ``stat`` (repeatable, required, at most MAX_STATS), ``schema``
    (repeatable: only these schemas), ``dry_run`` (true: report, delete nothing).
    Answer: ``{"dry_run": bool, "deleted": {schema: {stat: {interval: {first, last}}}},
    "not_found": [stats no schema holds]}``. A name nothing holds is not an error.
    """
    if "pattern" in params:
        raise ParameterError("pattern", "DELETE /series takes exact names in stat=, never a "
                                        "pattern: delete by pattern with the torus_delete tool, "
                                        "which lists the names and asks first")
    stats = params.all("stat")
    if not stats:
        raise ParameterError("stat", "is required: the exact name of each stat to delete")
    check_stat_count(config, stats)
    names = []
    for text in stats:
        if is_glob(text):
            raise ParameterError("stat", "%r holds a pattern character (* ? [ ] { }): DELETE "
                                         "/series takes exact names; delete by pattern with "
                                         "torus_delete --pattern" % text.strip())
        try:
            names.append(exact_name(text))
        except DeleteError as err:
            raise ParameterError("stat", str(err)) from None
    dry_run = params.boolean("dry_run")
    found = find(_chosen_schemas(config, params), names)
    if not dry_run:
        remove(found)
    held = {item.stat for item in found}
    return {"dry_run": dry_run, "deleted": by_schema(found),
            "not_found": [name for name in dict.fromkeys(names) if name not in held]}
