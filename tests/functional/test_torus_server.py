"""A real torus process over SQLite and Redis: every /series parameter and combination, exact JSON."""
import json
from urllib.parse import quote

import pytest

from tests.functional.torus_support import BACKENDS, T0, entry, serving

M = 60


@pytest.fixture(scope="module", params=BACKENDS)
def torus_backend(request):
    return request.param


@pytest.fixture(scope="module")
def server(torus_backend, tmp_path_factory):
    yield from serving(tmp_path_factory, "torus", torus_backend)


def series(server, query):
    status, body = server.get("/series?" + query)
    assert status == 200, body
    return body


def q(text):
    return quote(text, safe="")


# -- stat forms, formats, functions --------------------------------------------
def test_plain_stat_graphite_format_first_schema_first_interval(server):
    assert series(server, "stat=c.a&start=%d&end=%d" % (T0, T0 + 3 * M)) == [
        entry("c.a", schema="counts", interval="minute",
              datapoints=[[3, T0], [2, T0 + M], [0, T0 + 2 * M], [0, T0 + 3 * M]])]


def test_several_stats_keep_their_order(server):
    body = series(server, "stat=c.b&stat=c.a&start=%d&end=%d" % (T0, T0 + 2 * M))
    assert body == [
        entry("c.b", schema="counts", interval="minute", datapoints=[[1, T0], [0, T0 + M], [4, T0 + 2 * M]]),
        entry("c.a", schema="counts", interval="minute", datapoints=[[3, T0], [2, T0 + M], [0, T0 + 2 * M]]),
    ]


def test_joined_stats_with_and_without_function(server):
    body = series(server, "stat=%s&stat=%s&start=%d&end=%d"
                  % (q("sum(c.a,c.b)"), q("c.a, c.b"), T0, T0 + 3 * M))
    points = [[4, T0], [2, T0 + M], [4, T0 + 2 * M], [0, T0 + 3 * M]]
    assert body == [
        entry("sum(c.a,c.b)", function="sum", stat_name="c.a,c.b", schema="counts",
              interval="minute", datapoints=points),
        entry("c.a, c.b", stat_name="c.a,c.b", schema="counts", interval="minute", datapoints=points),
    ]


def test_aggregate_written_through_the_karbon_path(server):
    assert series(server, "stat=c.all&start=%d&end=%d" % (T0, T0 + 2 * M)) == [
        entry("c.all", schema="counts", interval="minute",
              datapoints=[[4, T0], [2, T0 + M], [4, T0 + 2 * M]])]


@pytest.mark.parametrize("function,expected", [
    ("avg", [1.75, 2]), ("mean", [1.75, 2]), ("min", [1.5, 2]), ("max", [2, 2]),
    ("sum", [3.5, 2]), ("count", [2, 1]),
])
def test_builtin_functions_on_a_histogram(server, function, expected):
    body = series(server, "stat=%s(t.x)&start=%d&end=%d" % (function, T0, T0 + M))
    assert body == [entry("%s(t.x)" % function, function=function, schema="timers", interval="minute",
                          datapoints=[[expected[0], T0], [expected[1], T0 + M]])]


def test_raw_histogram_graphite_and_json(server):
    graphite = series(server, "stat=t.x&start=%d&end=%d" % (T0, T0 + M))
    assert graphite[0]["datapoints"] == [[{"1.5": 1, "2": 1}, T0], [{"2": 1}, T0 + M]]
    as_json = series(server, "stat=t.x&start=%d&end=%d&format=json" % (T0, T0 + M))
    assert as_json == [entry("t.x", schema="timers", interval="minute",
                             datapoints={str(T0): {"1.5": 1, "2": 1}, str(T0 + M): {"2": 1}})]


def test_empty_buckets_of_mean_are_null(server):
    body = series(server, "stat=avg(t.x)&start=%d&end=%d" % (T0 + 2 * M, T0 + 3 * M))
    assert body[0]["datapoints"] == [[None, T0 + 2 * M], [None, T0 + 3 * M]]


