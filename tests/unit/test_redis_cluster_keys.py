"""The Redis Cluster key layout and URLs: pure, no server."""
import pytest
from redis.crc import key_slot

from kairos import registry
from kairos.backends.redis_cluster import parse_url
from kairos.backends.redis_cluster_keys import ShardedKeyScheme
from kairos.exceptions import ConfigError
from kairos.intervals import parse_intervals

INTERVALS = parse_intervals({"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}})


def test_every_key_of_a_stat_lies_in_the_slot_of_its_shard():
    keys = ShardedKeyScheme("stats", INTERVALS)
    shard = keys.shard("web.hits")
    made = [keys.key("web.hits", "minute", 100), keys.key("web.hits", "hour", 1, 60),
            keys.marker("b1", shard), keys.key_base("web.hits", "minute") + "5"]
    assert made[0] == "stats:{%d}web.hits:minute:100" % shard
    assert {key_slot(key.encode()) for key in made} == {keys.slots[shard]}


def test_parse_takes_back_only_keys_whose_tag_is_their_shard():
    keys = ShardedKeyScheme("p", INTERVALS)
    key = keys.key("a:b{c}", "hour", 0, 59)
    assert keys.parse(key) == ("a:b{c}", "hour", 0, 59)
    wrong = "p:{%d}a%%3Ab{c}:hour:0:59" % ((keys.shard("a:b{c}") + 1) % keys.shards)
    assert keys.parse(wrong) is None
    assert keys.parse(keys.marker("b", 3)) is None
    assert keys.parse("p:a:minute:0") is None  # a single-Redis key
    assert keys.pattern_slot(keys.name_pattern("x")) == keys.slots[keys.shard("x")]
    assert keys.pattern_slot(keys.all_pattern()) is None


@pytest.mark.parametrize("prefix", ["a{b", "c}"])
def test_a_prefix_with_braces_is_refused(prefix):
    with pytest.raises(ConfigError, match="cannot hold"):
        ShardedKeyScheme(prefix, INTERVALS)


def test_cluster_urls():
    first, others = parse_url("redis+cluster://u:pw@h1:7000,h2,[::1]:7002/0?socket_timeout=2")
    assert first == "redis://u:pw@h1:7000/0?socket_timeout=2"
    assert [(n.host, n.port) for n in others] == [("h2", 6379), ("::1", 7002)]
    assert parse_url("rediss+cluster://h:1")[0] == "rediss://h:1"
    assert registry.engine_for("redis+cluster://h:1").__name__ == "RedisClusterTimeseries"
    with pytest.raises(ConfigError):
        parse_url("redis://h:1")
