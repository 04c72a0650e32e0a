"""Functions that gather series into groups and combine each group into one series.

group concatenates lists; groupByNode(s)/groupByTags group by nodes or tags and
apply a callback (an aggregation such as ``sum``, or an aggregating series
function such as ``sumSeries``); the *WithWildcards functions group by the
name without some nodes. Groups come out in the order their first member came in.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Union

from .. import aggregations
from .. import combine as combining
from ..errors import InputError
from ..nodes import node_key
from ..registry import Param, function
from ..series import Series, name_tags

SERIES = Param("seriesList", "seriesList", required=True)
CALLBACK_OPTIONS = combining.callback_options()


def grouped(seriesList: List[Series], key: Callable[[Series], str]) -> Dict[str, List[Series]]:
    """The series by ``key``, groups in order of first appearance."""
    groups: Dict[str, List[Series]] = {}
    for series in seriesList:
        groups.setdefault(key(series), []).append(series)
    return groups


@function("Combine", Param("seriesLists", "seriesList", multiple=True))
def group(context, *seriesLists: List[Series]) -> List[Series]:
    """All the series of all the lists, in order, as one list."""
    return [series for seriesList in seriesLists for series in seriesList]


@function("Combine", SERIES, Param("callback", "aggOrSeriesFunc", required=True,
                                   options=CALLBACK_OPTIONS),
          Param("nodes", "nodeOrTag", multiple=True))
def groupByNodes(context, seriesList: List[Series], callback: str,
                 *nodes: Union[int, str]) -> List[Series]:
    """Group series by several nodes (or tags) and combine each group with ``callback``;
    each result is named by its nodes joined by dots:
    ``groupByNodes(dc.*.host.*.cpu, 'sum', 1, 4)`` gives one series per ``dc.cpu`` pair."""
    combining.check_callback(callback)
    out = []
    for key, members in grouped(seriesList, lambda s: node_key(s, nodes)).items():
        result = combining.callback(members, callback)
        result.name = key
        out.append(result)
    return out


@function("Combine", SERIES, Param("nodeNum", "nodeOrTag", required=True),
          Param("callback", "aggOrSeriesFunc", default="average", options=CALLBACK_OPTIONS))
def groupByNode(context, seriesList: List[Series], nodeNum: Union[int, str],
                callback: str = "average") -> List[Series]:
    """Group series by one node (or tag) and combine each group with ``callback``
    (default ``average``); each result is named by that node:
    ``groupByNode(servers.*.cpu.load, 2, 'sum')`` gives ``cpu``."""
    return groupByNodes(context, seriesList, callback, nodeNum)


@function("Combine", SERIES, Param("callback", "aggOrSeriesFunc", required=True,
                                   options=CALLBACK_OPTIONS),
          Param("tags", "tag", required=True, multiple=True))
def groupByTags(context, seriesList: List[Series], callback: str, *tags: str) -> List[Series]:
    """Group series by the values of some tags and combine each group with ``callback``.

    Each result is a tagged name: the common ``name`` tag of the input (or the
    callback's name when the names differ, or each group's own name when ``name`` is
    one of the tags) followed by the grouping tags, sorted:
    ``groupByTags(seriesByTag('name=cpu'), 'sum', 'dc')`` gives ``cpu;dc=east``...
    """
    combining.check_callback(callback)
    if not tags:
        raise InputError("groupByTags: no tags given")
    by_name = "name" in tags
    others = tuple(tag for tag in tags if tag != "name")
    if not by_name:
        names = {series.tags.get("name", series.name) for series in seriesList}
        common = names.pop() if len(names) == 1 else callback

    def key(series: Series) -> str:
        if by_name:
            head, wanted = series.tags.get("name", series.name), others
        else:
            head, wanted = common, tags
        pairs = sorted("%s=%s" % (tag, series.tags.get(tag, "")) for tag in wanted)
        return ";".join([head] + pairs)

    out = []
    for name, members in grouped(seriesList, key).items():
        result = combining.callback(members, callback)
        result.name = result.path_expression = name
        result.tags = name_tags(name)
        out.append(result)
    return out


def _without_nodes(series: Series, positions: tuple) -> str:
    return ".".join(node for index, node in enumerate(series.name.split("."))
                    if index not in positions)


@function("Combine", SERIES, Param("func", "aggFunc", required=True),
          Param("position", "node", multiple=True))
def aggregateWithWildcards(context, seriesList: List[Series], func: str,
                           *positions: int) -> List[Series]:
    """Group series by their name without the nodes at ``positions`` and aggregate each
    group with ``func``; each result is named by the remaining nodes:
    ``aggregateWithWildcards(host.cpu-*.cpu-{user,system}.value, 'sum', 1)`` gives
    ``host.cpu-user.value`` and ``host.cpu-system.value``."""
    aggregations.get(func)
    out = []
    for key, members in grouped(seriesList, lambda s: _without_nodes(s, positions)).items():
        result = combining.combine(members, func)
        result.name = key
        out.append(result)
    return out


@function("Combine", SERIES, Param("position", "node", multiple=True))
def sumSeriesWithWildcards(context, seriesList: List[Series], *position: int) -> List[Series]:
    """aggregateWithWildcards with ``sum``: the sum of each group of series whose names
    differ only at the nodes given."""
    return aggregateWithWildcards(context, seriesList, "sum", *position)


@function("Combine", SERIES, Param("position", "node", multiple=True))
def averageSeriesWithWildcards(context, seriesList: List[Series],
                               *position: int) -> List[Series]:
    """aggregateWithWildcards with ``average``: the mean of each group of series whose
    names differ only at the nodes given."""
    return aggregateWithWildcards(context, seriesList, "average", *position)
