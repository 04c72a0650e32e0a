"""The Redis engine against a real server: keys, values, TTLs, pipelines, isolation, errors.

Runs on ``TEST_REDIS_URL`` (default redis://127.0.0.1:6379/15). Every test works
under its own unique prefix (or unique interval names) and removes what it wrote.
"""
import socket
import time

import gevent
import pytest
import redis

from kairos import BackendError, ConfigError, InvalidValue, PartiallyStored, Timeseries
from kairos.backends.redis_store import RedisTimeseries
from tests.conftest import require

MINUTE = {"minute": {"step": 60}}


@pytest.fixture
def url():
    return require("redis")


@pytest.fixture
def raw(url):
    """A plain client on the test database, to look at keys the way an operator would."""
    client = redis.Redis.from_url(url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def prefix(raw, unique_name):
    """A unique prefix; every key under it (ours or planted) is removed afterwards."""
    yield unique_name
    keys = list(raw.scan_iter(match=unique_name + "*", count=1000))
    if keys:
        raw.delete(*keys)


@pytest.fixture
def make(url, prefix):
    def build(type, intervals=MINUTE, **options):
        options.setdefault("prefix", prefix)
        options.setdefault("layout", "key")  # these tests look at the keys of the key layout
        return Timeseries(options.pop("client", url), type=type, intervals=intervals, **options)
    return build


def our_keys(raw, prefix):
    """The bucket keys under ``prefix`` (the name index ``{prefix}:!names`` and the layout
    marker ``{prefix}:!layout`` aside)."""
    return sorted(key for key in raw.scan_iter(match=prefix + "*", count=1000)
                  if not key.endswith((":!names", ":!layout")))


# -- layout and values ---------------------------------------------------------
def test_engine_and_key_scheme(make, raw, prefix):
    series = make("series", {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}})
    assert isinstance(series, RedisTimeseries) and series.prefix == prefix + ":"
    series.insert("web.hits", 1, timestamp=7260)
    assert our_keys(raw, prefix) == ["%s:web.hits:hour:2:121" % prefix, "%s:web.hits:minute:121" % prefix]
    assert raw.type("%s:web.hits:minute:121" % prefix) == "list"


@pytest.mark.parametrize("type, structure", [("series", "list"), ("histogram", "hash"),
                                             ("count", "string"), ("gauge", "string"), ("set", "set")])
def test_each_type_uses_its_native_structure(make, raw, prefix, type, structure):
    make(type).insert("s", 3, timestamp=60)
    assert raw.type("%s:s:minute:1" % prefix) == structure


def test_values_are_strings_with_ints_kept_and_float_precision(make, raw, prefix):
    series = make("series")
    series.insert("s", [5, 0.1, 2.5, 1e16, "text"], timestamp=60)
    assert raw.lrange("%s:s:minute:1" % prefix, 0, -1) == ["5", "0.1", "2.5", "1e+16", "text"]
    assert series.get("s", "minute", timestamp=60) == {60: ["5", "0.1", "2.5", "1e+16", "text"]}
    typed = make("series", read_func=float, prefix=prefix + "f")
    typed.insert("s", [5, 0.1], timestamp=60)
    assert typed.get("s", "minute", timestamp=60) == {60: [5.0, 0.1]}
    typed.delete_all()


def test_histogram_counts_occurrences(make, raw, prefix):
    hist = make("histogram", read_func=float)
    hist.insert("h", [1, 1, 2.5], timestamp=60)
    hist.bulk_insert({61: {"h": [1, 3]}})
    assert raw.hgetall("%s:h:minute:1" % prefix) == {"1": "3", "2.5": "1", "3": "1"}
    assert hist.get("h", "minute", timestamp=60) == {60: {1.0: 3, 2.5: 1, 3.0: 1}}


def test_counts_are_numbers_and_ints_stay_ints(make, raw, prefix):
    count = make("count")
    count.insert("c", 5, timestamp=60)
    count.insert("c", timestamp=60)
    assert raw.get("%s:c:minute:1" % prefix) == "6"
    assert count.get("c", "minute", timestamp=60) == {60: 6}
    count.insert("c", 0.5, timestamp=60)
    assert count.get("c", "minute", timestamp=60) == {60: 6.5}
    # an INCRBY on a count holding a float fails in Redis; the engine redoes it as INCRBYFLOAT
    count.insert("c", 2, timestamp=60)
    assert raw.get("%s:c:minute:1" % prefix) == "8.5"
    assert count.series("c", "minute", start=0, end=120) == {0: 0, 60: 8.5, 120: 0}


