"""The thin MongoDB layer: which client/collection it picks, what it calls, how it maps errors.

No MongoDB server runs here. ``StandIn`` is a recording stand-in for a pymongo
Collection that also applies the few update operators the engine uses ($inc,
$set, $push/$addToSet with $each) to in-memory documents, so the write -> read
round trip through the Timeseries pipeline can be exercised. It is the test's
model of MongoDB, not MongoDB: it proves the engine's plumbing, not that a server
accepts what is sent. The real proof is the shared contract suite run with
TEST_MONGO_URL set.
"""
import copy
import logging
import sys
from collections import OrderedDict

import pymongo
import pytest
from bson.errors import InvalidDocument
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure

from kairos import Timeseries
from kairos.backends import mongo_docs as docs
from kairos.backends.mongo_store import MongoTimeseries, _hide_password
from kairos.exceptions import BackendError, ConfigError, InvalidValue

E = docs.DEFAULT_ESCAPE
MINUTE = {"minute": {"step": 60}}
OFFLINE = "mongodb://127.0.0.1:1"     # never contacted: connect=False and no operation runs


def _match(doc, spec):
    for field, cond in spec.items():
        value = doc.get(field)
        if isinstance(cond, dict):
            for op, bound in cond.items():
                if value is None or not {"$gte": value >= bound, "$lte": value <= bound,
                                         "$lt": value < bound}[op]:
                    return False
        elif value != cond:
            return False
    return True


def _apply(doc, update):
    for op, fields in update.items():
        for path, arg in fields.items():
            *parents, leaf = path.split(".")
            target = doc
            for part in parents:
                target = target.setdefault(part, {})
            if op == "$inc":
                target[leaf] = target.get(leaf, 0) + arg
            elif op == "$set":
                target[leaf] = arg
            elif op == "$push":
                target.setdefault(leaf, []).extend(arg["$each"])
            elif op == "$addToSet":
                for item in arg["$each"]:
                    if item not in target.setdefault(leaf, []):
                        target[leaf].append(item)
            else:
                raise AssertionError("operator %s not modelled" % op)


class StandIn:
    """Records every call; keeps documents in a list (see module docstring)."""

    full_name = "standin.kairos"

    def __init__(self):
        self.calls = []
        self.docs = []
        self.fail = None

    def _record(self, *call):
        self.calls.append(call)
        if self.fail is not None:
            raise self.fail

    def create_index(self, keys, **options):
        self._record("create_index", keys, options)
        return options["name"]

    def bulk_write(self, requests, ordered=True):
        self._record("bulk_write", list(requests), ordered)
        for request in requests:
            assert request._upsert is True
            found = [d for d in self.docs if _match(d, request._filter)]
            assert len(found) <= 1, "the unique bucket index would forbid this"
            if found:
                doc = found[0]
            else:
                doc = dict(request._filter)
                self.docs.append(doc)
            _apply(doc, request._doc)

    def _project(self, doc, projection):
        return {k: copy.deepcopy(v) for k, v in doc.items() if projection.get(k)}

    def find_one(self, spec, projection=None):
        self._record("find_one", spec, projection)
        found = [d for d in self.docs if _match(d, spec)]
        return self._project(found[0], projection) if found else None

    def find(self, spec, projection=None, sort=None):
        self._record("find", spec, projection, sort)
        found = [d for d in self.docs if _match(d, spec)]
        for key, _direction in reversed(sort or []):
            found.sort(key=lambda d: (d.get(key) is not None, d.get(key) or 0))
        return iter([self._project(d, projection) for d in found])

    def distinct(self, field):
        self._record("distinct", field)
        return list({d[field] for d in self.docs})

    def aggregate(self, pipeline):
        self._record("aggregate", pipeline)
        assert pipeline == docs.properties_pipeline(pipeline[0]["$match"]["name"])
        groups = {}
        for d in self.docs:
            if _match(d, pipeline[0]["$match"]):
                lo, hi = groups.get(d["interval"], (d["i_time"], d["i_time"]))
                groups[d["interval"]] = (min(lo, d["i_time"]), max(hi, d["i_time"]))
        return iter([{"_id": k, "first": lo, "last": hi} for k, (lo, hi) in sorted(groups.items())])

    def delete_many(self, spec):
        self._record("delete_many", spec)
        self.docs = [d for d in self.docs if not _match(d, spec)]


@pytest.fixture
def offline_client():
    client = pymongo.MongoClient(OFFLINE, connect=False)
    yield client
    client.close()