def test_series_gauge_and_set_types(server):
    body = series(server, "stat=avg(s.x)&stat=g.x&stat=u.x&stat=count(u.x)&start=%d&end=%d&format=json"
                  % (T0, T0 + M))
    assert body == [
        entry("avg(s.x)", function="avg", schema="series", interval="minute",
              datapoints={str(T0): 1, str(T0 + M): 3.25}),
        entry("g.x", schema="gauges", interval="minute", datapoints={str(T0): 9, str(T0 + M): None}),
        entry("u.x", schema="sets", interval="minute", datapoints={str(T0): [1, 2, 3], str(T0 + M): []}),
        entry("count(u.x)", function="count", schema="sets", interval="minute",
              datapoints={str(T0): 3, str(T0 + M): 0}),
    ]


def test_transforms_from_the_configuration(server):
    body = series(server, "stat=size(t.x)&stat=double(c.a)&stat=per_second(c.a)&start=%d&end=%d"
                  % (T0, T0 + M))
    assert body == [
        entry("size(t.x)", function="size", schema="timers", interval="minute",
              datapoints=[[2, T0], [1, T0 + M]]),
        entry("double(c.a)", function="double", schema="counts", interval="minute",
              datapoints=[[6, T0], [4, T0 + M]]),
        entry("per_second(c.a)", function="per_second", schema="counts", interval="minute",
              datapoints=[[0.05, T0], [2 / 60, T0 + M]]),
    ]


# -- macros ------------------------------------------------------------------------
def test_macro_collapse_and_builtin_transform(server):
    assert series(server, "stat=total(c.a)&start=%d&end=%d" % (T0, T0 + 3 * M)) == [
        entry("total(c.a)", function="total", schema="counts", interval="minute", datapoints=[[5, T0]])]


def test_macro_overrides_query_fields(server):
    # hourly sets interval=hour, format=json, condense=false whatever the query says
    body = series(server, "stat=hourly(c.a)&start=%d&end=%d&interval=minute&condense=true&format=graphite"
                  % (T0, T0 + 3600))
    assert body == [entry("hourly(c.a)", function="hourly", schema="counts", interval="hour",
                          datapoints={str(T0): {str(T0): 3, str(T0 + M): 2},
                                      str(T0 + 3600): {str(T0 + 3600): 5}})]


def test_macro_condense_callable(server):
    assert series(server, "stat=peak(c.a)&start=%d&end=%d" % (T0, T0 + 3600)) == [
        entry("peak(c.a)", function="peak", schema="counts", interval="hour",
              datapoints=[[3, T0], [5, T0 + 3600]])]


def test_macro_join_rows(server):
    assert series(server, "stat=%s&start=%d&end=%d" % (q("most(c.a,c.b)"), T0, T0 + 3 * M)) == [
        entry("most(c.a,c.b)", function="most", stat_name="c.a,c.b", schema="counts", interval="minute",
              datapoints=[[3, T0], [2, T0 + M], [4, T0 + 2 * M], [0, T0 + 3 * M]])]


def test_macro_process_row(server):
    assert series(server, "stat=tenfold(c.a)&start=%d&end=%d" % (T0, T0 + M)) == [
        entry("tenfold(c.a)", function="tenfold", schema="counts", interval="minute",
              datapoints=[[30.0, T0], [20.0, T0 + M]])]


def test_macro_transform_names_a_transforms_entry(server):
    assert series(server, "stat=sized(t.x)&start=%d&end=%d" % (T0, T0 + M))[0]["datapoints"] == [
        [2, T0], [1, T0 + M]]


def test_macro_sets_start_and_steps(server):
    assert series(server, "stat=firsttwo(c.a)&start=%d" % (T0 + 3600)) == [
        entry("firsttwo(c.a)", function="firsttwo", schema="counts", interval="minute",
              datapoints=[[3, T0], [2, T0 + M]])]


