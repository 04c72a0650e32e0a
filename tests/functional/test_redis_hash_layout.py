"""``layout='hash'`` of the Redis engine against a real server: what it stores and how.

The contract suite runs on this layout too (backend ``redis-hash``); these tests look
at the keys themselves: window hashes, a field per bucket, the window's EXPIREAT, the
float switch of counts, refusals, exactly-once batches, and the window hashes on a
Redis Cluster (behind their stat's shard tag).
"""
import calendar
import time

import pytest

from kairos import ConfigError, PartiallyStored, Timeseries
from kairos.backends.redis_keys import WINDOW
from tests.functional.test_redis_engine import prefix, raw, url  # noqa: F401 (fixtures)

MINUTE = {"minute": {"step": 60, "steps": 1000}}


@pytest.fixture
def make(url, prefix):
    def build(type, intervals=MINUTE, **options):
        options.setdefault("prefix", prefix)
        options.setdefault("layout", "hash")
        return Timeseries(url, type=type, intervals=intervals, **options)
    return build


def data_keys(raw, prefix):
    return sorted(k for k in raw.scan_iter(match=prefix + "*", count=1000)
                  if not k.endswith(("!names", "!layout")))


def test_counts_are_fields_of_window_hashes_with_one_expiry_each(make, raw, prefix):
    now = time.time()
    base = int(now // 60) - int(now // 60) % WINDOW  # the first minute of a window
    counts = make("count")
    counts.bulk_insert({(base + i) * 60: {"hits": [1, 2]} for i in range(WINDOW + 1)})
    hash_a, hash_b = "%s:hits:minute:#%d" % (prefix, base), "%s:hits:minute:#%d" % (prefix, base + WINDOW)
    assert data_keys(raw, prefix) == sorted([hash_a, hash_b])
    assert raw.type(hash_a) == "hash" and raw.hlen(hash_a) == WINDOW and raw.hlen(hash_b) == 1
    assert raw.hget(hash_a, str(base)) == "3"
    # the hash lives until the last bucket of its window leaves retention
    assert raw.expiretime(hash_a) == (base + WINDOW - 1 + 1000) * 60
    assert raw.expiretime(hash_b) == (base + 2 * WINDOW - 1 + 1000) * 60
    assert counts.get("hits", "minute", timestamp=(base + 5) * 60) == {(base + 5) * 60: 3}


def test_a_hash_gets_its_expireat_once_and_again_after_a_delete(make, raw, prefix):
    from kairos.backends import redis_store
    now = time.time()
    counts = make("count")
    key = "%s:c:minute:#%d" % (prefix, int(now // 60) - int(now // 60) % WINDOW)
    counts.insert("c", 1, timestamp=now)
    expires = raw.expiretime(key)
    raw.persist(key)  # were the EXPIREAT sent again, it would come back
    counts.insert("c", 1, timestamp=now)
    assert raw.ttl(key) == -1
    counts.delete("c")
    counts.insert("c", 1, timestamp=now)
    assert raw.expiretime(key) == expires
    raw.persist(key)
    clock = [0.0]
    memory = counts._expiring = redis_store.ExpiryMemory(60, clock=lambda: clock[0])
    counts.insert("c", 1, timestamp=now)  # a new memory: sent
    assert raw.expiretime(key) == expires
    raw.persist(key)
    clock[0] = 61
    counts.insert("c", 1, timestamp=now)  # still remembered: one more generation
    assert raw.ttl(key) == -1 and key in memory
    raw.persist(key)
    clock[0] = 122
    counts.insert("c", 1, timestamp=now)  # 2 generations later: sent again
    counts.insert("c", 1, timestamp=now)
    assert raw.expiretime(key) == expires


def test_counts_go_on_as_floats_and_gauges_are_set(make, raw, prefix):
    counts = make("count", {"minute": {"step": 60}})
    counts.insert("c", 2, timestamp=600)
    counts.insert("c", 0.5, timestamp=600)
    counts.insert("c", 1, timestamp=600)
    assert counts.get("c", "minute", timestamp=600) == {600: 3.5}
    assert raw.ttl("%s:c:minute:#0" % prefix) == -1  # no steps: no expiry
    gauges = make("gauge", {"minute": {"step": 60}}, prefix=prefix + "g")
    gauges.insert("g", "7", timestamp=600)
    gauges.insert("g", "9", timestamp=600)
    assert gauges.get("g", "minute", timestamp=600) == {600: "9"}
    assert raw.hgetall("%sg:g:minute:#0" % prefix) == {"10": "9"}


def test_resolution_buckets_are_fields_and_properties_span_the_windows(make, raw, prefix):
    counts = make("count", {"hour": {"step": 3600, "resolution": 60}})
    counts.insert("c", 1, timestamp=60)
    counts.insert("c", 1, timestamp=3 * 3600 + 120)
    assert raw.hgetall("%s:c:hour:#0" % prefix) == {"1": "1"}
    assert raw.hgetall("%s:c:hour:#100" % prefix) == {"182": "1"}
    assert counts.properties("c")["hour"] == {"first": 0, "last": 3 * 3600}
    assert counts.get("c", "hour", timestamp=3 * 3600, condensed=True) == {3 * 3600: 1}
    assert counts.list() == ["c"]
    counts.delete("c")
    assert data_keys(raw, prefix) == []


def test_gregorian_windows_hold_a_month_of_days(make, raw, prefix):
    counts = make("count", {"daily": {"step": "daily", "steps": 10}})
    day = int(time.time() // 86400 * 86400)
    counts.insert("c", 1, timestamp=day)
    today = int(time.strftime("%Y%m%d", time.gmtime(day)))
    key = "%s:c:daily:#%d" % (prefix, today - today % 100)
    assert raw.hgetall(key) == {str(today): "1"}
    # the start of the 10th day after the last day of the month (as expires_at of that day)
    year, month = divmod(today // 100, 100)
    next_month = calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))
    assert raw.expiretime(key) == next_month + 9 * 86400


def test_a_hash_of_another_type_refuses_its_writes_alone(make, raw, prefix):
    counts = make("count", {"minute": {"step": 60}})
    raw.set("%s:bad:minute:#0" % prefix, "not a hash")
    with pytest.raises(PartiallyStored, match="WRONGTYPE") as caught:
        counts.bulk_insert({60: {"bad": [1], "good": [2]}})
    assert [refused[0] for refused in caught.value.refused] == [("bad", "minute", 1, None)]
    assert counts.get("good", "minute", timestamp=60) == {60: 2}


def test_a_refusal_inside_a_group_names_its_own_buckets(make, raw, prefix):
    # the writes of a bucket in many hashes go as one group; a hash of another type in the
    # middle of it refuses its own writes, named by bucket and values, and nothing else
    counts = make("count", {"minute": {"step": 60, "steps": 100}, "hour": {"step": 3600}})
    minute = int(time.time() // 60)
    first = minute - minute % 100  # the first minute of a window, within retention
    raw.set("%s:n5:minute:#%d" % (prefix, first), "not a hash")
    names = ["n%d" % i for i in range(10)]
    with pytest.raises(PartiallyStored, match="WRONGTYPE") as caught:
        counts.bulk_insert({first * 60: {name: [1, 2] for name in names},
                            first * 60 + 60: {name: [3] for name in names}})
    assert sorted((bucket, held) for bucket, held, _ in caught.value.refused) == [
        (("n5", "minute", first, None), 2), (("n5", "minute", first + 1, None), 1)]
    hour = first * 60 // 3600
    for name in names:
        if name != "n5":  # (its minute hash is the string set above)
            assert counts.series(name, "minute", start=first * 60, end=first * 60 + 60) == {
                first * 60: 3, first * 60 + 60: 3}
        assert sum(counts.series(name, "hour", start=hour * 3600,
                                 end=hour * 3600 + 3600).values()) == 6
    assert raw.ttl("%s:n4:minute:#%d" % (prefix, first)) > 0


def test_a_batch_id_applies_a_batch_once(make, raw, prefix):
    counts = make("count", {"minute": {"step": 60}})
    for _ in range(3):
        counts.bulk_insert({60: {"c": [1, 1]}}, batch_id="b1")
    assert counts.get("c", "minute", timestamp=60) == {60: 2}


def test_types_without_a_field_encoding_keep_a_key_per_bucket(make, raw, prefix):
    series = make("series", {"minute": {"step": 60}})
    series.insert("s", 1, timestamp=60)
    assert data_keys(raw, prefix) == ["%s:s:minute:1" % prefix]


def test_bad_layouts_are_refused(url, unique_name):
    with pytest.raises(ConfigError, match="layout"):
        Timeseries(url, type="count", intervals=MINUTE, prefix=unique_name, layout="window")


def test_on_a_cluster_window_hashes_carry_their_stats_shard_tag(redis_cluster_url, unique_name):
    from redis.crc import key_slot
    ts = Timeseries(redis_cluster_url, type="count", intervals={"minute": {"step": 60}},
                    prefix=unique_name, layout="hash")
    names = ["stat%d" % n for n in range(40)]
    ts.bulk_insert({60: {name: [n + 1] for n, name in enumerate(names)},
                    120: {name: [1] for name in names}}, batch_id="cluster.1")
    ts.bulk_insert({60: {name: [n + 1] for n, name in enumerate(names)}}, batch_id="cluster.1")
    client = ts.client  # the engine's own RedisCluster client, as an operator's would
    try:
        nodes = set()
        for n, name in enumerate(names):
            key = "%s:{%d}%s:minute:#0" % (unique_name, ts.keys.shard(name), name)
            assert client.hgetall(key) == {"1": str(n + 1), "2": "1"}  # a field per bucket, once
            nodes.add(client.get_node_from_key(key).name)
            assert key_slot(key.encode()) == key_slot(b"%d" % ts.keys.shard(name))
        assert len(nodes) > 1  # the batch's writes went to several primaries
        assert ts.series("stat3", "minute", start=60, end=120) == {60: 4, 120: 1}
        assert sorted(ts.list()) == sorted(names)
        ts.delete("stat3")
        assert client.exists("%s:{%d}stat3:minute:#0" % (unique_name, ts.keys.shard("stat3"))) == 0
    finally:
        ts.delete_all()
        ts.close()


def test_a_custom_fetch_is_refused(make):
    counts = make("count", {"minute": {"step": 60}})
    with pytest.raises(ConfigError, match="fetch"):
        counts.get("c", "minute", timestamp=60, fetch=lambda handle, key: handle.get(key))


@pytest.mark.parametrize("cache", [0, 3, 100000])
def test_window_hashes_remembered_between_batches_change_nothing_written(make, raw, prefix,
                                                                          monkeypatch, cache):
    """The write path keeps each window hash's key and EXPIREAT from batch to batch (emptied
    past ``KEY_CACHE`` entries): the keys, fields, values and expiries are those of the
    hashes' own rules, whatever the cache holds."""
    from kairos.backends import redis_store
    monkeypatch.setattr(redis_store, "KEY_CACHE", cache)
    intervals = {"minute": {"step": 60, "steps": 1000}, "10s": {"step": 10, "steps": 50},
                 "hour": {"step": 3600}}
    now = time.time()
    gauges = make("gauge", intervals=intervals)
    first = int(now // 60) * 60 - 3 * WINDOW * 60
    for batch in range(4):  # names and windows met again, new ones, and some past retention
        gauges.bulk_insert({first + (batch * 37 + i) * 60: {"g%d" % (i % 5): [i + batch / 4]}
                            for i in range(0, 2 * WINDOW, 7)}, now=now)
    stored = {}
    for key in data_keys(raw, prefix):
        stored[key] = (raw.hgetall(key), raw.expiretime(key))
    expected = {}
    for batch in range(4):
        for i in range(0, 2 * WINDOW, 7):
            stamp = first + (batch * 37 + i) * 60
            for interval, config in intervals.items():
                step, steps = config["step"], config.get("steps")
                fine = int(stamp // step)
                if steps is not None and (fine + steps) * step <= now:
                    continue  # past retention: not written
                window = fine - fine % WINDOW
                key = "%s:g%d:%s:#%d" % (prefix, i % 5, interval, window)
                end = -1 if steps is None else (window + WINDOW - 1 + steps) * step
                expected.setdefault(key, ({}, end))[0][str(fine)] = repr(i + batch / 4)
    assert stored == expected


def test_the_last_window_of_the_calendar_ends_at_year_9999(make, raw, prefix):
    """A monthly window holding the last months a calendar has (a bucket's neighbour past
    9999-12 does not exist): stored and read, not a ValueError."""
    counts = make("count", {"monthly": {"step": "monthly", "steps": 2}})
    august = calendar.timegm((9999, 8, 1, 0, 0, 0))
    counts.insert("c", 1, timestamp=august)
    assert raw.hgetall("%s:c:monthly:#999900" % prefix) == {"999908": "1"}
    assert raw.ttl("%s:c:monthly:#999900" % prefix) == -1  # its retention ends past the calendar
    assert counts.get("c", "monthly", timestamp=august) == {august: 1}