@pytest.fixture
def make(offline_client):
    """A MongoTimeseries whose collection is a StandIn."""
    def build(type_, intervals=MINUTE, **options):
        series = Timeseries(offline_client, type=type_, intervals=intervals, **options)
        series.collection = StandIn()
        series.names = StandIn()
        return series
    return build


# -- which collection --------------------------------------------------------------------
def test_url_builds_a_client_and_picks_the_database():
    series = Timeseries(OFFLINE + "/urldb", type="count", intervals=MINUTE,
                        client_config={"connect": False})
    try:
        assert isinstance(series, MongoTimeseries)
        assert (series.database.name, series.collection.name) == ("urldb", "kairos_count")
    finally:
        series.close()
    series = Timeseries(OFFLINE + "/urldb", type="set", intervals=MINUTE,
                        client_config={"connect": False, "database": "cfg"},
                        collection_name="my_sets")
    assert (series.database.name, series.collection.name) == ("cfg", "my_sets")
    assert series._owned_client is not None
    series.close()
    assert series._owned_client is None


def test_client_database_and_collection_handles(offline_client):
    by_client = Timeseries(offline_client, type="gauge", intervals=MINUTE)
    assert (by_client.database.name, by_client.collection.name) == ("kairos", "kairos_gauge")
    by_config = Timeseries(offline_client, type="gauge", intervals=MINUTE,
                           client_config={"database": "other"})
    assert by_config.database.name == "other"
    by_database = Timeseries(offline_client["stats"], type="series", intervals=MINUTE)
    assert (by_database.database.name, by_database.collection.name) == ("stats", "kairos_series")
    by_collection = Timeseries(offline_client["stats"]["mine"], type="series", intervals=MINUTE)
    assert by_collection.collection.full_name == "stats.mine"
    assert by_client.client is offline_client
    by_client.close()                 # not ours: must stay usable
    assert offline_client["x"].name == "x"


def test_client_default_database_comes_from_its_url():
    client = pymongo.MongoClient(OFFLINE + "/fromurl", connect=False)
    try:
        assert Timeseries(client, type="count", intervals=MINUTE).database.name == "fromurl"
    finally:
        client.close()


def test_bad_options_are_config_errors(offline_client):
    with pytest.raises(ConfigError, match="unknown MongoDB option.*prefix"):
        Timeseries(offline_client, type="count", intervals=MINUTE, prefix="x")
    with pytest.raises(ConfigError, match="only 'database' is used.*tz_aware"):
        Timeseries(offline_client, type="count", intervals=MINUTE, client_config={"tz_aware": True})
    with pytest.raises(ConfigError, match="escape_character"):
        Timeseries(offline_client, type="count", intervals=MINUTE, escape_character="..")
    with pytest.raises(ConfigError, match="cannot build a MongoDB client"):
        Timeseries("mongodb://u:secret@h/db", type="count", intervals=MINUTE,
                   client_config={"no_such_option": 1})


def test_hide_password():
    assert _hide_password("mongodb://u:secret@h/db") == "mongodb://u:***@h/db"
    assert _hide_password("mongodb://h/db") == "mongodb://h/db"


# -- writes ---------------------------------------------------------------------------------
def test_bulk_insert_is_one_unordered_bulk_write_of_upserts(make):
    series = make("histogram", {"minute": {"step": 60}, "hour": {"step": 3600}})
    series.bulk_insert({0: {"a": [1.5, 1.5, 2]}, 59: {"a": [2]}, 3600: {"b": [7]}})
    writes = [c for c in series.collection.calls if c[0] == "bulk_write"]
    assert len(writes) == 1
    _, requests, ordered = writes[0]
    assert ordered is False
    assert requests == [
        UpdateOne({"name": "a", "interval": "hour", "i_time": 0, "r_time": None},
                  {"$inc": {"value.1" + E + "5": 2, "value.2": 2}}, upsert=True),
        UpdateOne({"name": "a", "interval": "minute", "i_time": 0, "r_time": None},
                  {"$inc": {"value.1" + E + "5": 2, "value.2": 2}}, upsert=True),
        UpdateOne({"name": "b", "interval": "hour", "i_time": 1, "r_time": None},
                  {"$inc": {"value.7": 1}}, upsert=True),
        UpdateOne({"name": "b", "interval": "minute", "i_time": 60, "r_time": None},
                  {"$inc": {"value.7": 1}}, upsert=True),
    ]


def test_indexes_are_created_once_before_the_first_write(make):
    series = make("count", {"minute": {"step": 60}, "hour": {"step": 3600, "steps": 2}})
    assert series.get("a", "minute", timestamp=0) == {0: 0}
    assert not [c for c in series.collection.calls if c[0] == "create_index"]
    series.insert("a", 1)
    series.insert("a", 1)
    kinds = [c[0] for c in series.collection.calls]
    assert kinds.count("create_index") == 2 and kinds.index("create_index") < kinds.index("bulk_write")
    assert [c[1:] for c in series.collection.calls if c[0] == "create_index"] == docs.index_specs(True)