def test_gauge_and_set(make, prefix):
    gauge = make("gauge")
    gauge.bulk_insert({60: {"g": [1, 2]}, 61: {"g": ["last"]}})
    assert gauge.get("g", "minute", timestamp=60) == {60: "last"}
    assert gauge.get("g", "minute", timestamp=0) == {0: None}
    members = make("set", prefix=prefix + "s")
    members.insert("s", [1, "a", 1], timestamp=60)
    assert members.get("s", "minute", timestamp=60) == {60: {"1", "a"}}
    members.delete_all()


def test_unstorable_value_writes_nothing(make, raw, prefix):
    series = make("series")
    for bad in (True, {"a": 1}, [[1]]):
        with pytest.raises(InvalidValue):
            series.bulk_insert({60: {"good": [1], "bad": [bad]}})
    with pytest.raises(InvalidValue):
        make("count").insert("c", float("nan"), timestamp=60)
    assert our_keys(raw, prefix) == []


def test_names_with_colons_are_escaped(make, raw, prefix):
    series = make("series")
    series.insert("a:b", 1, timestamp=60)
    series.insert("100%", 2, timestamp=60)
    assert our_keys(raw, prefix) == ["%s:100%%25:minute:1" % prefix, "%s:a%%3Ab:minute:1" % prefix]
    assert series.list() == ["100%", "a:b"]
    assert series.get("a:b", "minute", timestamp=60) == {60: ["1"]}


def test_resolution_reads_only_buckets_holding_data(make):
    count = make("count", {"hour": {"step": 3600, "resolution": 60}})
    count.bulk_insert({60: {"c": [1]}, 200: {"c": [2, 3]}, 3600: {"c": [7]}})
    assert count.get("c", "hour", timestamp=0) == {60: 1, 180: 5}
    assert count.get("c", "hour", timestamp=0, condense=True) == {0: 6}
    assert count.series("c", "hour", start=0, end=3600, condense=True) == {0: 6, 3600: 7}


# -- retention -----------------------------------------------------------------
def assert_expires(raw, key, expires_at, written_after):
    """The key's TTL ends at ``expires_at``: the TTL read back (in ms) is what was left of it
    between just before and just after the read, however long the write took on a busy
    machine (same host: one clock); ``written_after`` bounds the expiry from below."""
    before = time.time()
    ttl_ms = raw.pttl(key)
    after = time.time()
    assert expires_at > written_after
    assert (expires_at - after) * 1000 - 5 <= ttl_ms <= (expires_at - before) * 1000 + 5


