"""Fuzzing every parameter of /series, /list, /properties and /insert (hypothesis) against the WSGI
application over SQLite and Redis: whatever arrives, the answer is JSON and never a 5xx.

The configuration holds only built-in functions and well-behaved macros: a user's TRANSFORMS
entry that fails is a 500 on purpose (a server fault), and is not what is fuzzed here.
"""
import json
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.functional.test_torus_app import Client
from tests.functional.torus_support import cleanup, storage
from torus.config import ConfigHolder
from torus.web import make_app

T0 = 1362096000
NOW = T0 + 86400 + 17
CONFIG = r"""
_HOST, _STORE, _TOKEN = %(host)r, %(store)r, %(token)r


def _schema(name, type, match, intervals, **extra):
    return dict({'type': type, 'host': _HOST, 'match': match, 'intervals': intervals,
                 _STORE: '%%s_%%s' %% (_TOKEN, name)}, **extra)


_FINE = {'minute': {'step': 60, 'steps': 60}, 'hour': {'step': 3600, 'resolution': 60},
         'day': {'step': 'daily', 'resolution': 3600}, 'month': {'step': 'monthly', 'steps': 3}}
SCHEMAS = {
    'counts': _schema('counts', 'count', r'^c\.', _FINE),
    'timers': _schema('timers', 'histogram', r'^t\.', _FINE),
    'series': _schema('series', 'series', r'^s\.', {'minute': {'step': 60}}),
    'gauges': _schema('gauges', 'gauge', r'^g\.', {'minute': {'step': 60}}),
    'sets': _schema('sets', 'set', r'^u\.', {'minute': {'step': 60}}),
    'rolled': _schema('rolled', 'count', r'^r\.', {'week': {'step': 'weekly', 'steps': 2}},
                      rolling=-2),
}
AGGREGATES = [('c.all', 'c.*'), ('t.all.<m>', 't.*.<m>')]
MACROS = {
    'total': {'collapse': True, 'transform': 'sum'},
    'hourly': {'interval': 'hour', 'format': 'json', 'condense': False},
    'recent': {'start': '-2h', 'interval': 'minute'},
}
MAX_POINTS = 5000
"""
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def app(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    host, store = storage(request.param, folder, None)
    path = folder / "fuzz_conf.py"
    path.write_text(CONFIG % {"host": host, "store": store, "token": "f" + uuid.uuid4().hex[:10]})
    holder = ConfigHolder([str(path)])
    series = holder.current.schemas
    series["counts"].timeseries.insert("c.a", 3, timestamp=NOW - 90)
    series["timers"].timeseries.insert("t.web.x", 1.5, timestamp=NOW - 30)
    series["counts"].timeseries.insert("c.tag;dc=x;host=a", 2, timestamp=NOW - 30)
    series["sets"].timeseries.insert("u.x", 4, timestamp=NOW - 30)
    yield Client(make_app(holder, now=lambda: NOW))
    cleanup(holder.current)


# -- what clients might send ----------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NUMBERS = st.one_of(
    st.integers(-10 ** 30, 10 ** 30), st.integers(-10 ** 400, 10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True)).map(str)
HUGE = st.sampled_from(["9" * 4301, "-" + "9" * 5000, "1e309", "-1e309", "1e-400", "0x10", "1_000",
                        "١٢٣", "+-1", "nan", "-inf", "Infinity", "0" * 200 + "1", "1" * 10001])
TIMES = st.one_of(
    st.sampled_from(["now", "today", "yesterday", "tomorrow", "5 days ago", "last week",
                     "yesterday 3pm", "-5d", "+1y", "-99999999999y", "-5m", "0", "-1", "-1.0",
                     "253402300799", "253402300800", "-62135596801", "9999-12-31", "0001-01-01",
                     "10000-01-01", "0000-00-00", "2013-02-30", "2013-03-01T25:00:00Z",
                     "2013-03-01T12:00:00+99:00", "March 32 2013", "noon", "ago " * 30,
                     "1 day ago " * 2000, "last " * 8, "1e12", "   ", "\x00", "१२३"]),
    NUMBERS, TEXT,
    st.builds("{}{}{}".format, st.sampled_from(["-", "+", ""]), st.integers(0, 10 ** 15),
              st.sampled_from(["s", "min", "h", "d", "w", "mon", "y", "m", "days ago", ""])),
    st.lists(st.sampled_from(["ago", "last", "next", "1", "day", "3pm", "monday", "and", "of"]),
             max_size=14).map(" ".join))
