"""Functions that rename series: alias, aliasByNode, aliasByTags, aliasSub, aliasByMetric.

Only ``name`` changes (the legend Grafana shows); tags and path expressions
stay, as in graphite-web.
"""
from __future__ import annotations

import re
from typing import List, Union

from ..errors import InputError
from ..nodes import node_key
from ..registry import Param, function
from ..series import Series
from .filters import compile_pattern


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("newName", "string", required=True))
def alias(context, seriesList: List[Series], newName: str) -> List[Series]:
    """Give every series of the list the name ``newName`` (the legend Grafana shows)."""
    for series in seriesList:
        series.name = newName
    return seriesList


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("nodes", "nodeOrTag", required=True, multiple=True))
def aliasByNode(context, seriesList: List[Series], *nodes: Union[int, str]) -> List[Series]:
    """Name each series by some of its nodes (0-based, negative from the end) or tags.

    ``aliasByNode(servers.*.cpu.load, 1)`` names ``servers.web1.cpu.load`` ``web1``;
    a string picks a tag value, so ``seriesByTag('name=load')|aliasByNode('host', 0)``
    gives ``web1.load``. A name made by a function uses its first path's nodes.
    """
    for series in seriesList:
        series.name = node_key(series, nodes)
    return seriesList


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("tags", "nodeOrTag", required=True, multiple=True))
def aliasByTags(context, seriesList: List[Series], *tags: Union[int, str]) -> List[Series]:
    """Name each series by the values of the tags given, joined by dots (nodes work too)."""
    return aliasByNode(context, seriesList, *tags)


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("search", "string", required=True), Param("replace", "string", required=True))
def aliasSub(context, seriesList: List[Series], search: str, replace: str) -> List[Series]:
    r"""Rename each series by a regular expression substitution on its name.

    ``replace`` may refer to groups of ``search`` as ``\1`` or ``\g<name>``
    (Python's re.sub, as graphite-web): ``aliasSub(ip.*TCP*, '^.*TCP(\d+)', '\1')``.
    """
    regex = compile_pattern(search, "aliasSub")
    try:
        for series in seriesList:
            series.name = regex.sub(replace, series.name)
    except (re.error, IndexError) as err:
        raise InputError("aliasSub: invalid replacement %r: %s" % (replace, err)) from None
    return seriesList


def metric_name(name: str) -> str:
    """The last node of the innermost path of a name: ``sumSeries(a.b.c,d)`` -> ``c``."""
    left = name.rfind("(") + 1
    right = name.find(")")
    inner = name[left:right] if right >= 0 else name[left:]
    return inner.split(".")[-1].split(",", 1)[0]


@function("Alias", Param("seriesList", "seriesList", required=True))
def aliasByMetric(context, seriesList: List[Series]) -> List[Series]:
    """Name each series by the last node of its metric path (``carbon.agents.x.creates``
    becomes ``creates``), looking inside a function-made name."""
    for series in seriesList:
        series.name = metric_name(series.name)
    return seriesList
