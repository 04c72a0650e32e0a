"""The Graphite API of a real torus process over every type: one number per bucket by type,
Grafana's POST form, errors and the paths graphite-web has that torus refuses on purpose."""
import json
from urllib.parse import urlencode

import pytest

from tests.functional.torus_support import BACKENDS, T0, serving

WINDOW = {"from": str(T0 - 1), "until": str(T0 + 3660)}


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    yield from serving(tmp_path_factory, "graphite_http", request.param)


def render(server, method="GET", **params):
    query = urlencode(dict(WINDOW, format="json", **params), doseq=True)
    if method == "POST":
        status, headers, body = server.request(
            "/render", method="POST", data=query.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        status, headers, body = server.request("/render?" + query)
    return status, headers, json.loads(body) if body else None


def points(answer):
    """``{target: {timestamp: value}}`` of the non-null points."""
    return {entry["target"]: {ts: v for v, ts in entry["datapoints"] if v is not None}
            for entry in answer}


@pytest.mark.parametrize("target, expected", [
    ("c.a", {T0: 3, T0 + 60: 2, T0 + 3600: 5}),  # a count: its total per minute
    ("t.x", {T0: 1.75, T0 + 60: 2}),  # a histogram: the mean of its values
    ("s.x", {T0: 1, T0 + 60: 3.25}),  # a series: the mean
    ("g.x", {T0: 9}),  # a gauge: the last value written
    ("u.x", {T0: 3}),  # a set: how many distinct values
])
def test_one_number_per_bucket_by_type(server, target, expected):
    status, headers, answer = render(server, target=target)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert points(answer) == {target: expected}
    [entry] = answer
    stamps = [ts for _, ts in entry["datapoints"]]
    assert stamps == list(range(T0, T0 + 3660 + 1, 60))  # every minute, gaps as null


def test_grafana_posts_a_form_with_several_targets_and_max_data_points(server):
    status, _, answer = render(server, method="POST", target=["c.*", "sumSeries(c.{a,b})"],
                               maxDataPoints="10")
    assert status == 200
    assert [entry["target"] for entry in answer] == ["c.a", "c.all", "c.b", "sumSeries(c.{a,b})"]
    for entry in answer:  # 62 minutes in bands of 7 (ceil(62 / 10)), aligned on 420 s
        stamps = [ts for _, ts in entry["datapoints"]]
        assert len(stamps) <= 10 and all(ts % 420 == 0 for ts in stamps)
        assert {b - a for a, b in zip(stamps, stamps[1:])} == {420}
    first_band = answer[3]["datapoints"][0]
    assert first_band[0] == pytest.approx((3 + 1 + 2) / 2)  # c.a+c.b at T0 and T0+60, averaged


def test_health_check_and_catalogue(server):
    status, _, answer = render(server, target="constantLine(100)")
    assert status == 200 and answer[0]["target"] == "100" or answer[0]["target"] == "100.0"
    assert {v for v, _ in answer[0]["datapoints"]} == {100}
    status, details = server.get("/functions/aliasByNode")
    assert status == 200 and [p["name"] for p in details["params"]] == ["seriesList", "nodes"]
    status, headers, body = server.request("/version")
    assert (status, headers["Content-Type"], body) == (200, "text/plain", b"1.1.8")


@pytest.mark.parametrize("path, status, message", [
    ("/render?target=c.a&format=png", 400, "format: 'png' is not served by torus"),
    ("/render?target=sumSeries(c.a", 400, "target: expected ')'"),
    ("/render?target=nope(c.a)", 400, "unknown function 'nope'"),
    ("/render?target=scale(c.a,'x')", 400, "scale: parameter 'factor' got the string 'x'"),
    ("/render?target=c.a&from=soon", 400, "from: "),
    ("/render?target=c.a&jsonp=cb", 400, "jsonp: is not served"),
    ("/functions/nope", 404, "unknown function 'nope'"),
    ("/tags/tagSeries?path=a;b=c", 404, "tag writes"),
])
def test_errors_are_json_and_say_what_is_wrong(server, path, status, message):
    got, body = server.get(path)
    assert got == status and body["status"] == status
    assert message in body["error"]


def test_find_and_tags_over_http(server):
    status, nodes = server.get("/metrics/find?query=c.*")
    assert status == 200
    assert {node["text"] for node in nodes} == {"a", "all", "b"}
    assert all(node["leaf"] == 1 and node["expandable"] == 0 for node in nodes)
    status, expanded = server.get("/metrics/expand?query=%7Bc,g%7D.*&leavesOnly=1")
    assert status == 200 and "g.x" in expanded["results"] and "c.all" in expanded["results"]
