"""graphite-web 1.1's /metrics/find, /metrics/expand and /metrics/index.json over the name index.

Each endpoint is ``endpoint(config, params, now) -> JSON-able answer``; bad input raises
``ParameterError`` (a 400 naming the parameter).

/metrics/find (what Grafana's metric tree and template variables ask, reading ``text``
and ``expandable`` of the default treejson):

=====================  ==========================================================
``query``              the path pattern (required)
``format``             ``treejson`` (default), ``completer``, ``json``, ``nodelist``
``wildcards``          1: add a ``*`` entry when more than one node matched
``leavesOnly``         1: leaves only
``from``, ``until``    graphite time forms, checked; nodes are not filtered by time
                       (neither are graphite-web's branches, nor its leaves without
                       a time-aware finder)
``now``, ``tz``        the reference of ``from``/``until``
``position``           the node position ``nodelist`` lists (default -1)
``automatic_variants`` 1 (completer): a node ``a,b`` reads as ``{a,b}``
``local``, ``pretty``  accepted and ignored
``jsonp``              refused (400): torus answers JSON, never script
=====================  ==========================================================

Deliberate differences: ``format=pickle`` and ``msgpack`` are refused (400); in
treejson a node that is both a leaf and a branch is listed once, as a branch
(expandable, so Grafana can go on below it); graphite-web lists one of the two at
random.
"""
from __future__ import annotations

from typing import Any, Dict, List

from kairos.names import Node

from .. import access
from ..params import Params, ParameterError
from . import finder
from .errors import refuse_jsonp
from .timeforms import parse_at_time, parse_tz

FORMATS = ("treejson", "completer", "json", "nodelist")
_BRANCH = {"allowChildren": 1, "expandable": 1, "leaf": 0}
_LEAF = {"allowChildren": 0, "expandable": 0, "leaf": 1}


def _flag(params: Params, name: str) -> bool:
    """graphite-web's integer flags (``leavesOnly=1``); anything but an integer is a 400."""
    text = params.one(name)
    if text is None:
        return False
    try:
        return int(text) != 0
    except ValueError:
        raise ParameterError(name, "%r is not an integer (use 0 or 1)" % text) from None


