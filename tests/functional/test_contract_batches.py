"""Backend contract, exactly once: a batch sent again under its ``batch_id`` changes nothing.

A retry after a timeout or a dropped connection sends a batch that may already be
stored; engines that declare ``exactly_once`` (SQL, Redis) must apply it once. The
engines without it (MongoDB, Cassandra) say so, and are skipped here.
"""
import pytest

from kairos.exceptions import InvalidValue

TWO = {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}}
NUM = {"read_func": float}
EXPECTED = {"series": [1, 2, 2, 7], "histogram": {1: 1, 2: 2, 7: 1}, "count": 12, "gauge": 7,
            "set": {1, 2, 7}}


def exactly_once(ts):
    if not ts.exactly_once:
        pytest.skip("%s does not apply batches exactly once (documented)" % ts.engine)
    return ts


@pytest.mark.parametrize("type_", sorted(EXPECTED))
def test_a_batch_sent_three_times_is_stored_once(make_timeseries, type_):
    ts = exactly_once(make_timeseries(type_, TWO, **NUM))
    batch = {60: {"a": [1, 2, 2], "b": [5]}, 90: {"a": [7]}}
    for _ in range(3):
        ts.bulk_insert(batch, batch_id="run1.1", now=100)
    assert ts.get("a", "minute", timestamp=60) == {60: EXPECTED[type_]}
    assert ts.get("a", "hour", timestamp=60, condense=True) == {0: EXPECTED[type_]}
    # another id is another batch
    ts.bulk_insert({60: {"b": [5]}}, batch_id="run1.2", now=100)
    doubled = {"series": [5, 5], "histogram": {5: 2}, "count": 10, "gauge": 5, "set": {5}}
    assert ts.get("b", "minute", timestamp=60) == {60: doubled[type_]}


def test_ids_are_per_timeseries(make_timeseries):
    one = exactly_once(make_timeseries("count", TWO, **NUM))
    two = make_timeseries("count", TWO, **NUM)
    for ts in (one, two):
        ts.bulk_insert({60: {"a": [1]}}, batch_id="same", now=100)
    assert one.get("a", "minute", timestamp=60) == two.get("a", "minute", timestamp=60) == {60: 1}


def test_a_refused_batch_records_nothing_so_its_good_part_can_follow(make_timeseries):
    ts = exactly_once(make_timeseries("count", TWO, **NUM))
    with pytest.raises(InvalidValue):
        ts.bulk_insert({60: {"a": [1], "b": ["not a number"]}}, batch_id="r.1", now=100)
    ts.bulk_insert({60: {"a": [1]}}, batch_id="r.1.0", now=100)
    assert ts.get("a", "minute", timestamp=60) == {60: 1}


def test_batch_ids_leave_list_and_delete_all_alone(make_timeseries):
    ts = exactly_once(make_timeseries("gauge", TWO, **NUM))
    ts.bulk_insert({60: {"a": [1]}}, batch_id="x:minute:60", now=100)  # ":" cannot fool a key parser
    assert ts.list() == ["a"]
    ts.delete_all()
    assert ts.list() == []


def test_a_total_past_64_bits_is_the_same_in_one_batch_or_two(make_timeseries, backend):
    """karbon puts points in batches as they arrive: where a batch boundary falls must not
    change a stored total, even one past what a 64-bit integer holds."""
    options = {"value_type": int} if backend.startswith("sqlite-file") else {}
    one = make_timeseries("count", TWO, **options)
    two = make_timeseries("count", TWO, **options)
    one.bulk_insert({60: {"a": [2 ** 63 - 1, 1]}}, now=100)
    two.bulk_insert({60: {"a": [2 ** 63 - 1]}}, now=100)
    two.bulk_insert({60: {"a": [1]}}, now=100)
    got = one.get("a", "minute", timestamp=60)[60]
    assert got == two.get("a", "minute", timestamp=60)[60]
    assert got == 2 ** 63  # exactly: as an int (Redis) or a float (SQL)
