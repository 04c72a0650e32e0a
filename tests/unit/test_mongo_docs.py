"""What the MongoDB engine sends: filters, update documents, queries and indexes (pure, no server).

These are the proof of the engine's MongoDB dialogue that runs here: the shared
contract suite runs against a real server only when TEST_MONGO_URL is set.
"""
import datetime as dt

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymongo import UpdateOne

from kairos.backends import mongo_docs as docs
from kairos.backends.mongo_layouts import layout_for as layout
from kairos.exceptions import ConfigError, InvalidValue
from kairos.intervals import parse_intervals

E = docs.DEFAULT_ESCAPE
UTC = dt.timezone.utc
INTERVALS = parse_intervals({
    "minute": {"step": 60},
    "hour": {"step": 3600, "steps": 24},
    "day": {"step": "daily", "resolution": 3600, "steps": 7},
})


# -- configuration ------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("mongodb://localhost", None),
    ("mongodb://localhost/", None),
    ("mongodb://localhost:27018/timeseries", "timeseries"),
    ("mongodb://guest:pw@localhost/authed_db", "authed_db"),
    ("mongodb://h1,h2:27018/stats?replicaSet=rs0", "stats"),
    ("mongodb://localhost/?replicaSet=rs0", None),
    ("mongodb+srv://cluster.example.com/my%20db", "my db"),
])
def test_database_from_url(url, expected):
    assert docs.database_from_url(url) == expected


def test_database_name_precedence():
    assert docs.database_name("mongodb://h/url_db", {"database": "cfg"}) == "cfg"
    assert docs.database_name("mongodb://h/url_db", {}) == "url_db"
    assert docs.database_name("mongodb://h", {}) == "kairos"
    assert docs.database_name(None, {}) == "kairos"


@pytest.mark.parametrize("bad", ["", "ab", ".", "$", "\x00", 7, None])
def test_escape_character_is_validated(bad):
    with pytest.raises(ConfigError, match="escape_character"):
        docs.check_escape(bad)


def test_escape_character_accepts_one_other_character():
    assert docs.check_escape("_") == "_"
    assert docs.check_escape(E) == E


# -- escaping -------------------------------------------------------------------------
def test_escape_replaces_dots_and_dollars():
    assert docs.escape("3.14") == "3" + E + "14"
    assert docs.escape("$5") == E + "$5"
    assert docs.escape("a.$b") == "a" + E + E + "$b"
    assert docs.escape("a.b", "_") == "a_b"
    assert docs.escape("plain") == "plain"


def test_escaped_keys_have_no_dot_and_no_leading_or_bare_dollar():
    for key in ("1.5", "$x", "x$", "..$$..", "$"):
        escaped = docs.escape(key)
        assert "." not in escaped and not escaped.startswith("$")
        assert all(escaped[i - 1] == E for i, ch in enumerate(escaped) if ch == "$")


@given(st.text(alphabet=st.characters(blacklist_characters=E, blacklist_categories=("Cs",)),
               min_size=1))
def test_unescape_inverts_escape(key):
    assert docs.unescape(docs.escape(key)) == key


def test_key_holding_the_escape_character_or_empty_is_refused():
    with pytest.raises(InvalidValue, match="escape character"):
        docs.escape("a" + E)
    with pytest.raises(InvalidValue, match="empty"):
        docs.escape("")


def test_key_text_of_values():
    assert docs.key_text("x") == "x"
    assert docs.key_text(3) == "3"
    assert docs.key_text(2.5) == "2.5"
    assert docs.key_text(b"caf\xc3\xa9") == "café"
    with pytest.raises(InvalidValue, match="UTF-8"):
        docs.key_text(b"\xff")


# -- updates ----------------------------------------------------------------------------
def test_update_spec_per_type():
    assert docs.update_spec(layout("count"), 5) == {"$inc": {"value": 5}}
    assert docs.update_spec(layout("count"), -0.5) == {"$inc": {"value": -0.5}}
    assert docs.update_spec(layout("gauge"), "up") == {"$set": {"value": "up"}}
    assert docs.update_spec(layout("series"), [3, 1, 3]) == {"$push": {"value": {"$each": [3, 1, 3]}}}
    assert docs.update_spec(layout("set"), {3, "b", 1, "a"}) == {
        "$addToSet": {"value": {"$each": [1, 3, "a", "b"]}}}
    assert docs.update_spec(layout("histogram"), {2.5: 1, 1: 3, "a.b": 2}) == {
        "$inc": {"value.1": 3, "value.2" + E + "5": 1, "value.a" + E + "b": 2}}


def test_histogram_values_with_the_same_text_merge_into_one_increment():
    assert docs.update_spec(layout("histogram"), {3: 1, "3": 2}) == {"$inc": {"value.3": 3}}


def test_update_spec_sets_expire_at_next_to_the_type_operator():
    when = dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert docs.update_spec(layout("gauge"), 1, when) == {"$set": {"value": 1, "expire_at": when}}
    assert docs.update_spec(layout("count"), 1, when) == {"$inc": {"value": 1}, "$set": {"expire_at": when}}


def test_update_spec_uses_the_configured_escape():
    assert docs.update_spec(layout("histogram", "_"), {"1.5": 1}) == {"$inc": {"value.1_5": 1}}


def test_unknown_type_has_no_layout():
    with pytest.raises(ConfigError, match="no MongoDB layout for type 'bloom'"):
        layout("bloom")


def test_expire_at_is_the_end_of_retention_in_utc():
    assert docs.expire_at(INTERVALS["minute"], 100) is None
    # hour bucket 10 starts at 36000 s; 24 steps later it leaves retention
    assert docs.expire_at(INTERVALS["hour"], 10) == dt.datetime.fromtimestamp(36000 + 24 * 3600, UTC)
    # daily 2024-02-27 + 7 days = 2024-03-05 (leap year)
    assert docs.expire_at(INTERVALS["day"], 20240227) == dt.datetime(2024, 3, 5, tzinfo=UTC)


