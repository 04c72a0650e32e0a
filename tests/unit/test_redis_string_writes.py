"""Counts and gauges of the key layout built list by list (``_string_writes``) send what a
write per bucket sends: ``layout.writer`` with ``keys.key`` of each bucket, the reference.

Keys, sizes and buckets must be the same, and the arguments must pack to the same bytes
(hiredis and redis-py pack an int as ``str`` and a float as ``repr``). No server is needed:
nothing is sent."""
from decimal import Decimal

import pytest

from kairos import Timeseries
from kairos.backends import redis_bulk, redis_store, redis_wire
from kairos.backends.redis_cluster_keys import ShardedKeyScheme
from kairos.exceptions import InvalidValue

INTERVALS = {"10s": {"step": 10, "steps": 360}, "minute": {"step": 60, "steps": 10},
             "hour": {"step": 3600, "resolution": 60}, "day": {"step": 86400}}
NOW = 1_700_000_000.0


def reference(ts, batch, now):
    writes, buckets = redis_bulk.Writes(), []
    put = ts.layout.writer(writes, buckets)
    for bucket, data in batch.items():
        name, interval, i_key, r_key = bucket
        expires = ts.intervals[interval].expires_at(i_key)
        if expires is not None and expires <= now:
            continue
        put(bucket, ts.keys.key(name, interval, i_key, r_key), "" if expires is None else expires,
            data)
    return writes, buckets


VALUES = {"gauge": [1.5, 0.1 + 0.2, 7, "text", Decimal("2.25"), -0.0, 1e300],
          "count": [1, 5, -3, 2 ** 63, 2.5, Decimal("1.5"), 0]}


@pytest.mark.parametrize("type_name", ["gauge", "count"])
@pytest.mark.parametrize("cache", [0, 100000])
def test_list_by_list_writes_pack_to_the_bytes_of_a_write_per_bucket(type_name, cache, monkeypatch):
    monkeypatch.setattr(redis_store, "KEY_CACHE", cache)
    ts = Timeseries("redis://127.0.0.1:6379/14", type=type_name, intervals=INTERVALS,
                    prefix="t", layout="key")
    values = VALUES[type_name]
    for round in range(3):  # key bases met again, and new ones
        inserts = {NOW - 600 * j - 7 * round: {"a.b%d" % (j % 3): [values[(j + round) % len(values)]],
                                               "x:y{z}": values[:2] if type_name == "count" else
                                               [values[j % len(values)]]}
                   for j in range(8)}  # some of the older ones are past the minute's retention
        batch = ts._aggregate(inserts, 0, NOW)
        writes, buckets = ts._writes(batch, NOW)
        want, want_buckets = reference(ts, batch, NOW)
        assert (writes.keys, writes.sizes, list(buckets)) == (want.keys, want.sizes, want_buckets)
        assert len(buckets) < len(batch)  # past retention: left out
        assert redis_wire.pack([("EVAL", *writes.args)]) == redis_wire.pack([("EVAL", *want.args)])
    ts.close()


def test_a_bad_gauge_is_refused_before_anything_is_built():
    ts = Timeseries("redis://127.0.0.1:6379/14", type="gauge", intervals=INTERVALS, prefix="t")
    with pytest.raises(InvalidValue):
        ts._writes({("a", "day", 1, None): 1.5, ("b", "day", 1, None): [1]}, NOW)
    ts.close()


def test_a_key_base_and_a_bucket_suffix_make_the_bucket_key_on_a_cluster_too():
    from kairos.intervals import Interval
    intervals = {name: Interval(name, config) for name, config in INTERVALS.items()}
    scheme = ShardedKeyScheme("p", intervals)
    for name in ("a", "b.c", "x:y{z}", "é"):
        assert scheme.key_base(name, "hour") + "12:700" == scheme.key(name, "hour", 12, 700)
        assert scheme.key_base(name, "day") + "12" == scheme.key(name, "day", 12)
