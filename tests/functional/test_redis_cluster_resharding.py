"""A slot of a Redis Cluster moves to another primary while kairos uses it (real servers).

The slot holding a stat's keys is moved by hand, the way ``redis-cli --cluster reshard``
does it: ``CLUSTER SETSLOT <slot> IMPORTING`` on the new primary, ``MIGRATING`` on the
old one, the keys moved a few at a time with ``MIGRATE``, then ``SETSLOT <slot> NODE`` on
every primary. Between the first and the last step the slot is split over two nodes: the
old one answers ASK for a key it no longer holds and TRYAGAIN for a command whose keys
are on both; afterwards a client whose slot map is stale is answered MOVED. kairos must
store every point once and read every stored point, whichever of them it meets.
"""
import gevent
import pytest
import redis

from tests.functional.test_karbon import BASE_TS
from tests.functional.test_redis_cluster_failover import private_cluster

HOUR = BASE_TS - BASE_TS % 3600
INTERVALS = {"second": {"step": 1}, "hour": {"step": 3600}}
BEFORE = 300  # seconds written before the slot moves: as many keys to migrate


@pytest.fixture
def cluster(tmp_path):
    yield from private_cluster(tmp_path, 5000)


def node_client(node):
    return redis.Redis(host=node.host, port=node.port, socket_timeout=10)


def node_id(node):
    return node_client(node).execute_command("CLUSTER MYID").decode()


def begin_move(slot, source, target):
    node_client(target).execute_command("CLUSTER SETSLOT", slot, "IMPORTING", node_id(source))
    node_client(source).execute_command("CLUSTER SETSLOT", slot, "MIGRATING", node_id(target))


def move_keys(slot, source, target, per_call=10, pause=0.0):
    """MIGRATE the slot's keys from ``source`` to ``target``, ``per_call`` at a time; returns
    how many moved."""
    moved = 0
    client = node_client(source)
    while True:
        keys = client.execute_command("CLUSTER GETKEYSINSLOT", slot, per_call)
        if not keys:
            return moved
        client.execute_command("MIGRATE", target.host, target.port, "", 0, 10000, "KEYS", *keys)
        moved += len(keys)
        gevent.sleep(pause)


def end_move(slot, target, primaries):
    """``SETSLOT NODE`` on the new owner first, then on every other primary (as redis-cli)."""
    owner = node_id(target)
    for node in [target] + [n for n in primaries if n.name != target.name]:
        node_client(node).execute_command("CLUSTER SETSLOT", slot, "NODE", owner)


def move_slot(slot, source, target, primaries, pause=0.0):
    begin_move(slot, source, target)
    moved = move_keys(slot, source, target, pause=pause)
    end_move(slot, target, primaries)
    return moved


def keys_in_slot(node, slot):
    return node_client(node).execute_command("CLUSTER COUNTKEYSINSLOT", slot)


def asking_calls(node):
    return node_client(node).info("commandstats").get("cmdstat_asking", {}).get("calls", 0)


def layout(ts, name):
    """The slot of ``name``'s keys, its primary and another primary."""
    slot = ts.keys.slots[ts.keys.shard(name)]
    source = ts.client.nodes_manager.get_node_from_slot(slot)
    primaries = ts.client.get_primaries()
    target = next(node for node in primaries if node.name != source.name)
    return slot, source, target, primaries


def open_series(cluster, prefix):
    from kairos import Timeseries
    return Timeseries(cluster.url, type="count", intervals=INTERVALS, prefix=prefix,
                      layout="key",  # a key per bucket: many keys in the slot that moves
                      client_config={"socket_timeout": 5})


