"""Backend contract, lifecycle and clock: ``close()`` and ``Timeseries(..., clock=)`` on every engine.

A closed timeseries refuses every storage call with ``kairos.Closed`` and leaves a client it
shares with other timeseries open; a fake clock is the "now" of every call given no time.
"""
import pytest

from kairos import BackendError, Closed

MINUTE = {"minute": {"step": 60}}
NUM = {"read_func": float}
#: the fake clock's start: in the future, so that Redis TTLs computed from it do not expire
#: the keys at once (the server's own clock deletes them)
T = 4_000_000_020
BUCKET = T // 60 * 60

#: every public call that reaches the storage
STORAGE_CALLS = {
    "insert": lambda ts: ts.insert("a", 1, timestamp=60),
    "bulk_insert": lambda ts: ts.bulk_insert({60: {"a": [1]}}),
    "get": lambda ts: ts.get("a", "minute", timestamp=60),
    "series": lambda ts: ts.series("a", "minute", start=0, end=120),
    "series_many": lambda ts: ts.series_many(["a", "b"], "minute", start=0, end=120),
    "points": lambda ts: ts.points(["a"], "minute", 0, 120),
    "iterate": lambda ts: list(ts.iterate("a", "minute")),
    "properties": lambda ts: ts.properties("a"),
    "list": lambda ts: ts.list(),
    "delete": lambda ts: ts.delete("a"),
    "delete_all": lambda ts: ts.delete_all(),
    "expire": lambda ts: ts.expire("a"),
    "expire_all": lambda ts: ts.expire_all(),
    "ping": lambda ts: ts.ping(),
    "nodes": lambda ts: ts.nodes(""),
    "lookup": lambda ts: ts.lookup(["a"]),
    "rebuild_index": lambda ts: ts.rebuild_index(),
    "prepare_bulk": lambda ts: ts.prepare_bulk({60: {"a": [1]}})(),
}


def test_a_write_prepared_before_close_and_made_after_raises_closed(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", 1, timestamp=60)
    write = ts.prepare_bulk({60: {"a": [2]}})
    ts.close()
    with pytest.raises(Closed, match="is closed"):
        write()  # the connections were released: none is opened again quietly


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_storage_calls_after_close_raise_closed(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", 1, timestamp=60)
    ts.nodes("")  # the index is known to be built: nodes() goes straight to the storage
    ts.delete_all()
    ts.close()
    ts.close()  # a second close does nothing
    assert ts.closed
    for what, call in STORAGE_CALLS.items():
        with pytest.raises(Closed, match="is closed") as raised:
            call(ts)
        assert isinstance(raised.value, BackendError), what  # callers treat it as storage down


def test_closing_one_timeseries_leaves_a_shared_client_open(make_timeseries):
    # the backend matrix hands every timeseries of a test the same client (a SQLAlchemy
    # Engine, a MongoClient, a Cassandra Session; Redis gets a URL, so a pool each)
    first = make_timeseries("count", MINUTE, **NUM)
    second = make_timeseries("count", MINUTE, **NUM)
    first.insert("a", 1, timestamp=60)
    second.insert("a", 2, timestamp=60)
    first.delete_all()
    first.close()
    second.insert("a", 3, timestamp=60)
    assert second.get("a", "minute", timestamp=60) == {60: 5}


def test_insert_get_and_series_without_times_follow_the_clock(make_timeseries):
    clock = FakeClock(T)
    ts = make_timeseries("count", MINUTE, clock=clock, **NUM)
    ts.insert("a", 3)
    ts.bulk_insert({None: {"a": [2]}})
    assert ts.get("a", "minute") == {BUCKET: 5}
    clock.now += 60
    ts.insert("a", 1)
    assert ts.get("a", "minute") == {BUCKET + 60: 1}
    assert ts.series("a", "minute", steps=3) == {BUCKET - 60: 0, BUCKET: 5, BUCKET + 60: 1}
    assert ts.properties("a") == {"minute": {"first": BUCKET, "last": BUCKET + 60}}


def test_retention_and_expire_follow_the_clock(make_timeseries):
    clock = FakeClock(T)
    ts = make_timeseries("count", {"minute": {"step": 60, "steps": 2}}, clock=clock, **NUM)
    ts.insert("a", 1, timestamp=T - 600)  # past retention at the clock's now (not at the wall clock)
    ts.insert("a", 2, timestamp=T)
    ts.insert("b", 4, timestamp=T - 600)
    ts.expire("a")
    ts.expire_all()
    window = ts.series("a", "minute", start=T - 600, end=T)
    assert (window[BUCKET - 600], window[BUCKET]) == (0, 2)
    assert ts.get("b", "minute", timestamp=T - 600) == {BUCKET - 600: 0}


def test_a_clock_must_be_callable():
    from kairos import ConfigError, Timeseries
    with pytest.raises(ConfigError, match="clock must be a callable"):
        Timeseries("sqlite://", type="count", intervals=MINUTE, clock=12.0)