def _integer(params: Params, name: str, default: int) -> int:
    text = params.one(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ParameterError(name, "%r is not an integer" % text) from None


def _check_times(params: Params, now: float) -> None:
    """Parse ``now``, ``from`` and ``until`` as graphite-web does, for their errors only."""
    try:
        tz = parse_tz(params.one("tz"))
    except ValueError as err:
        raise ParameterError("tz", str(err)) from None
    reference = now
    now_text = params.one("now")
    if now_text is not None:
        try:
            reference = parse_at_time(now_text, now, tz)
        except ValueError as err:
            raise ParameterError("now", str(err)) from None
    for name in ("from", "until"):
        text = params.one(name)
        if text is not None and text != "-1":
            try:
                parse_at_time(text, reference, tz)
            except ValueError as err:
                raise ParameterError(name, str(err)) from None


def find(config: Any, params: Params, now: float) -> Any:
    """/metrics/find: the nodes matching ``query``, in the shape of ``format``."""
    refuse_jsonp(params)
    form = params.choice("format", FORMATS + ("pickle", "msgpack"), "treejson")
    if form in ("pickle", "msgpack"):
        raise ParameterError("format", "%s is not supported: use treejson, completer, json or "
                                       "nodelist" % form)
    query = params.one("query", required=True)
    leaves_only = _flag(params, "leavesOnly")
    wildcards = _flag(params, "wildcards")
    position = _integer(params, "position", -1)
    _check_times(params, now)
    base = query.rsplit(".", 1)[0] + "." if "." in query else ""
    if form == "completer":
        query = _completer_query(query, _flag(params, "automatic_variants"))
    nodes = access.readable_nodes(params.grant, finder.find(config, query))
    if leaves_only:
        nodes = [node._replace(is_branch=False) for node in nodes if node.is_leaf]
    nodes.sort(key=lambda node: node.name)  # stable: equal names stay in path order
    if form == "treejson":
        return tree_json(nodes, base, wildcards)
    if form == "completer":
        return completer(nodes, wildcards, leaves_only)
    if form == "nodelist":
        return node_list(nodes, position)
    return json_nodes(nodes, leaves_only)


def _completer_query(query: str, automatic_variants: bool) -> str:
    """graphite-web's completer rewrite: ``..`` reads as ``*.``, a trailing ``*`` is added."""
    query = query.replace("..", "*.")
    if not query.endswith("*"):
        query += "*"
    if automatic_variants:
        query = ".".join("{%s}" % part if "," in part and "{" not in part else part
                         for part in query.split("."))
    return query


def _entries(nodes: List[Node], leaves_only: bool = False) -> List[tuple]:
    """``(node, is_leaf)`` as graphite-web yields them: a node that is both a branch and a
    leaf comes twice, branch first."""
    out = []
    for node in nodes:
        if node.is_branch and not leaves_only:
            out.append((node, False))
        if node.is_leaf:
            out.append((node, True))
    return out


def tree_json(nodes: List[Node], base: str, wildcards: bool) -> List[Dict[str, Any]]:
    """The treejson answer: branches then leaves, each name once (the first seen wins), after
    a ``*`` entry when ``wildcards`` and more than one node matched."""
    out: List[Dict[str, Any]] = []
    if wildcards and len(nodes) > 1:
        star: Dict[str, Any] = {"text": "*", "id": base + "*"}
        star.update(_BRANCH if any(node.is_branch for node in nodes) else _LEAF)
        out.append(star)
    seen = set()
    branches, leaves = [], []
    for node in nodes:
        if node.name in seen:
            continue
        seen.add(node.name)
        entry: Dict[str, Any] = {"text": node.name, "id": base + node.name}
        if node.is_branch:
            entry.update(_BRANCH)
            branches.append(entry)
        else:
            entry.update(_LEAF)
            leaves.append(entry)
    return out + branches + leaves


def completer(nodes: List[Node], wildcards: bool, leaves_only: bool) -> Dict[str, Any]:
    """The completer answer: ``{"metrics": [{path, name, is_leaf}]}``, a branch's path ending
    with "."; a ``{"name": "*"}`` entry last when ``wildcards`` and several matched."""
    metrics: List[Dict[str, Any]] = []
    for node, is_leaf in _entries(nodes, leaves_only):
        metrics.append({"path": node.path if is_leaf else node.path + ".", "name": node.name,
                        "is_leaf": "1" if is_leaf else "0"})
    if wildcards and len(metrics) > 1:
        metrics.append({"name": "*"})
    return {"metrics": metrics}


def node_list(nodes: List[Node], position: int) -> Dict[str, List[str]]:
    """The nodelist answer: the distinct path components at ``position``, sorted."""
    found = set()
    for node in nodes:
        parts = node.path.split(".")
        try:
            found.add(parts[position])
        except IndexError:
            raise ParameterError("position", "%d is outside the path %r"
                                 % (position, node.path)) from None
    return {"nodes": sorted(found)}


def json_nodes(nodes: List[Node], leaves_only: bool = False) -> List[Dict[str, Any]]:
    """The json answer: ``[{path, is_leaf[, intervals]}]`` sorted by path. Leaves carry an
    empty ``intervals`` list: kairos does not tell which times a name holds data for."""
    out = []
    for node, is_leaf in _entries(nodes, leaves_only):
        info: Dict[str, Any] = {"path": node.path, "is_leaf": is_leaf}
        if is_leaf:
            info["intervals"] = []
        out.append(info)
    return sorted(out, key=lambda info: info["path"])


def expand(config: Any, params: Params, now: float) -> Dict[str, Any]:
    """/metrics/expand: the paths matching each ``query`` (repeatable): ``{"results": [..]}``
    sorted, or with ``groupByExpr=1`` ``{"results": {query: [..]}}``; ``leavesOnly=1`` keeps
    leaves only."""
    refuse_jsonp(params)
    group = _flag(params, "groupByExpr")
    leaves_only = _flag(params, "leavesOnly")
    results: Dict[str, List[str]] = {}
    for query in params.all("query"):
        query = query.strip()
        paths = {node.path for node in access.readable_nodes(params.grant,
                                                             finder.find(config, query))
                 if node.is_leaf or not leaves_only}
        results[query] = sorted(paths | set(results.get(query, ())))
    if group:
        return {"results": results}
    return {"results": sorted(set().union(*results.values()))}


def index_json(config: Any, params: Params, now: float) -> List[str]:
    """/metrics/index.json: every stored name of the tree, sorted (tagged names aside, as
    graphite-web's finders list them only under their encoded paths)."""
    refuse_jsonp(params)
    names = set()
    for schema in config.schemas.values():
        names.update(schema.timeseries.tree_names())
    return sorted(access.filter_readable(params.grant, names))
