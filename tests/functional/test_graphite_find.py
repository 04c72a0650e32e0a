"""Graphite's finder and its /metrics and /tags endpoints, called as functions with a real
Configuration over SQLite and Redis (names written through the karbon path)."""
import uuid

import pytest

from kairos.names import Node
from tests.functional.torus_support import BACKENDS, T0, cleanup, load, write_config
from torus.graphite import finder, metrics_api, tags_api
from torus.graphite.errors import InputError
from torus.params import Params, ParameterError

NAMES = [
    # counts (schemas counts and counts_daily: both hold every c. name)
    "c.web1.cpu.user", "c.web1.cpu.system", "c.web2.cpu.user", "c.web10.cpu.user",
    "c.web1.load", "c.web1", "c.cpu-1a", "c.cpu-2b", "c.cpu-3c", "c.Cpu-1a",
    "c.disk;host=web1;dc=eu", "c.disk;host=web2;dc=us", "c.mem;host=web1",
    # gauges
    "g.web1.temp", "g.x", "g.disk;host=web3",
]
NOW = T0 + 86400


@pytest.fixture(scope="module", params=BACKENDS)
def config(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphite_find")
    token = "gf" + uuid.uuid4().hex[:8]
    path = write_config(folder / "graphite_find_conf.py", request.param, folder, token)
    config = load([path], [(name, 1, T0 + 30) for name in NAMES])
    yield config
    cleanup(config)


def paths(nodes):
    return [node.path for node in nodes]


def ask(func, config, *args, **params):
    pairs = []
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, str(one)))
    return func(config, Params(pairs), NOW, *args)


# -- the finder ----------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, expected", [
    ("c", ["c"]),
    ("*", ["c", "g"]),
    ("c.*", ["c.Cpu-1a", "c.all", "c.cpu-1a", "c.cpu-2b", "c.cpu-3c", "c.web1", "c.web10",
             "c.web2"]),
    ("c.web?", ["c.web1", "c.web2"]),
    ("c.web[0-9]", ["c.web1", "c.web2"]),
    ("c.web[!1]", ["c.web2"]),
    ("c.web[12]*", ["c.web1", "c.web10", "c.web2"]),
    ("c.{web1,web2}.cpu.user", ["c.web1.cpu.user", "c.web2.cpu.user"]),
    ("c.cpu-{1,2}*", ["c.cpu-1a", "c.cpu-2b"]),
    ("c.{cpu,Cpu}-1a", ["c.Cpu-1a", "c.cpu-1a"]),
    ("{c,g}.web1.*", ["c.web1.cpu", "c.web1.load", "g.web1.temp"]),
    ("c.web{1,10}.cpu.{user,sys*}", ["c.web1.cpu.system", "c.web1.cpu.user",
                                     "c.web10.cpu.user"]),
    ("*.*.cpu.user", ["c.web1.cpu.user", "c.web10.cpu.user", "c.web2.cpu.user"]),
    ("c.web1.cpu.user.more", []),
    ("c.nothing.*", []),
    ("C.*", []),
    ("c..web1", []),
    ("c.disk;host=web1;dc=eu", ["c.disk;host=web1;dc=eu"]),
    ("c.disk;host=nowhere", []),
])
def test_find_matches_like_graphite(config, pattern, expected):
    assert paths(finder.find(config, pattern)) == expected


def test_find_flags_leaf_and_branch(config):
    nodes = {node.path: node for node in finder.find(config, "c.*")}
    assert nodes["c.web1"] == Node("web1", "c.web1", True, True)
    assert nodes["c.web2"] == Node("web2", "c.web2", False, True)
    assert nodes["c.cpu-1a"] == Node("cpu-1a", "c.cpu-1a", True, False)


def test_a_literal_node_is_looked_up_without_listing_its_siblings(config):
    ts = config.schemas["counts"].timeseries
    listed = []
    original = ts.nodes

    def spy(parent=""):
        listed.append(parent)
        return original(parent)
    ts.nodes = spy
    try:
        assert paths(finder.find_in(ts, "c.web1.cpu.{user,system}")) == [
            "c.web1.cpu.system", "c.web1.cpu.user"]
        assert listed == []
        finder.find_in(ts, "c.*.cpu.user")
        assert listed == ["c"]
    finally:
        del ts.nodes


def test_leaves_name_the_first_schema_holding_each_name(config):
    found = finder.leaves(config, "{c,g}.web1.*")
    assert [(name, schema.name) for name, schema in found] == [
        ("c.web1.load", "counts"), ("g.web1.temp", "gauges")]
    assert finder.leaves(config, "c.web2") == []       # a branch only
    assert [n for n, _ in finder.leaves(config, "c.web1")] == ["c.web1"]


