"""Map/reduce over series names: mapSeries, reduceSeries, applyByNode.

mapSeries splits a list into lists by nodes; reduceSeries hands the series of
each such list, picked by the value of one node, to a render function called by
name; applyByNode evaluates a target template once per distinct name prefix.
The functions called are looked up in the registry when the request runs.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Union

from .. import registry
from ..errors import InputError
from ..nodes import node_key
from ..registry import Param, function
from ..series import Series


def _map_series(context, seriesList: List[Series],
                *mapNodes: Union[int, str]) -> List[List[Series]]:
    """Split the list into one list per value of the nodes (or tags) given, in order of
    first appearance: ``mapSeries(servers.*.cpu.*, 1)`` gives one list per server.
    Its result is meant for reduceSeries."""
    groups: Dict[str, List[Series]] = {}
    for series in seriesList:
        groups.setdefault(node_key(series, mapNodes), []).append(series)
    return list(groups.values())


MAP_PARAMS = (Param("seriesList", "seriesList", required=True),
              Param("mapNodes", "nodeOrTag", required=True, multiple=True))
mapSeries = function("Combine", *MAP_PARAMS, name="mapSeries")(_map_series)
function("Combine", *MAP_PARAMS, name="map")(_map_series)


def _series_lists(value: list) -> List[List[Series]]:
    """mapSeries' lists, or one plain series list taken as a single list."""
    if all(isinstance(item, Series) for item in value):
        return [value]
    return value


def _reduce_series(context, seriesLists: list, reduceFunction: str, reduceNode: int,
                   *reduceMatchers: str) -> List[Series]:
    """Within each list (from mapSeries), pick the series whose node ``reduceNode`` is
    each of ``reduceMatchers`` and call ``reduceFunction`` with them, one argument each
    in the matchers' order. The result is named ``<prefix>.reduce.<reduceFunction>``:
    ``reduceSeries(mapSeries(servers.*.disk.{used,total}, 1), 'asPercent', 3, 'used',
    'total')`` gives ``servers.web1.disk.reduce.asPercent``..."""
    spec = registry.FUNCTIONS.get(reduceFunction)
    if spec is None:
        raise InputError("reduceSeries: unknown function %r" % reduceFunction)
    picked: Dict[str, List[Optional[Series]]] = {}
    for seriesList in _series_lists(seriesLists):
        for series in seriesList:
            nodes = series.name.split(".")
            if not -len(nodes) <= reduceNode < len(nodes):
                raise InputError("reduceSeries: %r has no node %d" % (series.name, reduceNode))
            if nodes[reduceNode] not in reduceMatchers:
                continue
            key = ".".join(nodes[:reduceNode]) + ".reduce." + reduceFunction
            slots = picked.setdefault(key, [None] * len(reduceMatchers))
            slots[reduceMatchers.index(nodes[reduceNode])] = series
    out = []
    for key, slots in picked.items():
        missing = [m for m, series in zip(reduceMatchers, slots) if series is None]
        if missing:
            raise InputError("reduceSeries: no series matches %r for %s"
                             % (missing[0], key))
        args = [[series] for series in slots]
        registry.check_arguments(spec, args, {})
        result = spec.func(context, *args)
        if result:
            result[0].name = key
            out.append(result[0])
    return out


REDUCE_PARAMS = (Param("seriesLists", "seriesLists", required=True),
                 Param("reduceFunction", "string", required=True),
                 Param("reduceNode", "node", required=True),
                 Param("reduceMatchers", "string", required=True, multiple=True))
reduceSeries = function("Combine", *REDUCE_PARAMS, name="reduceSeries")(_reduce_series)
function("Combine", *REDUCE_PARAMS, name="reduce")(_reduce_series)


@function("Combine", Param("seriesList", "seriesList", required=True),
          Param("nodeNum", "node", required=True),
          Param("templateFunction", "string", required=True), Param("newName", "string"))
def applyByNode(context, seriesList: List[Series], nodeNum: int, templateFunction: str,
                newName: Optional[str] = None) -> List[Series]:
    """For each distinct prefix of the names up to node ``nodeNum`` (sorted), evaluate
    ``templateFunction`` with ``%`` replaced by the prefix; ``newName`` (``%`` replaced
    too) renames the results: ``applyByNode(servers.*.disk.used, 1,
    'divideSeries(%.disk.used, %.disk.total)', '%.disk.ratio')``."""
    if not seriesList:
        return []
    prefixes = sorted({".".join(series.name.split(".")[:nodeNum + 1]) for series in seriesList})
    last = seriesList[-1]
    results = []
    for prefix in prefixes:
        for result in context.evaluate(templateFunction.replace("%", prefix)):
            if newName:
                result.name = newName.replace("%", prefix)
            result.path_expression = prefix
            result.start, result.end = last.start, last.end
            results.append(result)
    return results