def test_macro_collapse_callable(server):
    assert series(server, "stat=overall(c.a)&start=%d&end=%d" % (T0, T0 + M)) == [
        entry("overall(c.a)", function="overall", schema="counts", interval="minute",
              datapoints=[[500, T0]])]


# -- condense, collapse, format -------------------------------------------------------
def test_json_format_not_condensed_keeps_resolutions(server):
    body = series(server, "stat=c.a&interval=hour&format=json&start=%d&end=%d" % (T0, T0 + 3600))
    assert body[0]["datapoints"] == {str(T0): {str(T0): 3, str(T0 + M): 2},
                                     str(T0 + 3600): {str(T0 + 3600): 5}}


@pytest.mark.parametrize("flag", ["true", "1", "yes", "TRUE", "Yes"])
def test_json_format_condensed(server, flag):
    body = series(server, "stat=c.a&interval=hour&format=json&condense=%s&start=%d&end=%d"
                  % (flag, T0, T0 + 3600))
    assert body[0]["datapoints"] == {str(T0): 5, str(T0 + 3600): 5}


@pytest.mark.parametrize("flag", ["false", "0", "no"])
def test_graphite_format_forces_condense(server, flag):
    body = series(server, "stat=c.a&interval=hour&condense=%s&start=%d&end=%d" % (flag, T0, T0 + 3600))
    assert body[0]["datapoints"] == [[5, T0], [5, T0 + 3600]]


def test_collapse_graphite_and_json(server):
    query = "stat=c.a&stat=avg(t.x)&collapse=true&start=%d&end=%d" % (T0, T0 + 3 * M)
    assert [e["datapoints"] for e in series(server, query)] == [[[5, T0]], [[5.5 / 3, T0]]]
    assert [e["datapoints"] for e in series(server, query + "&format=json")] == [
        {str(T0): 5}, {str(T0): 5.5 / 3}]


def test_collapse_false_is_the_default(server):
    query = "stat=c.a&start=%d&end=%d" % (T0, T0 + M)
    assert series(server, query + "&collapse=no") == series(server, query)


def test_collapse_of_joined_stats_on_resolutions(server):
    body = series(server, "stat=%s&collapse=1&interval=hour&format=json&start=%d&end=%d"
                  % (q("c.a,c.b"), T0, T0 + 3600))
    assert body[0]["datapoints"] == {str(T0): 15}


# -- schema and interval choice -----------------------------------------------------------
def test_interval_falls_back_to_the_next_schema_having_it(server):
    assert series(server, "stat=c.a&stat=c.all&interval=day&start=%d&end=%d" % (T0, T0)) == [
        entry("c.a", schema="counts_daily", interval="day", datapoints=[[10, T0]]),
        entry("c.all", schema="counts_daily", interval="day", datapoints=[[15, T0]]),
    ]


def test_forced_schema_uses_its_first_interval(server):
    assert series(server, "stat=c.b&schema=counts_daily&start=%d&end=%d" % (T0, T0 + 86400)) == [
        entry("c.b", schema="counts_daily", interval="day", datapoints=[[5, T0], [0, T0 + 86400]])]


def test_forced_schema_and_interval(server):
    assert series(server, "stat=c.b&schema=counts&interval=hour&start=%d&end=%d" % (T0, T0)) == [
        entry("c.b", schema="counts", interval="hour", datapoints=[[5, T0]])]


def test_unknown_stat_is_an_empty_entry(server):
    body = series(server, "stat=nothing.here&stat=avg(nothing.else)&stat=c.a&start=%d&end=%d&interval=minute"
                  % (T0, T0))
    assert body == [
        entry("nothing.here", interval="minute"),
        entry("avg(nothing.else)", function="avg", interval="minute"),
        entry("c.a", schema="counts", interval="minute", datapoints=[[3, T0]]),
    ]
    as_json = series(server, "stat=nothing.here&format=json")
    assert as_json == [dict(entry("nothing.here"), datapoints={})]