def test_tagged_selects_like_series_by_tag(config):
    def names(*expressions):
        return [(name, schema.name) for name, schema in finder.tagged(config, expressions)]
    assert names("name=c.disk") == [("c.disk;host=web1;dc=eu", "counts"),
                                    ("c.disk;host=web2;dc=us", "counts")]
    assert names("host=web1") == [("c.disk;host=web1;dc=eu", "counts"),
                                  ("c.mem;host=web1", "counts")]
    assert [n for n, _ in finder.tagged(config, ["host=~web[12]", "dc!=eu"])] == [
        "c.disk;host=web2;dc=us", "c.mem;host=web1"]
    # a regex is anchored at the start only; a missing tag reads as ""
    assert [n for n, _ in finder.tagged(config, ["host=~eb", "name=~c"])] == []
    assert [n for n, _ in finder.tagged(config, ["name=~.*disk", "dc="])] == [
        "g.disk;host=web3"]
    assert [n for n, _ in finder.tagged(config, ["name=~[cg]", "dc!=~e"])] == [
        "c.disk;host=web2;dc=us", "c.mem;host=web1", "g.disk;host=web3"]
    assert [n for n, _ in finder.tagged(config, ["host!=~web[12]", "name=~."])] == [
        "g.disk;host=web3"]


@pytest.mark.parametrize("expressions, message", [
    (["dc="], "at least one"),
    (["host!=web1"], "at least one"),
    (["name=~.*", "dc!=~e"], "at least one"),
    (["nonsense"], "invalid tag expression"),
    (["a;b=c"], "invalid tag expression"),
    (["host=~("], "invalid regular expression"),
])
def test_tagged_refuses_bad_expressions(config, expressions, message):
    with pytest.raises(InputError, match=message):
        finder.tagged(config, expressions)


# -- /metrics/find ------------------------------------------------------------------------------
def test_metrics_find_treejson(config):
    assert ask(metrics_api.find, config, query="c.web1.*") == [
        {"text": "cpu", "id": "c.web1.cpu", "allowChildren": 1, "expandable": 1, "leaf": 0},
        {"text": "load", "id": "c.web1.load", "allowChildren": 0, "expandable": 0, "leaf": 1},
    ]
    # names from several parents: each once, the id built on the query
    assert ask(metrics_api.find, config, query="c.*.cpu", wildcards=1) == [
        {"text": "*", "id": "c.*.*", "allowChildren": 1, "expandable": 1, "leaf": 0},
        {"text": "cpu", "id": "c.*.cpu", "allowChildren": 1, "expandable": 1, "leaf": 0},
    ]
    top = ask(metrics_api.find, config, query="*", **{"from": "-1h", "until": "now"})
    assert [entry["text"] for entry in top] == ["c", "g"]
    # a leaf that is also a branch is listed as a branch
    assert ask(metrics_api.find, config, query="c.web1") == [
        {"text": "web1", "id": "c.web1", "allowChildren": 1, "expandable": 1, "leaf": 0}]
    assert ask(metrics_api.find, config, query="c.web1", leavesOnly=1) == [
        {"text": "web1", "id": "c.web1", "allowChildren": 0, "expandable": 0, "leaf": 1}]
    assert ask(metrics_api.find, config, query="nothing.*") == []


def test_metrics_find_completer_and_json(config):
    assert ask(metrics_api.find, config, query="c.web1", format="completer") == {"metrics": [
        {"path": "c.web1.", "name": "web1", "is_leaf": "0"},
        {"path": "c.web1", "name": "web1", "is_leaf": "1"},
        {"path": "c.web10.", "name": "web10", "is_leaf": "0"},
    ]}
    answer = ask(metrics_api.find, config, query="c.web1.", format="completer", wildcards=1)
    assert answer["metrics"][-1] == {"name": "*"}
    assert ask(metrics_api.find, config, query="c.web{1,2}.cpu.user", format="json") == [
        {"path": "c.web1.cpu.user", "is_leaf": True, "intervals": []},
        {"path": "c.web2.cpu.user", "is_leaf": True, "intervals": []}]
    assert ask(metrics_api.find, config, query="c.*.cpu.user", format="nodelist",
               position=1) == {"nodes": ["web1", "web10", "web2"]}


@pytest.mark.parametrize("params, parameter", [
    ({}, "query"),
    ({"query": "c.*", "jsonp": "cb"}, "jsonp"),
    ({"query": "c.*", "format": "pickle"}, "format"),
    ({"query": "c.*", "format": "xml"}, "format"),
    ({"query": "c.*", "from": "whenever"}, "from"),
    ({"query": "c.*", "until": "3 parsecs"}, "until"),
    ({"query": "c.*", "wildcards": "yes"}, "wildcards"),
    ({"query": "c.*", "tz": "Mars/Olympus"}, "tz"),
])
def test_metrics_find_refuses_bad_parameters(config, params, parameter):
    with pytest.raises(ParameterError) as caught:
        ask(metrics_api.find, config, **params)
    assert caught.value.parameter == parameter