def test_keys_expire_at_the_end_of_their_retention(make, raw, prefix):
    series = make("series", {"minute": {"step": 60, "steps": 5}, "hour": {"step": 3600},
                             "day": {"step": "daily", "steps": 2, "resolution": 3600}})
    now = time.time()
    series.insert("s", 1, timestamp=now)
    minute = series.intervals["minute"]
    assert_expires(raw, "%s:s:minute:%d" % (prefix, now // 60),
                   minute.expires_at(minute.step.to_bucket(now)), now)
    assert raw.ttl("%s:s:hour:%d" % (prefix, now // 3600)) == -1  # no steps: kept forever
    day = series.intervals["day"]
    (day_key,) = raw.scan_iter(match=prefix + ":s:day:*")
    assert_expires(raw, day_key, day.expires_at(day.step.to_bucket(now)), now)


def test_copies_take_their_bucket_ttl_and_expired_copies_are_skipped(make, raw, prefix):
    count = make("count", {"minute": {"step": 60, "steps": 3}})
    now = time.time()
    current = int(now // 60)
    count.insert("c", 1, timestamp=now, intervals=-5)
    count.insert("c", 1, timestamp=now, intervals=2)
    present = {int(key.rsplit(":", 1)[1]): key for key in our_keys(raw, prefix)}
    # retention keeps the current bucket and the two before it; older copies are never written
    assert sorted(present) == [current - 2, current - 1, current, current + 1, current + 2]
    for bucket, key in present.items():
        assert_expires(raw, key, (bucket + 3) * 60, now)


def test_write_already_past_retention_is_not_stored(make, raw, prefix):
    count = make("count", {"minute": {"step": 60, "steps": 3}})
    count.insert("c", 1, timestamp=time.time() - 3600)
    assert our_keys(raw, prefix) == []


def test_expire_is_a_harmless_no_op(make, raw, prefix):
    count = make("count", {"minute": {"step": 60, "steps": 3}})
    count.insert("c", 1)
    assert count.expire("c") is None
    assert len(our_keys(raw, prefix)) == 1


# -- pipelines and round trips ----------------------------------------------------
def test_caller_pipeline_is_not_executed(make, raw, prefix):
    count = make("count")
    pipe = raw.pipeline(transaction=False)
    count.insert("c", 2, timestamp=60, pipeline=pipe)
    count.bulk_insert({60: {"c": [3], "d": [1]}}, pipeline=pipe)
    assert len(pipe) == 5  # 3 INCRBY and, for the new names c then d, a ZADD to the index
    assert our_keys(raw, prefix) == []
    pipe.execute()
    assert count.get("c", "minute", timestamp=60) == {60: 5}
    assert count.get("d", "minute", timestamp=60) == {60: 1}


def test_unknown_write_option_is_refused(make):
    with pytest.raises(ConfigError, match="transaction"):
        make("count").insert("c", 1, transaction=True)


class CountingConnection(redis.Connection):
    """A real connection that counts what it sends: one send is one round trip."""

    sends = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sends += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def counted(url):
    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection, decode_responses=True)
    client = redis.Redis(connection_pool=pool)
    client.ping()  # connection set-up (HELLO, CLIENT SETINFO) is not part of what we count
    yield client
    client.close()


def round_trips(work):
    before = CountingConnection.sends
    work()
    return CountingConnection.sends - before


def test_bulk_insert_is_one_round_trip(make, counted, raw, prefix):
    intervals = {"minute": {"step": 60, "steps": 10}, "hour": {"step": 3600, "resolution": 60}}
    series = make("series", intervals, client=counted)
    now = time.time() // 60 * 60 + 30  # the 50 timestamps below always span two minutes
    inserts = {now - i: {"s%d" % n: [i, n] for n in range(20)} for i in range(50)}
    assert round_trips(lambda: series.bulk_insert(inserts)) == 1
    assert len(our_keys(raw, prefix)) == 80  # 20 names x 2 minutes x (minute key + resolution key)
    assert round_trips(lambda: series.insert("s0", 1, intervals=3)) == 1


def test_series_read_is_one_round_trip(make, counted):
    count = make("count", {"hour": {"step": 3600, "resolution": 60}}, client=counted)
    count.bulk_insert({t: {"c": [1]} for t in range(0, 36000, 600)})
    data = {}
    assert round_trips(lambda: data.update(count.series("c", "hour", start=0, end=35999))) == 1
    assert len(data) == 10 and all(len(row) == 6 for row in data.values())


@pytest.mark.parametrize("type_, layout", [("count", "key"), ("gauge", "key"), ("count", "hash"),
                                           ("gauge", "hash")])
def test_dashboard_of_fifty_stats_is_one_round_trip(make, counted, type_, layout):
    """50 stats x 48 hours (2,400 buckets, a window hash boundary crossed in the hash
    layout) are read with one round trip, and answer as ``series`` of each name does."""
    ts = make(type_, {"hour": {"step": 3600}}, client=counted, layout=layout)
    names = ["s%02d" % n for n in range(50)]
    start = 3600 * 90  # hour keys 90..137 straddle the window of 100
    ts.bulk_insert({start + 3600 * h: {name: [n * h + 1] for n, name in enumerate(names)
                                       if (n + h) % 7}  # every stat has gaps, in turn
                    for h in range(48)})
    answers = []
    asked = names + ["never", "s01"]
    assert round_trips(lambda: answers.extend(
        ts.series_many(asked, "hour", start=start, end=start + 3600 * 47))) == 1
    assert answers == [ts.series(name, "hour", start=start, end=start + 3600 * 47) for name in asked]
    counts = type_ == "count"  # gauges without a read_func read back as text
    assert answers[3][start + 3600] == (4 if counts else "4")
    assert answers[-2][start] == (0 if counts else None)


def test_dashboard_read_error_leaves_no_reply_behind(make, raw, prefix):
    """A window hash holding another type fails the read (WRONGTYPE) with the replies of
    the other windows unread: the next read on the pool still gets its own answers."""
    count = make("count", {"hour": {"step": 3600}}, layout="hash")
    count.bulk_insert({3600 * 98: {"a": [1], "b": [2]}, 3600 * 101: {"a": [3], "b": [4]}})
    key = prefix + ":a:hour:#0"
    hash_fields = raw.hgetall(key)
    raw.delete(key)
    raw.set(key, "planted")
    with pytest.raises(BackendError, match="WRONGTYPE"):
        count.series_many(["a", "b"], "hour", start=3600 * 98, end=3600 * 101)
    raw.delete(key)
    raw.hset(key, mapping=hash_fields)
    for _ in range(3):
        assert count.series_many(["b", "a"], "hour", start=3600 * 98, end=3600 * 101) == [
            {3600 * 98: 2, 3600 * 99: 0, 3600 * 100: 0, 3600 * 101: 4},
            {3600 * 98: 1, 3600 * 99: 0, 3600 * 100: 0, 3600 * 101: 3}]


def test_dashboard_read_survives_dropped_connections(make, raw):
    count = make("count", {"hour": {"step": 3600}})
    count.bulk_insert({0: {"a": [1], "b": [2]}})
    for _ in range(3):
        assert count.series_many(["a", "b"], "hour", start=0, end=3600) == [{0: 1, 3600: 0},
                                                                           {0: 2, 3600: 0}]
        raw.client_kill_filter(_id=count.client.client_id())  # the pool's idle connection


def test_dashboard_read_without_decode_responses_gives_strings(url, make, prefix):
    client = redis.Redis.from_url(url)
    for layout in ("key", "hash"):  # a prefix each: a prefix holds one layout
        gauge = make("gauge", client=client, layout=layout, read_func=None, prefix=prefix + layout)
        gauge.bulk_insert({60: {"g": ["é"], "h": ["x"]}, 120: {"g": ["b"]}})
        assert gauge.series_many(["g", "h"], "minute", start=60, end=120) == [
            {60: "é", 120: "b"}, {60: "x", 120: None}]
    client.close()


# -- customised reads --------------------------------------------------------------
def test_fetch_runs_on_a_pipeline_and_its_reply_is_the_row(make):
    hist = make("histogram")
    hist.bulk_insert({60: {"h": [1, 2, 2]}, 180: {"h": [5]}})
    handles = []

    def distinct(handle, key):
        handles.append(handle)
        return handle.hlen(key)

    rows = hist.series("h", "minute", start=60, end=180, fetch=distinct, process_row=lambda n: n)
    assert rows == {60: 2, 120: {}, 180: 1}  # a bucket without data is the type's empty row
    assert all(isinstance(h, redis.client.Pipeline) for h in handles) and len(set(map(id, handles))) == 1


def test_fetch_with_resolution_and_literal_or_several_replies(make):
    series = make("series", {"hour": {"step": 3600, "resolution": 60}})
    series.bulk_insert({60: {"s": ["a", "b"]}, 120: {"s": ["c"]}})
    first_only = series.get("s", "hour", timestamp=0, fetch=lambda h, k: h.lrange(k, 0, 0))
    assert first_only == {60: ["a"], 120: ["c"]}
    literal = series.get("s", "hour", timestamp=0, fetch=lambda h, k: ["x"])
    assert literal == {60: ["x"], 120: ["x"]}
    both = series.get("s", "hour", timestamp=0, process_row=lambda row: row,
                      fetch=lambda h, k: (h.llen(k), h.lindex(k, -1)))
    assert both == {60: [2, "b"], 120: [1, "c"]}


# -- meta data, deletion and isolation ------------------------------------------------
def test_list_properties_delete(make):
    count = make("count", {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}})
    count.bulk_insert({60: {"a": [1], "b": [1]}, 7200: {"a": [1]}})
    assert count.list() == ["a", "b"]
    assert count.properties("a") == {"minute": {"first": 60, "last": 7200},
                                     "hour": {"first": 0, "last": 7200}}
    count.delete("a")
    assert count.list() == ["b"] and count.properties("a") == {}
    count.delete_all()
    assert count.list() == []


def test_prefix_isolation(make, raw, prefix):
    foreign = {
        prefix + "b:hits:minute:1": "1",            # prefix "<p>b:" is not "<p>:"
        prefix + ":hits:minute": "1",                # not our key scheme
        prefix + ":hits:week:1": "1",                # not our interval
        prefix + ":hits:minute:01": "1",             # not a bucket number we write
        prefix + ":other:hits:minute:1": "1",        # nested prefix "<p>:other:"
    }
    raw.mset(foreign)
    count = make("count")
    count.bulk_insert({60: {"hits": [1], "hits2": [1], "a*": [1]}})
    assert count.list() == ["a*", "hits", "hits2"]
    count.delete("hits")
    assert count.list() == ["a*", "hits2"]
    count.delete("a*")  # a glob character in a name matches only that name
    assert count.list() == ["hits2"]
    count.delete_all()
    assert count.list() == []
    assert our_keys(raw, prefix) == sorted(foreign)


def test_timeseries_without_prefix_only_touches_its_own_scheme(url, raw, unique_name):
    interval = "iv" + unique_name  # unique interval name: keys other test runs cannot have
    foreign = ["%s:x:%s:5" % (unique_name, interval), "x:%s" % interval, "x:%s:5:5" % interval,
               "x:%s:five" % interval]
    raw.mset({key: "1" for key in foreign})
    try:
        count = Timeseries(url, type="count", intervals={interval: {"step": 60}}, layout="key")
        assert count.prefix == ""
        count.insert("x", 2, timestamp=300)
        assert raw.get("x:%s:5" % interval) == "2"
        assert count.list() == ["x"]
        count.delete_all()
        assert count.list() == []
        assert not raw.exists("!names")  # delete_all removes the name index too
        assert sorted(k for k in foreign if raw.exists(k)) == sorted(foreign)
    finally:
        raw.delete(*foreign, "x:%s:5" % interval, "!layout")


def test_a_key_of_another_type_refuses_its_write_alone(make):
    make("count").insert("c", 1, timestamp=60)
    series = make("series")
    with pytest.raises(PartiallyStored, match="WRONGTYPE") as caught:
        series.bulk_insert({60: {"c": [1, 2, 3], "d": [4]}})
    assert caught.value.refused == [(("c", "minute", 1, None), 3, caught.value.refused[0][2])]
    assert series.get("d", "minute", timestamp=60) == {60: ["4"]}  # its neighbour is stored
    with pytest.raises(BackendError, match="WRONGTYPE"):
        series.get("c", "minute", timestamp=60)


# -- clients and connections -------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_a_backend_error():
    port = free_port()
    count = Timeseries("redis://127.0.0.1:%d/0" % port, type="count", intervals=MINUTE)
    for action in (lambda: count.insert("c", 1), lambda: count.get("c", "minute"),
                   count.list, count.delete_all):
        with pytest.raises(BackendError) as error:
            action()
        message = str(error.value)
        assert "127.0.0.1:%d" % port in message and "refused" in message.lower()


def test_client_handle_without_decode_responses_still_gives_strings(url, make):
    client = redis.Redis.from_url(url)
    series = make("series", client=client)
    series.insert("s", [1, "é"], timestamp=60)
    assert series.get("s", "minute", timestamp=60) == {60: ["1", "é"]}
    assert series.list() == ["s"]
    client.close()


def test_client_config_and_urls(url):
    count = Timeseries(url, type="count", intervals=MINUTE, client_config={"socket_timeout": 3})
    assert count.client.connection_pool.connection_kwargs["socket_timeout"] == 3
    tls = Timeseries("rediss://127.0.0.1:6380/2", type="count", intervals=MINUTE)
    assert tls.client.connection_pool.connection_class is redis.SSLConnection
    assert "127.0.0.1:6380 db 2" in repr(tls)
    with pytest.raises(ConfigError):
        Timeseries(url, type="count", intervals=MINUTE, table_name="x")
    with pytest.raises(ConfigError):
        Timeseries(redis.Redis.from_url(url), type="count", intervals=MINUTE, client_config={"db": 1})


def test_unix_socket_url(tmp_path, unique_name):
    import shutil
    import subprocess
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    path = tmp_path / "redis.sock"
    server = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(path), "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30  # a busy machine: wait until it answers, not until the file
        while True:
            try:
                with redis.Redis(unix_socket_path=str(path)) as probe:
                    probe.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        count = Timeseries("unix://%s?db=3" % path, type="count", intervals=MINUTE, prefix=unique_name)
        count.insert("c", 4, timestamp=60)
        assert count.get("c", "minute", timestamp=60) == {60: 4}
        assert "unix:%s db 3" % path in repr(count)
        count.client.close()
    finally:
        server.terminate()
        server.wait(10)


def test_reads_are_cooperative_under_gevent(url, make):
    """A greenlet blocked on Redis (BLPOP) lets the others run: sockets are gevent's."""
    count = make("count")
    blocker = redis.Redis.from_url(url, decode_responses=True)
    queue = count.prefix + "queue"
    waiting = gevent.spawn(blocker.blpop, [queue], 5)
    gevent.sleep(0.05)  # let it send BLPOP and block on its socket
    count.insert("c", 1, timestamp=60)  # only possible now if BLPOP yielded
    assert count.get("c", "minute", timestamp=60) == {60: 1}
    pusher = redis.Redis.from_url(url)
    pusher.rpush(queue, "done")
    assert tuple(waiting.get(timeout=5)) == (queue, "done")  # None if BLPOP had blocked everything
    pusher.close()
    blocker.close()


# -- the name index ----------------------------------------------------------------------------
def test_name_index_is_written_in_the_batch_round_trip(make, counted, raw, prefix):
    series = make("count", client=counted)
    series.insert("b", 1, timestamp=60)  # the first write marks the prefix's layout first
    assert round_trips(lambda: series.bulk_insert({60: {"a.b": [1], "c": [2]}})) == 1
    assert sorted(raw.zrange(prefix + ":!names", 0, -1)) == [
        "000001a B", "000001b L", "000001c L", "000002a.b L"]
    assert round_trips(lambda: series.bulk_insert({120: {"a.b": [1]}}, batch_id="b1")) == 1


def test_a_refused_index_write_keeps_the_data_and_is_tried_again(make, raw, prefix, caplog):
    raw.set(prefix + ":!names", "not a sorted set")
    series = make("count")
    series.insert("a.b", 1, timestamp=60)
    assert series.get("a.b", "minute", timestamp=60) == {60: 1}
    assert "refused the name index entries of 1 names" in caplog.text
    raw.delete(prefix + ":!names")
    series.insert("a.b", 1, timestamp=60)   # not indexed yet: its entries are sent again
    assert raw.zrange(prefix + ":!names", 0, -1) == ["000001a B", "000002a.b L"]


@pytest.mark.parametrize("intervals, interval", [({"minute": {"step": 60}}, "minute"),
                                                 ({"hour": {"step": 3600, "resolution": 60}}, "hour")])
def test_dense_reads_span_many_round_trips(make, monkeypatch, intervals, interval):
    """points() of counts reads its MGETs in several pipelines when they are many keys (here
    7 keys per MGET and 20 per round trip), and keeps each name's values in order."""
    from kairos.backends import redis_store
    monkeypatch.setattr(redis_store, "READ_CHUNK", 7)
    monkeypatch.setattr(redis_store, "FLAT_BATCH", 20)
    ts = make("count", intervals)
    ts.bulk_insert({60 * m: {"a.%d" % n: [n * 100 + m] for n in range(3) if m % (n + 1) == 0}
                    for m in range(50)})
    got = ts.points(["a.0", "a.1", "a.2", "never"], interval, 0, 60 * 49)
    for n in range(3):
        assert got["a.%d" % n] == {60 * m: n * 100 + m for m in range(50) if m % (n + 1) == 0}
    assert got["never"] == {}