# -- start, end, steps ----------------------------------------------------------------
@pytest.mark.parametrize("start,end", [
    (str(T0), str(T0 + 2 * M)),
    ("%d.0" % T0, "%d.9" % (T0 + 2 * M)),
    ("2013-03-01", "2013-03-01 00:02"),
    ("2013-03-01T00:00:00Z", "2013-03-01T01:02:59+01:00"),
    ("March 1 2013", "3/1/2013 00:02:30"),
    ("2013-03-01T00:00:00.000Z", "Fri, 01 Mar 2013 00:02:00 GMT"),
])
def test_time_forms(server, start, end):
    body = series(server, "stat=c.a&start=%s&end=%s" % (q(start), q(end)))
    assert body[0]["datapoints"] == [[3, T0], [2, T0 + M], [0, T0 + 2 * M]]


def test_steps_after_start_and_before_end(server):
    forward = series(server, "stat=c.a&start=%d&steps=2" % T0)
    assert forward[0]["datapoints"] == [[3, T0], [2, T0 + M]]
    backward = series(server, "stat=c.a&end=%d&steps=2" % (T0 + M))
    assert backward[0]["datapoints"] == [[3, T0], [2, T0 + M]]


def test_end_wins_over_steps_when_both_times_are_given(server):
    body = series(server, "stat=c.a&start=%d&end=%d&steps=50" % (T0, T0 + M))
    assert body[0]["datapoints"] == [[3, T0], [2, T0 + M]]


def test_steps_on_a_gregorian_interval(server):
    body = series(server, "stat=c.a&interval=day&start=2013-02-27&steps=3")
    assert body[0]["datapoints"] == [[0, T0 - 2 * 86400], [0, T0 - 86400], [10, T0]]


def test_empty_parameters_count_as_absent(server):
    body = series(server, "stat=c.a&start=%d&steps=1&end=&schema=&interval=&format=&_=123" % T0)
    assert body == [entry("c.a", schema="counts", interval="minute", datapoints=[[3, T0]])]


# -- other commands -----------------------------------------------------------------
def test_list(server):
    status, body = server.get("/list")
    assert status == 200
    assert [name for name in body if not name.startswith("i.")] == [
        "c.a", "c.all", "c.b", "g.x", "s.x", "t.x", "u.x"]
    assert server.get("/list?schema=timers") == (200, ["t.x"])
    assert server.get("/list/?schema=counts_daily") == (200, ["c.a", "c.all", "c.b"])


def test_properties(server):
    status, body = server.get("/properties?stat=c.a&stat=t.x&stat=nothing")
    assert status == 200
    assert body == {
        "c.a": {"counts": {"minute": {"first": T0, "last": T0 + 3600},
                           "hour": {"first": T0, "last": T0 + 3600}},
                "counts_daily": {"day": {"first": T0, "last": T0}}},
        "t.x": {"timers": {"minute": {"first": T0, "last": T0 + M},
                           "hour": {"first": T0, "last": T0}}},
        "nothing": {},
    }
    assert server.get("/properties?stat=c.a&schema=counts_daily") == (
        200, {"c.a": {"counts_daily": {"day": {"first": T0, "last": T0}}}})


