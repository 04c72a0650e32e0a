"""Backend contract, ``send_bulk``: a batch sent before the previous one's answer.

karbon keeps one batch in flight on engines with ``pipelined`` (Redis): it sends
batch N+1 before it reads batch N's replies. Whatever the engine, batches sent one
after the other are applied in that order (a gauge keeps the later value), each
waiting function reports its own batch's outcome, and a bad value is refused before
anything is sent.
"""
import pytest

from kairos.exceptions import InvalidValue, PartiallyStored

TWO = {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}}
NUM = {"read_func": float}


def test_batches_sent_ahead_are_applied_in_order(make_timeseries):
    ts = make_timeseries("gauge", TWO, **NUM)
    waits = [ts.send_bulk({60: {"a": [value]}, 3600: {"b": [value]}}, batch_id="o.%d" % value,
                          now=4000) for value in range(1, 6)]
    for wait in reversed(waits):  # read in any order: replies still come back in order
        assert wait() is None
    assert ts.get("a", "minute", timestamp=60) == {60: 5}
    assert ts.get("b", "hour", timestamp=3600, condense=True) == {3600: 5}
    assert ts.list() == ["a", "b"]


@pytest.mark.parametrize("type_, expected", [("count", 6), ("series", [1, 2, 3]),
                                             ("histogram", {1: 1, 2: 1, 3: 1}),
                                             ("set", {1, 2, 3})])
def test_every_type_sent_ahead_is_stored_once(make_timeseries, type_, expected):
    ts = make_timeseries(type_, TWO, **NUM)
    waits = [ts.send_bulk({60: {"a": [value]}}, batch_id="t.%d" % value, now=100)
             for value in (1, 2, 3)]
    for wait in waits:
        wait()
    assert ts.get("a", "minute", timestamp=60) == {60: expected}
    if ts.exactly_once:  # the same batches again change nothing
        for value in (1, 2, 3):
            ts.send_bulk({60: {"a": [value]}}, batch_id="t.%d" % value, now=100)()
        assert ts.get("a", "minute", timestamp=60) == {60: expected}


def test_a_bad_value_is_refused_before_anything_is_sent(make_timeseries):
    ts = make_timeseries("count", TWO, **NUM)
    first = ts.send_bulk({60: {"a": [1]}}, batch_id="b.1", now=100)
    with pytest.raises(InvalidValue):
        ts.send_bulk({60: {"a": [2], "b": ["not a number"]}}, batch_id="b.2", now=100)
    first()
    assert ts.get("a", "minute", timestamp=60) == {60: 1}
    assert ts.list() == ["a"]


def test_nothing_to_write_waits_for_nothing(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60, "steps": 2}}, **NUM)
    assert ts.send_bulk({}, batch_id="e.1")() is None
    assert ts.send_bulk({60: {"old": [1]}}, batch_id="e.2", now=10 ** 6)() is None
    if ts.native_expiry:  # past retention: not written at all (SQL stores it, expire() drops it)
        assert ts.get("old", "minute", timestamp=60) == {60: 0}


def test_a_value_storage_refuses_is_reported_by_its_own_wait(make_timeseries, backend):
    ts = make_timeseries("count", TWO, **NUM)
    if not ts.pipelined:
        pytest.skip("%s writes in send_bulk itself: its refusals are covered by bulk_insert's "
                    "contract" % ts.engine)
    ts.bulk_insert({60: {"big": [2 ** 62]}}, now=100)
    # 2**62 + 2**62 overflows a 64-bit count: Redis goes on as a float; 1e308 twice would not be
    # finite and is refused alone
    ts.bulk_insert({60: {"huge": [1e308]}}, now=100)
    before = ts.send_bulk({60: {"a": [1]}}, batch_id="p.1", now=100)
    refused = ts.send_bulk({60: {"a": [2], "huge": [1e308]}}, batch_id="p.2", now=100)
    after = ts.send_bulk({60: {"a": [4]}}, batch_id="p.3", now=100)
    after()
    with pytest.raises(PartiallyStored) as caught:
        refused()
    before()
    assert [(bucket[0], points) for bucket, points, _ in caught.value.refused] == [
        ("huge", 1), ("huge", 1)]
    assert ts.get("a", "minute", timestamp=60) == {60: 7}