def test_no_ttl_index_without_steps(make):
    series = make("count")
    series.insert("a", 1, timestamp=0)
    assert [c[1:] for c in series.collection.calls if c[0] == "create_index"] == docs.index_specs(False)


def test_writes_past_retention_send_nothing(make, caplog):
    series = make("count", {"minute": {"step": 60, "steps": 5}})
    with caplog.at_level(logging.DEBUG, logger="kairos.backends.mongo_store"):
        series.insert("a", 1, timestamp=0)
    assert series.collection.calls == []
    assert "skipped: past their retention" in caplog.text


def test_expire_at_is_set_for_intervals_with_steps(make):
    series = make("gauge", {"minute": {"step": 60, "steps": 5}})
    series.insert("a", 3)
    (request,) = [c for c in series.collection.calls if c[0] == "bulk_write"][0][1]
    expires = request._doc["$set"]["expire_at"]
    assert expires.timestamp() == series.intervals["minute"].expires_at(request._filter["i_time"])


def test_unknown_write_option(make):
    with pytest.raises(ConfigError, match="pipeline"):
        make("count").insert("a", 1, pipeline=object())


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("error, kind, text", [
    (InvalidDocument("cannot encode object: {1, 2}"), InvalidValue, "cannot store"),
    (OverflowError("MongoDB can only handle up to 8-byte ints"), InvalidValue, "8-byte"),
    (AutoReconnect("connection refused"), BackendError, "AutoReconnect on standin.kairos"),
    (BulkWriteError({"writeErrors": [{"errmsg": "E11000 duplicate"}]}), BackendError, "E11000"),
])
def test_driver_errors_become_kairos_errors(make, error, kind, text):
    series = make("count")
    series.collection.fail = error
    series._indexed = True
    with pytest.raises(kind, match=text):
        series.insert("a", 1, timestamp=0)


def _raise(error):
    def create_index(keys, **options):
        raise error
    return create_index


def test_an_equivalent_index_under_another_name_is_tolerated(make, caplog):
    series = make("count")
    series.collection.create_index = _raise(
        OperationFailure("Index already exists with a different name", 85))
    series.insert("a", 1, timestamp=0)
    assert "already exists" in caplog.text
    assert series.get("a", "minute", timestamp=0) == {0: 1}


def test_other_index_failures_are_backend_errors(make):
    series = make("count")
    series.collection.create_index = _raise(OperationFailure("not authorized", 13))
    with pytest.raises(BackendError, match="not authorized"):
        series.insert("a", 1, timestamp=0)


# -- reads -------------------------------------------------------------------------------------
def test_get_without_resolution_is_find_one_with_projection(make):
    series = make("count")
    series.get("a", "minute", timestamp=125)
    assert series.collection.calls == [
        ("find_one", {"name": "a", "interval": "minute", "i_time": 2}, docs.READ_PROJECTION)]


def test_series_is_one_sorted_find(make):
    series = make("count")
    series.series("a", "minute", start=0, end=180)
    assert series.collection.calls == [
        ("find", {"name": "a", "interval": "minute", "i_time": {"$gte": 0, "$lte": 3}},
         docs.READ_PROJECTION, [("i_time", 1), ("r_time", 1)])]


def test_custom_fetch_gets_the_collection_spec_sort_and_method(make):
    series = make("series", {"hour": {"step": 3600, "resolution": 60}})
    seen = []

    def fetch(handle, spec, sort, method):
        seen.append((handle, spec, sort, method))
        # a cursor-like iterable of {value: data}; i_time/r_time place the rows
        return iter([{"i_time": 0, "r_time": 1, "value": [5, 6]}])
    assert series.get("a", "hour", timestamp=0, fetch=fetch) == {60: [5, 6]}
    assert seen == [(series.collection, {"name": "a", "interval": "hour", "i_time": 0},
                     [("i_time", 1), ("r_time", 1)], "find")]


def test_custom_find_one_fetch_may_return_a_bare_value_document(make):
    series = make("series")
    fetch = lambda handle, spec, sort, method: {"value": [1, 2, 3]}  # noqa: E731
    assert series.get("a", "minute", timestamp=0, fetch=fetch, transform="count") == {0: 3}


