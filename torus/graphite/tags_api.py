"""graphite-web 1.1's read-only tag API over the tagged names stored in every schema.

Each endpoint is ``endpoint(config, params, now) -> JSON-able answer`` (``tag_details``
takes the tag as a fourth argument); bad input raises ``ParameterError`` or
``InputError`` (400). Tags come from the stored names themselves
(``metric;tag=value;...``, ``name`` being the metric): karbon stores tagged names as
they arrive, so there is no separate tag database to keep in step.

==============================  ===========================================================
/tags                           ``filter`` (regex, matched at the start), ``limit``:
                                ``[{"tag": t}]`` sorted
/tags/<tag>                     ``filter`` on values, ``limit``: ``{"tag": t, "values":
                                [{"value": v, "count": n}]}``, or null for an unknown tag
/tags/findSeries                ``expr`` (repeatable, also ``expr[]``): the names, sorted
/tags/autoComplete/tags         ``expr``, ``tagPrefix``, ``limit`` (default 100)
/tags/autoComplete/values       ``tag`` (required), ``expr``, ``valuePrefix``, ``limit``
==============================  ===========================================================

Regular expressions match at the start of the text, case-sensitive (graphite-web's
Redis tag database; its SQL one is case-insensitive on PostgreSQL). Answers carry no
``id`` fields (graphite-web's SQL tag database adds its row ids; its Redis one does not).
``jsonp`` is refused (400).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .. import access
from ..params import Params, ParameterError
from . import finder
from .errors import refuse_jsonp

#: graphite-web's TAGDB_AUTOCOMPLETE_LIMIT
AUTOCOMPLETE_LIMIT = 100


def _limit(params: Params, default: Optional[int]) -> Optional[int]:
    """``limit``: a whole number >= 0 (0 or absent: ``default``)."""
    text = params.one("limit")
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise ParameterError("limit", "%r is not a whole number" % text) from None
    if number < 0:
        raise ParameterError("limit", "must be 0 or more, not %d" % number)
    return number or default


def _regex(params: Params, name: str) -> Optional["re.Pattern[str]"]:
    text = params.one(name)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as err:
        raise ParameterError(name, "%r is not a regular expression: %s" % (text, err)) from None


def _expressions(params: Params) -> List[str]:
    return params.all("expr") or params.all("expr[]")


def _tagged(config: Any, grant: access.Grant) -> List[Any]:
    """``(name, schema)`` of the stored tagged names the request may read."""
    return [pair for pair in finder.tagged_names(config) if access.readable(grant, pair[0])]


def _all_tags(config: Any, grant: access.Grant) -> List[Dict[str, str]]:
    """The tags of every stored tagged name the request may read (unparsable ones left out)."""
    out = []
    for name, _ in _tagged(config, grant):
        tags = finder.parse_tags(name)
        if tags is not None:
            out.append(tags)
    return out


def _matching_tags(config: Any, expressions: List[str], grant: access.Grant
                   ) -> List[Dict[str, str]]:
    specs = finder.parse_specs(expressions)
    return [tags for _, _, tags in finder.select(_tagged(config, grant), specs)]


def _first(values: set, limit: Optional[int]) -> List[str]:
    ordered = sorted(values)
    return ordered if limit is None else ordered[:limit]


def tag_list(config: Any, params: Params, now: float) -> List[Dict[str, str]]:
    """/tags: every tag name, sorted, optionally filtered and limited."""
    refuse_jsonp(params)
    pattern = _regex(params, "filter")
    limit = _limit(params, None)
    names = {tag for tags in _all_tags(config, params.grant) for tag in tags}
    if pattern is not None:
        names = {tag for tag in names if pattern.match(tag)}
    return [{"tag": tag} for tag in _first(names, limit)]


def tag_details(config: Any, params: Params, now: float, tag: str) -> Optional[Dict[str, Any]]:
    """/tags/<tag>: the values of one tag with the number of series holding each; None
    (JSON null) when no stored series has the tag."""
    refuse_jsonp(params)
    pattern = _regex(params, "filter")
    limit = _limit(params, None)
    counts: Dict[str, int] = {}
    for tags in _all_tags(config, params.grant):
        if tag in tags:
            counts[tags[tag]] = counts.get(tags[tag], 0) + 1
    if not counts:
        return None
    values = {value for value in counts if pattern is None or pattern.match(value)}
    return {"tag": tag, "values": [{"value": value, "count": counts[value]}
                                   for value in _first(values, limit)]}


def find_series(config: Any, params: Params, now: float) -> List[str]:
    """/tags/findSeries: the stored names matching every ``expr``, sorted."""
    refuse_jsonp(params)
    expressions = _expressions(params)
    if not expressions:
        raise ParameterError("expr", "no tag expressions specified")
    return access.filter_readable(params.grant,
                                  [name for name, _ in finder.tagged(config, expressions)])


def auto_complete_tags(config: Any, params: Params, now: float) -> List[str]:
    """/tags/autoComplete/tags: tag names starting with ``tagPrefix``; with ``expr``, those
    of the matching series other than the tags the expressions name."""
    refuse_jsonp(params)
    prefix = params.one("tagPrefix") or ""
    limit = _limit(params, AUTOCOMPLETE_LIMIT)
    expressions = _expressions(params)
    if expressions:
        searched = {finder.TagSpec(text).tag for text in expressions}
        candidates = _matching_tags(config, expressions, params.grant)
    else:
        searched = set()
        candidates = _all_tags(config, params.grant)
    names = {tag for tags in candidates for tag in tags
             if tag not in searched and tag.startswith(prefix)}
    return _first(names, limit)


def auto_complete_values(config: Any, params: Params, now: float) -> List[str]:
    """/tags/autoComplete/values: the values of ``tag`` starting with ``valuePrefix``; with
    ``expr``, those of the series matching the expressions that have the tag."""
    refuse_jsonp(params)
    tag = params.one("tag")
    if not tag:
        raise ParameterError("tag", "no tag specified")
    prefix = params.one("valuePrefix") or ""
    limit = _limit(params, AUTOCOMPLETE_LIMIT)
    expressions = _expressions(params)
    candidates = (_matching_tags(config, expressions + [tag + "!="], params.grant) if expressions
                  else _all_tags(config, params.grant))
    values = {tags[tag] for tags in candidates if tag in tags and tags[tag].startswith(prefix)}
    return _first(values, limit)