NAMES = st.one_of(
    st.sampled_from(["c.a", "c.all", "c.b", "t.web.x", "t.all.x", "s.x", "g.x", "u.x", "r.x",
                     "c.tag;host=a;dc=x", "c.tag;dc=x;host=a", "c.a;=x", "c.a;x", ";x=1", "c.a;~",
                     "nothing.here", "c.", "c.a b", "c.%s" % ("x" * 300)]),
    TEXT)
FUNCTIONS = st.sampled_from(["avg", "mean", "min", "max", "sum", "count", "total", "hourly",
                             "recent", "nosuch", "a-b", "", "sum sum"])


def _expressions():
    names = st.lists(NAMES, min_size=1, max_size=3).map(",".join)
    return st.recursive(names, lambda inner: st.one_of(
        st.builds("{}({})".format, FUNCTIONS, inner),
        st.builds("{}({}".format, FUNCTIONS, inner),
        st.builds("{})".format, inner),
        st.builds("{},{}".format, inner, inner)), max_leaves=5)


EXPRESSIONS = _expressions()
FLAGS = st.one_of(st.sampled_from(["true", "false", "1", "0", "yes", "no", "TRUE", "maybe", ""]), TEXT)
SCHEMAS = st.one_of(st.sampled_from(["counts", "timers", "series", "gauges", "sets", "rolled",
                                     "nope", ""]), TEXT)
INTERVALS = st.one_of(st.sampled_from(["minute", "hour", "day", "month", "week", "nope", ""]), TEXT)
STEPS = st.one_of(st.integers(-5, 10 ** 12).map(str), NUMBERS, HUGE, TEXT)


def _pairs(required, optional):
    """(name, value) pairs: every required field, some optional ones, a few strangers."""
    def combine(fixed, strangers, repeat):
        pairs = []
        for name, value in fixed.items():
            pairs.extend((name, one) for one in (value if isinstance(value, list) else [value]))
        if repeat and pairs:  # a parameter given twice, with another value
            pairs.append((pairs[0][0], repeat))
        return pairs + strangers
    return st.builds(combine, st.fixed_dictionaries(required, optional=optional),
                     st.lists(st.tuples(TEXT, TEXT), max_size=2),
                     st.one_of(st.just(""), st.just(""), st.just(""), TEXT))


SERIES = _pairs({"stat": st.lists(EXPRESSIONS, min_size=1, max_size=3)},
                {"format": st.one_of(st.sampled_from(["graphite", "json"]), TEXT),
                 "condense": FLAGS, "collapse": FLAGS, "schema": SCHEMAS, "interval": INTERVALS,
                 "start": TIMES, "end": TIMES, "steps": STEPS,
                 "unknown": st.one_of(st.sampled_from(["keep", "mark", "omit", "error"]), TEXT)})
LIST = _pairs({}, {"schema": SCHEMAS})
PROPERTIES = _pairs({"stat": st.lists(NAMES, min_size=1, max_size=3)}, {"schema": SCHEMAS})
INSERT = _pairs({"stat": NAMES, "value": st.one_of(NUMBERS, HUGE, TEXT)}, {"timestamp": TIMES})


def check(app, path, pairs, method="GET"):
    query = "&".join("%s=%s" % (quote(name, safe=""), quote(value, safe="")) for name, value in pairs)
    status, headers, data = app.request("%s?%s" % (path, query), method=method)
    assert status < 500, (path, pairs, data[:500])
    assert headers["Content-Type"] == "application/json"
    body = json.loads(data)
    if status >= 400:
        assert body["status"] == status and isinstance(body["error"], str), body
    return status, body


@FUZZ
@given(pairs=SERIES)
def test_series(app, pairs):
    status, body = check(app, "/series", pairs)
    if status == 200:
        assert isinstance(body, list)


@FUZZ
@given(pairs=LIST)
def test_list(app, pairs):
    check(app, "/list", pairs)


@FUZZ
@given(pairs=PROPERTIES)
def test_properties(app, pairs):
    check(app, "/properties", pairs)


@FUZZ
@given(pairs=INSERT)
def test_insert(app, pairs):
    check(app, "/insert", pairs, method="POST")


@FUZZ
@given(raw=st.binary(max_size=60), path=st.sampled_from(["/series", "/list", "/properties"]))
def test_raw_query_strings(app, raw, path):
    """Any bytes in the query string (WSGI hands them over as latin-1 text)."""
    status, headers, data = app.request(path + "?" + raw.decode("latin-1"))
    assert status < 500 and headers["Content-Type"] == "application/json", (raw, data[:500])
    json.loads(data)