def test_a_slot_moves_while_kairos_writes_and_reads_it(cluster, unique_name):
    """Writes and reads go on through the ASK/TRYAGAIN window: every batch is applied once,
    and every read holds at least what was acknowledged before it and no more than was sent."""
    ts = open_series(cluster, unique_name)
    name, elsewhere = "moving", "staying"
    slot, source, target, primaries = layout(ts, name)
    assert ts.keys.slots[ts.keys.shard(elsewhere)] != slot
    ts.bulk_insert({HOUR + second: {name: [1], elsewhere: [1]} for second in range(BEFORE)})
    state = {"sent": BEFORE, "acknowledged": BEFORE, "writing": True}
    reads = []
    asking_before = asking_calls(target)

    def write():
        while state["writing"]:
            second = state["sent"]
            state["sent"] += 1
            ts.bulk_insert({HOUR + second: {name: [1], elsewhere: [1]}}, batch_id="b%d" % second)
            state["acknowledged"] += 1
            gevent.sleep(0.01)

    def read():
        while state["writing"]:
            low, high = state["acknowledged"], None
            hour = ts.get(name, "hour", timestamp=HOUR).get(HOUR, 0)
            seconds = ts.series(name, "second", start=HOUR, end=HOUR + 3599)
            high = state["sent"]
            reads.append((low, hour, sum(v or 0 for v in seconds.values()), high,
                          set(seconds.values()) - {0, 1}))  # 0: no point yet
            gevent.sleep(0.01)

    workers = [gevent.spawn(write), gevent.spawn(read)]
    try:
        gevent.sleep(0.3)
        moved = move_slot(slot, source, target, primaries, pause=0.02)
        gevent.sleep(0.5)  # on after the move: MOVED, then the new owner
    finally:
        state["writing"] = False
        gevent.joinall(workers, timeout=60, raise_error=True)

    assert moved >= BEFORE  # every second's key (and the hour's, and markers) moved
    assert asking_calls(target) > asking_before  # the ASK window was met, not skipped
    assert keys_in_slot(source, slot) == 0 and keys_in_slot(target, slot) > BEFORE
    assert ts.client.nodes_manager.get_node_from_slot(slot).name == target.name
    assert len(reads) > 10
    bad = [r for r in reads if not (r[0] <= r[1] <= r[3] and r[0] <= r[2] <= r[3]) or r[4]]
    assert not bad, bad[:5]
    sent = state["sent"]
    assert state["acknowledged"] == sent
    assert ts.get(name, "hour", timestamp=HOUR)[HOUR] == sent
    assert ts.get(elsewhere, "hour", timestamp=HOUR)[HOUR] == sent
    seconds = ts.series(name, "second", start=HOUR, end=HOUR + sent - 1)
    assert list(seconds.values()) == [1] * sent  # each point once
    assert ts.properties(name)["second"] == {"first": HOUR, "last": HOUR + sent - 1}
    ts.delete_all()
    ts.close()


def test_a_client_with_a_stale_slot_map_follows_moved(cluster, unique_name):
    """The slot moved while a client was idle: its writes, reads, properties, deletes and
    lists reach the new owner (MOVED, or a scan that does not trust the old map)."""
    writer = open_series(cluster, unique_name)
    name = "moved"
    slot, source, target, primaries = layout(writer, name)
    writer.bulk_insert({HOUR + second: {name: [1]} for second in range(60)}, batch_id="first")
    stale = {purpose: open_series(cluster, unique_name)
             for purpose in ("write", "read", "properties", "list", "delete")}
    for ts in stale.values():  # each has read the map, with the slot on the old primary
        assert ts.client.nodes_manager.get_node_from_slot(slot).name == source.name

    assert move_slot(slot, source, target, primaries) >= 60
    assert keys_in_slot(source, slot) == 0

    stale["write"].bulk_insert({HOUR + 60: {name: [1]}}, batch_id="second")
    stale["write"].bulk_insert({HOUR + 60: {name: [1]}}, batch_id="second")  # a retry: no-op
    assert stale["read"].get(name, "hour", timestamp=HOUR) == {HOUR: 61}
    assert list(stale["read"].series(name, "second", start=HOUR, end=HOUR + 60).values()) == \
        [1] * 61
    assert stale["properties"].properties(name)["second"] == {"first": HOUR, "last": HOUR + 60}
    assert stale["list"].list() == [name]
    stale["delete"].delete(name)
    assert keys_in_slot(target, slot) == 2  # the markers of the two batches, nothing else
    assert writer.list() == []
    for ts in stale.values():
        ts.close()
    writer.delete_all()
    writer.close()


def test_a_slot_left_half_moved_is_read_and_deleted_whole(cluster, unique_name):
    """A migration stopped halfway (redis-cli killed mid-reshard): the stat's keys are on
    two nodes, multi-key commands get TRYAGAIN for as long as it lasts. Reads, properties
    and deletes still see every key; a write of keys on both nodes waits, then fails."""
    from kairos import BackendError
    ts = open_series(cluster, unique_name)
    name = "halfway"
    slot, source, target, primaries = layout(ts, name)
    ts.bulk_insert({HOUR + second: {name: [1]} for second in range(100)})
    begin_move(slot, source, target)
    client = node_client(source)
    keys = client.execute_command("CLUSTER GETKEYSINSLOT", slot, 50)
    client.execute_command("MIGRATE", target.host, target.port, "", 0, 10000, "KEYS", *keys)
    assert keys_in_slot(source, slot) > 0 and keys_in_slot(target, slot) == 50
    asking = asking_calls(target)

    assert list(ts.series(name, "second", start=HOUR, end=HOUR + 99).values()) == [1] * 100
    assert ts.get(name, "hour", timestamp=HOUR) == {HOUR: 100}
    assert asking_calls(target) > asking  # the moved keys were read where they are now
    assert ts.properties(name) == {"second": {"first": HOUR, "last": HOUR + 99},
                                   "hour": {"first": HOUR, "last": HOUR}}
    assert ts.list() == [name]
    with pytest.raises(BackendError, match="TRYAGAIN|Multiple keys"):
        ts.bulk_insert({HOUR + second: {name: [1]} for second in range(100)}, batch_id="split")
    ts.delete(name)
    assert keys_in_slot(source, slot) + keys_in_slot(target, slot) == 0
    assert ts.list() == []
    end_move(slot, target, primaries)
    ts.close()