def test_write_operations_one_upsert_per_bucket_in_bucket_order():
    batch = {
        ("b", "minute", 2, None): 1,
        ("a", "hour", 5, None): 2,
        ("a", "day", 20240301, 473352): 3,
        ("a", "day", 20240301, 473351): 4,
    }
    ops, skipped = docs.write_operations(layout("count"), batch, INTERVALS, now=0)
    assert skipped == 0
    assert [spec for spec, _ in ops] == [
        {"name": "a", "interval": "day", "i_time": 20240301, "r_time": 473351},
        {"name": "a", "interval": "day", "i_time": 20240301, "r_time": 473352},
        {"name": "a", "interval": "hour", "i_time": 5, "r_time": None},
        {"name": "b", "interval": "minute", "i_time": 2, "r_time": None},
    ]
    assert ops[3][1] == {"$inc": {"value": 1}}                       # no steps: no expiry
    assert ops[2][1] == {"$inc": {"value": 2},
                         "$set": {"expire_at": dt.datetime.fromtimestamp(5 * 3600 + 86400, UTC)}}


def test_write_operations_skip_buckets_already_past_retention():
    batch = {("a", "hour", 0, None): 1, ("a", "hour", 100, None): 2, ("a", "minute", 0, None): 3}
    now = 24 * 3600 + 1     # bucket 0 expired at 86400; bucket 100 lives on; minute keeps forever
    ops, skipped = docs.write_operations(layout("count"), batch, INTERVALS, now)
    assert skipped == 1
    assert [spec["i_time"] for spec, _ in ops] == [100, 0]
    assert [spec["interval"] for spec, _ in ops] == ["hour", "minute"]


@pytest.mark.parametrize("type_, data", [
    ("count", 3), ("gauge", "x"), ("series", [1, "a", 2.5]), ("set", {1, 2}),
    ("histogram", {1.5: 2, "$a.b": 1}),
])
def test_operations_are_valid_pymongo_upserts_and_bson(type_, data):
    ops, _ = docs.write_operations(layout(type_), {("n", "hour", 1, None): data}, INTERVALS, now=0)
    (spec, update), = ops
    request = UpdateOne(spec, update, upsert=True)          # pymongo validates update operators
    assert request == UpdateOne(spec, update, upsert=True)
    bson.encode(spec)
    bson.encode(update)


def test_index_specs():
    assert docs.index_specs(False) == [
        ([("name", 1), ("interval", 1), ("i_time", 1), ("r_time", 1)],
         {"name": "kairos_bucket", "unique": True})]
    assert docs.index_specs(True)[1] == (
        [("expire_at", 1)], {"name": "kairos_expire", "expireAfterSeconds": 0})


# -- reads ---------------------------------------------------------------------------------
def test_read_query_for_one_bucket_without_resolution_is_find_one():
    spec, sort, method = docs.read_query("a", INTERVALS["minute"], 7, 7)
    assert (spec, sort, method) == ({"name": "a", "interval": "minute", "i_time": 7},
                                    [("i_time", 1), ("r_time", 1)], "find_one")


def test_read_query_for_resolutions_or_ranges_is_find():
    spec, _, method = docs.read_query("a", INTERVALS["day"], 20240301, 20240301)
    assert (spec, method) == ({"name": "a", "interval": "day", "i_time": 20240301}, "find")
    spec, _, method = docs.read_query("a", INTERVALS["minute"], 3, 9)
    assert (spec, method) == ({"name": "a", "interval": "minute",
                               "i_time": {"$gte": 3, "$lte": 9}}, "find")


def test_rows_from_find_one():
    assert docs.rows_from_result(layout("count"), "find_one", {"i_time": 7, "r_time": None, "value": 4}, 7) \
        == {7: {None: 4}}
    assert docs.rows_from_result(layout("count"), "find_one", None, 7) == {}
    assert docs.rows_from_result(layout("series"), "find_one", {"value": [1, 2]}, 7) == {7: {None: [1, 2]}}


def test_rows_from_find_group_by_bucket_and_resolution():
    found = [{"i_time": 1, "r_time": 60, "value": [1]}, {"i_time": 1, "r_time": 120, "value": [2]},
             {"i_time": 2, "r_time": None, "value": [3]}, {"i_time": 3, "r_time": None}]
    assert docs.rows_from_result(layout("series"), "find", found, 1) == {
        1: {60: [1], 120: [2]}, 2: {None: [3]}}


def test_rows_unescape_histogram_keys():
    found = {"i_time": 1, "r_time": None, "value": {"2" + E + "5": 3, E + "$x": 1}}
    assert docs.rows_from_result(layout("histogram"), "find_one", found, 1) == {1: {None: {"2.5": 3, "$x": 1}}}
    assert docs.rows_from_result(layout("histogram", "_"), "find_one", {"value": {"1_5": 1}}, 1) == {
        1: {None: {"1.5": 1}}}


def test_properties_pipeline():
    assert docs.properties_pipeline("a") == [
        {"$match": {"name": "a"}},
        {"$group": {"_id": "$interval", "first": {"$min": "$i_time"}, "last": {"$max": "$i_time"}}},
        {"$sort": {"_id": 1}}]


def test_expire_filters_only_for_intervals_with_steps():
    now = 100 * 3600 + 5
    filters = docs.expire_filters("a", INTERVALS.values(), now)
    assert filters == [
        {"name": "a", "interval": "hour", "i_time": {"$lt": 100 - 23}},
        {"name": "a", "interval": "day", "i_time": {"$lt": 19691230}},
    ]