# -- the round trip through the stand-in -----------------------------------------------------------
@pytest.mark.parametrize("type_, values, expected", [
    ("count", [2, 3, -1], 4),
    ("gauge", [5, 7, 2], 2),
    ("series", [3, 1, 3], [3, 1, 3]),
    ("set", [3, 1, 3], {1, 3}),
    ("histogram", [1.5, "a.b$", 1.5], {"1.5": 2, "a.b$": 1}),
])
def test_round_trip_per_type(make, type_, values, expected):
    series = make(type_)
    for value in values:
        series.insert("a", value, timestamp=61)
    assert series.get("a", "minute", timestamp=61) == {60: expected}
    assert series.list() == ["a"]
    assert series.properties("a") == {"minute": {"first": 60, "last": 60}}


def test_histogram_with_read_func_merges_keys_of_equal_value(make):
    series = make("histogram", read_func=float)
    series.insert("a", [1, 1.0, "1", 2.5], timestamp=0)
    assert series.get("a", "minute", timestamp=0) == {0: {1.0: 3, 2.5: 1}}


def test_round_trip_with_resolution_and_range(make):
    series = make("count", {"hour": {"step": 3600, "resolution": 60}})
    series.bulk_insert(OrderedDict([(60, {"a": [1]}), (130, {"a": [2]}), (3700, {"a": [4]})]))
    assert series.get("a", "hour", timestamp=0) == {60: 1, 120: 2}
    assert series.series("a", "hour", start=0, end=3600, condense=True) == {0: 3, 3600: 4}


def test_delete_delete_all_and_expire(make):
    series = make("count", {"minute": {"step": 60, "steps": 2}, "hour": {"step": 3600}})
    series.collection.docs = [
        {"name": n, "interval": iv, "i_time": t, "r_time": None, "value": 1}
        for n in ("a", "b") for iv, t in (("minute", 10), ("minute", 11), ("minute", 12), ("hour", 0))]
    series.expire("a", now=12 * 60 + 5)       # minute keeps buckets 11 and 12
    assert sorted((d["name"], d["interval"], d["i_time"]) for d in series.collection.docs
                  if d["name"] == "a") == [("a", "hour", 0), ("a", "minute", 11), ("a", "minute", 12)]
    assert series.properties("b") == {"hour": {"first": 0, "last": 0},
                                      "minute": {"first": 600, "last": 720}}
    series.delete("a")
    assert series.list() == ["b"]
    series.delete_all()
    assert series.list() == []
    assert ("delete_many", {}) in series.collection.calls


def test_without_pymongo_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymongo", None)
    with pytest.raises(ImportError, match=r"pip install 'torus\[mongo\]'"):
        Timeseries("mongodb://h", type="count", intervals=MINUTE)



def test_values_bson_cannot_encode_are_refused_before_anything_is_sent(make):
    from kairos.exceptions import InvalidValue
    series = make("series")
    for bad in (2 ** 70, object()):
        with pytest.raises(InvalidValue, match="MongoDB cannot store the value"):
            series.bulk_insert({0: {"a": [1, bad, 2]}})
    assert series.collection.calls == []
    series.bulk_insert({0: {"a": [1, 2 ** 62, "x"]}})
    assert [c[0] for c in series.collection.calls].count("bulk_write") == 1


# -- the name index -----------------------------------------------------------------------------
def test_name_index_documents_ranges_and_deletes(make):
    from kairos.names import Node
    series = make("count")
    series.bulk_insert({0: {"a.b.c": [1], "a.d": [1], "top": [1], "cpu;host=x": [1]}})
    ids = sorted(d["_id"] for d in series.names.docs)
    assert ids == ["0 T cpu;host=x", "1 B a", "1 L top", "2 B a.b", "2 L a.d", "3 L a.b.c"]
    assert series.nodes("a") == [Node("b", "a.b", False, True), Node("d", "a.d", True, False)]
    # one range of the (d, p) index: never the whole collection
    finds = [c for c in series.names.calls if c[0] == "find"]
    assert finds[-1][1] == {"d": 2, "p": {"$gte": "a.", "$lt": "a/"}}
    assert ("create_index", [("d", 1), ("p", 1)], {"name": "depth_path"}) in series.names.calls
    assert series.tagged_names() == ["cpu;host=x"]
    assert series.lookup(["a.b", "zz"]) == [Node("b", "a.b", False, True)]
    series.delete("a.b.c")
    assert series.nodes("a") == [Node("d", "a.d", True, False)]
    series.names.docs.append({"_id": "1 L gone", "d": 1, "p": "gone", "k": "L"})
    assert series.rebuild_index() == {"added": 0, "removed": 1}
    series.delete_all()
    assert series.nodes() == [] and series.tagged_names() == []
    assert [d["_id"] for d in series.names.docs] == ["!built"]