def test_insert_through_the_karbon_path(server):
    status, body = server.get("/insert?stat=i.one&value=4&timestamp=%d" % (T0 + 5), method="POST")
    assert (status, body) == (200, {
        "stat": "i.one", "value": 4, "timestamp": T0 + 5, "skipped": 0, "refused": [],
        "stored": [{"schema": "inserts", "stat": "i.one", "value": 4, "timestamp": T0 + 5},
                   {"schema": "inserts", "stat": "i.total", "value": 4, "timestamp": T0 + 5}]})
    status, body = server.get("/insert", method="POST",
                              data=b"stat=i.two&value=2.5&timestamp=2013-03-01T00:00:10Z",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and [s["value"] for s in body["stored"]] == [2.5, 2.5]
    assert series(server, "stat=i.total&stat=i.one&start=%d&end=%d" % (T0, T0)) == [
        entry("i.total", schema="inserts", interval="minute", datapoints=[[6.5, T0]]),
        entry("i.one", schema="inserts", interval="minute", datapoints=[[4, T0]]),
    ]


def test_insert_skipped_by_a_schema_transform(server):
    assert server.get("/insert?stat=l.skip&value=1&timestamp=%d" % T0, method="POST") == (200, {
        "stat": "l.skip", "value": 1, "timestamp": T0, "stored": [], "skipped": 1, "refused": []})


# -- HTTP details ----------------------------------------------------------------------
def test_data_alias_and_trailing_slash(server):
    query = "?stat=c.a&start=%d&end=%d" % (T0, T0)
    expected = series(server, query[1:])
    assert server.get("/data" + query) == (200, expected)
    assert server.get("/series/" + query) == (200, expected)
    assert server.get("/data/" + query) == (200, expected)


def test_headers_and_exact_body(server):
    status, headers, body = server.request("/series?stat=avg(t.x)&start=%d&end=%d" % (T0, T0 + M))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert int(headers["Content-Length"]) == len(body)
    assert body.decode() == (
        '[{"stat":"avg(t.x)","stat_name":"t.x","target":"t.x","function":"avg","schema":"timers",'
        '"interval":"minute","datapoints":[[1.75,%d],[2.0,%d]]}]' % (T0, T0 + M))


def test_options_and_head(server):
    status, headers, body = server.request("/series", method="OPTIONS")
    assert status == 204 and body == b""
    assert "GET" in headers["Access-Control-Allow-Methods"]
    status, headers, body = server.request("/series?stat=c.a&start=%d&end=%d" % (T0, T0), method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_access_log_line_per_request(server):
    server.request("/list?schema=timers", headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"})
    server.wait_for_log(r"torus\.access\S* INFO 203\.0\.113\.9 200 [0-9.]+ms GET /list\?schema=timers")
    server.request("/nowhere?x=1")
    server.wait_for_log(r"INFO 127\.0\.0\.1 404 [0-9.]+ms GET /nowhere\?x=1")


# -- errors -------------------------------------------------------------------------------
ERRORS = [
    ("/nowhere", 404, "unknown command '/nowhere': use /series, /list, /properties, /insert or "
     "graphite-web's /render, /metrics/find, /tags, /functions", None),
    ("/ui/nowhere", 404, "unknown command '/ui/nowhere': use /series, /list, /properties, /insert "
     "or graphite-web's /render, /metrics/find, /tags, /functions", None),  # / is the dashboard
    ("/series", 400, "stat: is required (e.g. stat=avg(app.response_time))", "stat"),
    ("/series?stat=nope(c.a)", 400, "stat: unknown function 'nope' in 'nope(c.a)' (known: avg, count, "
     "double, firsttwo, hourly, max, mean, min, most, overall, peak, per_second, size, sized, sum, "
     "tenfold, total)", "stat"),
    ("/series?stat=c.a,,c.b", 400, "stat: 'c.a,,c.b' has an empty stat name", "stat"),
    ("/series?stat=" + quote("c.a,t.x"), 400, "stat: the names of 'c.a,t.x' are not stored in a common "
     "schema", "stat"),
    ("/series?stat=c.a&format=csv", 400, "format: 'csv' is not one of graphite, json", "format"),
    ("/series?stat=c.a&condense=maybe", 400, "condense: 'maybe' is not a boolean: use true/false, 1/0 "
     "or yes/no", "condense"),
    ("/series?stat=c.a&collapse=2", 400, "collapse: '2' is not a boolean: use true/false, 1/0 or "
     "yes/no", "collapse"),
    ("/series?stat=c.a&schema=nope", 404, "schema: unknown schema 'nope' (known: counts, counts_daily, "
     "timers, series, gauges, sets, inserts, labels)", "schema"),
    ("/series?stat=c.a&interval=week", 400, "interval: 'week' is not an interval of schema 'counts', "
     "'counts_daily' for 'c.a' (it has: day, hour, minute)", "interval"),
    ("/series?stat=c.a&schema=timers&interval=day", 400, "interval: 'day' is not an interval of schema "
     "'timers' for 'c.a' (it has: hour, minute)", "interval"),
    ("/series?stat=c.a&start=whenever", 400, "start: 'whenever' is not a time: use unix seconds, a date "
     "such as 2013-03-01T12:00:00Z, an offset such as -5d, or a phrase such as '5 days ago'", "start"),
    ("/series?stat=c.a&end=-5m", 400, "end: '-5m' is ambiguous: use 'min' for minutes or 'mon' for "
     "months", "end"),
    ("/series?stat=c.a&steps=0", 400, "steps: must be at least 1, not 0", "steps"),
    ("/series?stat=c.a&steps=two", 400, "steps: 'two' is not a whole number", "steps"),
    ("/series?stat=c.a&steps=1001", 400, "steps: 1001 is more than the limit of 1000 buckets per "
     "request (MAX_POINTS)", "steps"),
    ("/series?stat=c.a&stat=c.b&start=%d&steps=600" % T0, 400, "stat: this request would read 1200 "
     "buckets, more than the limit of 1000 (MAX_POINTS; each resolution bucket counts): narrow "
     "start/end/steps or ask for fewer stats", "stat"),
    ("/series?stat=c.a&interval=hour&format=json&start=%d&steps=20" % T0, 400, "stat: this request "
     "would read 1200 buckets, more than the limit of 1000 (MAX_POINTS; each resolution bucket "
     "counts): narrow start/end/steps or ask for fewer stats", "stat"),
    ("/series?stat=c.a&start=%d&end=%d" % (T0 + M, T0), 400, "start/end/steps: no valid range for "
     "'c.a': end (%d) is before start (%d)" % (T0, T0 + M), "start/end/steps"),
    ("/series?stat=c.a&format=json&format=graphite", 400, "format: given 2 times with different "
     "values", "format"),
    ("/list?schema=nope", 404, "schema: unknown schema 'nope' (known: counts, counts_daily, timers, "
     "series, gauges, sets, inserts, labels)", "schema"),
    ("/properties", 400, "stat: is required", "stat"),
    ("/insert?value=1", 400, "stat: is required", "stat"),
    ("/insert?stat=i.x", 400, "value: is required", "value"),
    ("/insert?stat=nowhere.x&value=1", 400, "stat: 'nowhere.x' matches no schema: nothing stored",
     "stat"),
    ("/insert?stat=i.x&value=nan", 400, "value: value nan is not finite", "value"),
    ("/insert?stat=i.x&value=1&timestamp=soon", 400, "timestamp: 'soon' is not a time: use unix "
     "seconds, a date such as 2013-03-01T12:00:00Z, an offset such as -5d, or a phrase such as "
     "'5 days ago'", "timestamp"),
]


@pytest.mark.parametrize("path,status,message,parameter", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(server, path, status, message, parameter):
    expected = {"error": message, "status": status}
    if parameter:
        expected["parameter"] = parameter
    got_status, headers, body = server.request(path, method="POST" if path.startswith("/insert")
                                               else "GET")
    assert (got_status, json.loads(body)) == (status, expected)
    assert headers["Content-Type"] == "application/json"


def test_insert_of_text_into_a_count_is_refused(server):
    status, body = server.get("/insert?stat=i.x&value=abc&timestamp=%d" % T0, method="POST")
    assert status == 400 and body["parameter"] == "value"
    assert body["error"].startswith("value: nothing stored: i.x 'abc' -> schema inserts: ValueError")


def test_invalid_utf8_is_a_400(server):
    status, body = server.get("/series?stat=%FF")
    assert status == 400 and body["status"] == 400 and "UTF-8" in body["error"]


def test_method_not_allowed(server):
    status, headers, body = server.request("/series", method="PUT")
    assert status == 405
    assert json.loads(body) == {"error": "method PUT is not allowed: use GET or POST", "status": 405}
    assert headers["Allow"] == "GET, HEAD, POST, OPTIONS, DELETE"  # DELETE /series deletes
