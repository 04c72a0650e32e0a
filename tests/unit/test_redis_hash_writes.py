"""``layout='hash'`` writes built list by list send what a write per bucket would send.

The reference below is the encoding a window hash's field had when each bucket was one
``put`` call (``op, [EXPIREAT,] field, encode_value(value)``, counts by ``count_increment``):
the keys and sizes must be the same, and the arguments must pack to the same bytes
(hiredis and redis-py, which pack an int as ``str`` and a float as ``repr``)."""
from decimal import Decimal
from fractions import Fraction

import pytest
from redis.connection import Connection

from kairos.backends import redis_bulk, redis_wire
from kairos.backends.redis_bulk import Writes
from kairos.backends.redis_keys import count_increment, encode_value
from kairos.backends.redis_layouts import layout_for
from kairos.exceptions import InvalidValue
from tests.redis_writes import one_by_one


def reference(type_name, writes):
    keys, args, sizes = [], [], []
    for key, field, value, expiry in writes:
        if type_name == "gauge":
            op, amount = "g", encode_value(value)
        else:
            command, amount = count_increment(value)
            op = "c" if command == "incrby" else "d"
        keys.append(key)
        if expiry is None:
            args.extend((op, field, amount))
            sizes.append(3)
        else:
            args.extend((op.upper(), expiry, field, amount))
            sizes.append(4)
    return keys, args, sizes


def built(type_name, writes, grouped=False):
    out = Writes()
    due = [(position, expiry) for position, (_, _, _, expiry) in enumerate(writes)
           if expiry is not None]
    runs = []  # consecutive writes of one field
    for position, (_, field, _, _) in enumerate(writes):
        if runs and runs[-1][2] == field:
            runs[-1] = (runs[-1][0], position + 1, field)
        else:
            runs.append((position, position + 1, field))
    layout_for(type_name, "hash").hash_writes(
        out, [w[0] for w in writes], runs, [w[2] for w in writes], due, grouped=grouped)
    return out.keys, out.args, out.sizes


def packed(args):
    return redis_wire.pack([("EVAL", *args)])


CASES = {
    "gauge": [[2.5, 0.1 + 0.2, -0.0, 1e300, 5e-324, float("inf"), 7, -2 ** 70, "text"],
              [1.5, Decimal("2.25"), Fraction(1, 4), b"\xff", "x", 3],
              [float(i) / 7 for i in range(50)]],
    "count": [[1, 2, 3, -4, 2 ** 63 - 1, -2 ** 63],
              [1, 2.5, 2 ** 63, -2 ** 63 - 1, Decimal("1.5"), Fraction(1, 2), 0],
              [0.25, 7.0]],
}


@pytest.mark.parametrize("type_name, values", [(t, v) for t, cases in CASES.items() for v in cases])
@pytest.mark.parametrize("expiring", ["none", "all", "some"])
def test_list_by_list_writes_pack_to_the_bytes_of_a_write_per_bucket(type_name, values, expiring):
    writes = []
    for position, value in enumerate(values):
        expiry = {"none": None, "all": 1000 + position,
                  "some": 2000 if position % 3 == 1 else None}[expiring]
        writes.append(("h:%d" % (position % 4), str(60 * position), value, expiry))
    keys, args, sizes = built(type_name, writes)
    want_keys, want_args, want_sizes = reference(type_name, writes)
    assert (keys, sizes) == (want_keys, want_sizes)
    assert packed(args) == packed(want_args)
    assert b"".join(Connection().pack_commands([("EVAL", *args)])) == packed(want_args)


@pytest.mark.parametrize("type_name, values", [(t, v) for t, cases in CASES.items() for v in cases])
@pytest.mark.parametrize("expiring", ["none", "all", "some"])
def test_grouped_writes_are_the_writes_of_a_bucket_each(type_name, values, expiring, monkeypatch):
    monkeypatch.setattr(redis_bulk, "GROUP", 4)  # runs longer than a group too
    writes = []
    for position, value in enumerate(values):
        expiry = {"none": None, "all": 1000 + position,
                  "some": 2000 if position % 3 == 1 else None}[expiring]
        # runs of one field (a bucket of many hashes), as the engine builds them
        writes.append(("h:%d" % position, str(60 * (position // 5)), value, expiry))
    out = Writes()
    out.keys, out.args, out.sizes = built(type_name, writes, grouped=True)
    singles = one_by_one(out)
    want_keys, want_args, want_sizes = reference(type_name, writes)
    assert (singles.keys, singles.sizes) == (want_keys, want_sizes)
    assert packed(singles.args) == packed(want_args)
    groups = sum(1 for arg in out.args if arg in redis_bulk.GROUPS)
    whole = type_name == "gauge" or all(type(v) is int and -2 ** 63 <= v < 2 ** 63 for v in values)
    assert (groups > 0) == (whole and expiring != "all")  # mixed counts go one by one


@pytest.mark.parametrize("type_name, bad", [("gauge", None), ("gauge", True), ("gauge", [1]),
                                            ("count", True), ("count", float("nan")),
                                            ("count", float("inf")), ("count", "x")])
def test_a_value_redis_cannot_store_is_refused_before_anything_is_built(type_name, bad):
    with pytest.raises(InvalidValue):
        built(type_name, [("h", "60", 1, None), ("h", "120", bad, None)])


def test_no_writes_build_nothing():
    for type_name in ("gauge", "count"):
        assert built(type_name, []) == ([], [], [])


@pytest.mark.parametrize("chunk, group", [(2000, 1000), (10, 5), (6, 3), (4, 1)])
def test_a_batch_is_cut_at_the_same_writes_whatever_expiries_it_carries(monkeypatch, chunk,
                                                                        group):
    # a retry sends call n under the marker field of the first attempt's call n: the two
    # must hold the same writes, though which hashes need their EXPIREAT (and so which
    # writes go alone, not in a group) depends on what the process remembers
    import random
    monkeypatch.setattr(redis_bulk, "CHUNK", chunk)
    monkeypatch.setattr(redis_bulk, "GROUP", group)
    rng = random.Random(chunk)
    for _ in range(20):
        runs, start = [], 0
        for number in range(rng.randrange(1, 6)):
            end = start + rng.choice([1, group, chunk, chunk + 1, rng.randrange(1, 3 * chunk)])
            runs.append((start, end, str(60 * number)))
            start = end
        keys = ["h:%d" % i for i in range(start)]
        values = list(range(start))
        cuts = set()
        for due in ([], [(i, 1000) for i in range(start)],
                    [(i, 1000) for i in sorted(rng.sample(range(start), start // 3))]):
            out = Writes()
            layout_for("count", "hash").hash_writes(out, keys, runs, values, due, grouped=True)
            cuts.add(tuple((first, end) for first, end, _, _ in redis_bulk.chunks(out.sizes)))
            assert one_by_one(out).keys == keys
        assert len(cuts) == 1
        assert all(end - first == chunk for first, end in list(cuts.pop())[:-1])
