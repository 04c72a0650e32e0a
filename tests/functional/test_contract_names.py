"""Backend contract, the name index: nodes, lookup, tagged_names, delete, backfill, rebuild."""
import pytest

from kairos.exceptions import InvalidValue
from kairos.names import Node

NUM = {"read_func": float}
MINUTE = {"minute": {"step": 60}}


def leaf(path):
    return Node(path.rsplit(".", 1)[-1], path, True, False)


def branch(path):
    return Node(path.rsplit(".", 1)[-1], path, False, True)


def both(path):
    return Node(path.rsplit(".", 1)[-1], path, True, True)


NAMES = ["servers.web1.cpu.user", "servers.web1.cpu.system", "servers.web2.cpu.user",
         "servers.web1.load", "servers.web1", "Servers.x", "stats.hits", "top",
         "cpu;host=a", "disk.used;host=a;dc=eu", "a..b", "servers.web10.cpu.user"]


def _filled(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert({0: {name: [1] for name in NAMES}})
    return ts


def test_nodes_list_one_level_under_each_parent(make_timeseries):
    ts = _filled(make_timeseries)
    assert ts.nodes() == [branch("Servers"), branch("servers"), branch("stats"), leaf("top")]
    assert ts.nodes("") == ts.nodes()
    assert ts.nodes("servers") == [both("servers.web1"), branch("servers.web10"),
                                   branch("servers.web2")]
    assert ts.nodes("servers.web1") == [branch("servers.web1.cpu"), leaf("servers.web1.load")]
    assert ts.nodes("servers.web1.cpu") == [leaf("servers.web1.cpu.system"),
                                            leaf("servers.web1.cpu.user")]
    assert ts.nodes("servers.web1.cpu.user") == []
    assert ts.nodes("nothing.here") == []
    assert ts.nodes("Servers") == [leaf("Servers.x")]   # case-sensitive on every engine


def test_tagged_names_are_out_of_the_tree(make_timeseries):
    ts = _filled(make_timeseries)
    assert ts.tagged_names() == ["cpu;host=a", "disk.used;host=a;dc=eu"]
    assert "cpu" not in [node.path for node in ts.nodes()]
    assert ts.nodes("disk") == []


def test_names_with_empty_components_are_not_nodes_but_stay_stored(make_timeseries):
    ts = _filled(make_timeseries)
    assert ts.tree_names() == sorted(n for n in NAMES if ";" not in n and n != "a..b")
    assert ts.lookup("servers.web1") == [both("servers.web1")]
    assert "a" not in [node.path for node in ts.nodes()]
    assert "a..b" in ts.list()


def test_nodes_refuses_a_tagged_or_malformed_parent(make_timeseries):
    ts = _filled(make_timeseries)
    for bad in ("cpu;host=a", "a..b", ".a", 5):
        with pytest.raises(InvalidValue):
            ts.nodes(bad)


def test_lookup_finds_exact_paths_only(make_timeseries):
    ts = _filled(make_timeseries)
    assert ts.lookup(["servers.web1", "servers.web2.cpu", "servers.web3", "top", "stats.hits",
                      "cpu;host=a", "servers.web1.cpu.user.x"]) == [
        both("servers.web1"), branch("servers.web2.cpu"), leaf("stats.hits"), leaf("top")]
    assert ts.lookup([]) == []
    assert ts.lookup(["SERVERS"]) == []


def test_known_tells_stored_names_from_others_in_one_read(make_timeseries):
    ts = _filled(make_timeseries)
    asked = ["servers.web1", "servers.web2", "servers.web2.cpu.user", "cpu;host=a",
             "cpu;host=b", "disk.used;host=a;dc=eu", "never", "a..b", "stats"]
    assert ts.known(asked) == {
        "servers.web1": True,  # a leaf (and a branch)
        "servers.web2": False,  # only a branch: never stored itself
        "servers.web2.cpu.user": True, "cpu;host=a": True, "cpu;host=b": False,
        "disk.used;host=a;dc=eu": True, "never": False,
        "a..b": None,  # the index cannot hold it: cannot tell
        "stats": False}
    ts.delete("cpu;host=a")
    ts.delete("stats.hits")
    assert ts.known(["cpu;host=a", "stats.hits"]) == {"cpu;host=a": False, "stats.hits": False}
    assert ts.known([]) == {}


def test_index_grows_with_later_writes_and_other_objects(make_timeseries):
    ts = _filled(make_timeseries)
    ts.insert("stats.misses", 1, timestamp=60)
    ts.bulk_insert({120: {"stats.hits": [1], "new.one": [2]}})
    assert ts.nodes("stats") == [leaf("stats.hits"), leaf("stats.misses")]
    assert branch("new") in ts.nodes()


def test_delete_removes_the_leaf_and_empty_branches(make_timeseries):
    ts = _filled(make_timeseries)
    ts.delete("servers.web2.cpu.user")
    assert branch("servers.web2") not in ts.nodes("servers")
    assert ts.lookup(["servers.web2", "servers.web2.cpu"]) == []
    ts.delete("servers.web1")  # a leaf that is also a branch stays a branch
    assert ts.nodes("servers") == [branch("servers.web1"), branch("servers.web10")]
    ts.delete("servers.web1.cpu.user")
    assert ts.nodes("servers.web1.cpu") == [leaf("servers.web1.cpu.system")]
    ts.delete("cpu;host=a")
    assert ts.tagged_names() == ["disk.used;host=a;dc=eu"]
    ts.delete("never.written")
    # written again after the delete: indexed again
    ts.insert("servers.web2.cpu.user", 1, timestamp=0)
    assert branch("servers.web2") in ts.nodes("servers")


def test_delete_all_clears_the_index_and_writes_index_again(make_timeseries):
    ts = _filled(make_timeseries)
    ts.delete_all()
    assert ts.nodes() == []
    assert ts.tagged_names() == []
    ts.insert("top", 1, timestamp=0)
    assert ts.nodes() == [leaf("top")]


def test_a_store_written_without_the_index_is_indexed_on_first_read(make_timeseries):
    writer = make_timeseries("gauge", MINUTE, **NUM)
    writer.bulk_insert({0: {"old.one": [1], "old.two": [2], "tag;k=v": [3]}})
    writer._index_discard(writer._index_entries())   # as written by a kairos without index
    _drop_marker(writer)
    assert writer._index_entries() == []
    assert not writer._index_built()
    # another object (another process) on the same storage reads first
    reader = make_timeseries("gauge", MINUTE, **_same_storage(writer), **NUM)
    assert reader.nodes("old") == [leaf("old.one"), leaf("old.two")]
    assert reader.tagged_names() == ["tag;k=v"]
    assert reader._index_built()


def test_rebuild_prunes_names_without_data_and_restores_missing_ones(make_timeseries):
    ts = _filled(make_timeseries)
    ts.nodes()  # the first read of a store marks its index built (after a backfill)
    # entries of a name whose data is gone (as after TTLs or expire_all) ...
    ts._index_add([(1, "gone", "B"), (2, "gone.away", "L"), (0, "x;y=z", "T")])
    # ... and a stored name whose entries were lost
    ts._index_discard([(1, "top", "L")])
    assert branch("gone") in ts.nodes()
    assert ts.rebuild_index() == {"added": 1, "removed": 3}
    assert ts.nodes() == [branch("Servers"), branch("servers"), branch("stats"), leaf("top")]
    assert ts.tagged_names() == ["cpu;host=a", "disk.used;host=a;dc=eu"]
    assert ts.rebuild_index() == {"added": 0, "removed": 0}


def test_batches_stay_exactly_once_with_index_entries(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    if not ts.exactly_once:
        pytest.skip("%s has no exactly-once batches" % ts.engine)
    ts.bulk_insert({0: {"a.b": [1], "a.c": [2]}}, batch_id="batch-1")
    ts._indexed_names.clear()  # a retry from a fresh process sends the entries again
    ts.bulk_insert({0: {"a.b": [1], "a.c": [2]}}, batch_id="batch-1")
    assert ts.get("a.b", "minute", timestamp=0) == {0: 1}
    assert ts.nodes("a") == [leaf("a.b"), leaf("a.c")]


def test_the_write_path_indexes_a_name_once_per_object(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    sent = []
    original = ts._prepare_write  # every engine's write, from bulk_insert or prepare_bulk

    def spy(batch, new_names=(), **kwargs):
        sent.append(list(new_names))
        return original(batch, new_names=new_names, **kwargs)
    ts._prepare_write = spy
    ts.bulk_insert({0: {"a.b": [1], "c": [1]}})
    ts.bulk_insert({60: {"a.b": [1], "d": [1]}, 120: {"d": [2]}})
    ts.insert("a.b", 1, timestamp=180)
    assert sent == [["a.b", "c"], ["d"], []]


def _same_storage(ts):
    """The options of a timeseries on the storage of ``ts``."""
    if ts.engine == "sql":
        return {"table_name": ts.table.name}
    if ts.engine == "redis":
        return {"prefix": ts.prefix}
    if ts.engine == "mongo":
        return {"client_config": {"database": ts.database.name}}
    return {"table_name": ts.table_name}


def _drop_marker(ts):
    if ts.engine == "sql":
        with ts.db.begin() as conn:
            conn.execute(ts.names.delete())
    elif ts.engine == "redis":
        ts.client.delete(ts._names_key)
    elif ts.engine == "mongo":
        ts.names.delete_many({})
    else:  # cassandra: the marker row
        ts._index_discard([(-1, "", "M")])