def test_metrics_expand_and_index(config):
    assert ask(metrics_api.expand, config, query=["c.web1.*", "g.*"]) == {"results": [
        "c.web1.cpu", "c.web1.load", "g.web1", "g.x"]}
    assert ask(metrics_api.expand, config, query=["c.web1.*", "g.*"], leavesOnly=1,
               groupByExpr=1) == {"results": {"c.web1.*": ["c.web1.load"], "g.*": ["g.x"]}}
    assert ask(metrics_api.expand, config) == {"results": []}
    index = ask(metrics_api.index_json, config)
    # c.all: the configuration's aggregate of c.*
    assert index == sorted(["c.all"] + [n for n in NAMES if ";" not in n])
    with pytest.raises(ParameterError):
        ask(metrics_api.index_json, config, jsonp="x")


# -- /tags --------------------------------------------------------------------------------------
def test_tag_list_and_details(config):
    assert ask(tags_api.tag_list, config) == [{"tag": "dc"}, {"tag": "host"}, {"tag": "name"}]
    assert ask(tags_api.tag_list, config, filter="h|d") == [{"tag": "dc"}, {"tag": "host"}]
    assert ask(tags_api.tag_list, config, limit=1) == [{"tag": "dc"}]
    assert ask(tags_api.tag_details, config, "host") == {"tag": "host", "values": [
        {"value": "web1", "count": 2}, {"value": "web2", "count": 1},
        {"value": "web3", "count": 1}]}
    assert ask(tags_api.tag_details, config, "host", filter="web[13]", limit=1) == {
        "tag": "host", "values": [{"value": "web1", "count": 2}]}
    assert ask(tags_api.tag_details, config, "colour") is None


def test_find_series_and_auto_complete(config):
    assert ask(tags_api.find_series, config, expr=["name=c.disk", "dc=us"]) == [
        "c.disk;host=web2;dc=us"]
    assert ask(tags_api.find_series, config, **{"expr[]": "host=web3"}) == ["g.disk;host=web3"]
    assert ask(tags_api.auto_complete_tags, config) == ["dc", "host", "name"]
    assert ask(tags_api.auto_complete_tags, config, tagPrefix="h") == ["host"]
    assert ask(tags_api.auto_complete_tags, config, expr="host=web1") == ["dc", "name"]
    assert ask(tags_api.auto_complete_tags, config, limit=2) == ["dc", "host"]
    assert ask(tags_api.auto_complete_values, config, tag="host") == ["web1", "web2", "web3"]
    assert ask(tags_api.auto_complete_values, config, tag="host", valuePrefix="web1") == ["web1"]
    assert ask(tags_api.auto_complete_values, config, tag="dc", expr="name=c.disk") == [
        "eu", "us"]
    assert ask(tags_api.auto_complete_values, config, tag="dc", expr="name=c.mem") == []


@pytest.mark.parametrize("func, params, error", [
    (tags_api.find_series, {}, ParameterError),
    (tags_api.find_series, {"expr": "dc="}, InputError),
    (tags_api.find_series, {"expr": "bogus"}, InputError),
    (tags_api.auto_complete_values, {}, ParameterError),
    (tags_api.tag_list, {"filter": "("}, ParameterError),
    (tags_api.tag_list, {"limit": "-1"}, ParameterError),
    (tags_api.auto_complete_tags, {"limit": "many"}, ParameterError),
    (tags_api.tag_list, {"jsonp": "f"}, ParameterError),
])
def test_tag_endpoints_refuse_bad_input(config, func, params, error):
    with pytest.raises(error):
        ask(func, config, **params)


def test_tags_answer_only_the_series_a_token_may_read(config):
    """With a token reading c.* only, the tags of g.disk (host=web3) are not shown."""
    from torus.access import Grant, Scope

    def scoped(func, *args, **params):
        request = Params([(key, str(value)) for key, value in params.items()])
        request.grant = Grant("reader", Scope(["c.*"]), Scope([]))
        return func(config, request, NOW, *args)

    assert "web3" in {v["value"] for v in ask(tags_api.tag_details, config, "host")["values"]}
    hosts = {v["value"] for v in scoped(tags_api.tag_details, "host")["values"]}
    assert hosts == {"web1", "web2"}
    assert "web3" not in scoped(tags_api.auto_complete_values, tag="host")
    assert scoped(tags_api.find_series, expr="host=web3") == []
    assert all(name.startswith("c.") for name in scoped(tags_api.find_series, expr="host=~web"))
