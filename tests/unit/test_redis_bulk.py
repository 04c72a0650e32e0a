"""redis_bulk: how writes become Lua script arguments and chunks (pure)."""
import pytest

from kairos.backends import redis_bulk
from kairos.backends.redis_bulk import Writes, chunks


def test_each_write_is_op_expiry_and_arguments_with_a_count_for_lists_and_sets():
    writes = Writes.of([("S", "k1", 100, "5"), ("I", "k2", None, 3), ("H", "h", 50, "v", 2),
                        ("L", "l", None, "a", "b", "c")])
    assert writes.keys == ["k1", "k2", "h", "l"]
    assert writes.args == ["S", 100, "5", "I", "", 3, "H", 50, "v", 2, "L", "", 3, "a", "b", "c"]
    assert writes.sizes == [3, 3, 4, 6]
    with pytest.raises(ValueError):
        Writes.of([("S", "k", None, "1", "2")])


def test_chunks_are_bounded_by_writes_and_by_arguments(monkeypatch):
    monkeypatch.setattr(redis_bulk, "CHUNK", 3)
    monkeypatch.setattr(redis_bulk, "CHUNK_ARGS", 10)
    assert chunks([3] * 7) == [(0, 3, 0, 9), (3, 6, 9, 18), (6, 7, 18, 21)]
    # a write larger than the argument budget still travels, alone
    assert chunks([53, 3, 53]) == [(0, 1, 0, 53), (1, 3, 53, 109)]


def test_the_same_writes_are_always_cut_the_same_way():
    sizes = [3 + i % 7 for i in range(5000)]
    assert chunks(sizes) == chunks(list(sizes))
    assert sum(end - start for start, end, _, _ in chunks(sizes)) == 5000


def _chunks_one_by_one(sizes):
    """The rule of ``chunks``, write by write: add writes while the call has fewer than CHUNK
    and its arguments so far are under CHUNK_ARGS (a first write always goes)."""
    out, start, arg = [], 0, 0
    while start < len(sizes):
        end, end_arg = start, arg
        while end < len(sizes) and end - start < redis_bulk.CHUNK and (
                end == start or end_arg - arg < redis_bulk.CHUNK_ARGS):
            end_arg += sizes[end]
            end += 1
        out.append((start, end, arg, end_arg))
        start, arg = end, end_arg
    return out


@pytest.mark.parametrize("chunk, budget", [(2000, 20000), (3, 10), (5, 7), (1, 1)])
def test_chunks_cut_where_the_write_by_write_rule_cuts(monkeypatch, chunk, budget):
    import random
    monkeypatch.setattr(redis_bulk, "CHUNK", chunk)
    monkeypatch.setattr(redis_bulk, "CHUNK_ARGS", budget)
    rng = random.Random(chunk * 1000 + budget)
    for _ in range(200):
        n = rng.choice([0, 1, 2, chunk - 1, chunk, chunk + 1, rng.randrange(1, 6000)])
        big = rng.choice([3, 4, 30, budget, budget * 3, 1500])
        sizes = [rng.choice([3, 3, 3, 4, rng.randrange(3, big + 4)]) for _ in range(max(n, 0))]
        assert chunks(sizes) == _chunks_one_by_one(sizes)


def test_a_group_is_its_op_and_field_once_then_an_amount_per_key(monkeypatch):
    monkeypatch.setattr(redis_bulk, "GROUP", 2)
    writes = Writes()
    writes.add_group("g", "60", ["a", "b", "c"], [1.5, "x", 3])
    assert writes.keys == ["a", "b", "c"]
    assert writes.args == ["*g", "60", 2, 1.5, "x", "*g", "60", 1, 3]
    assert writes.sizes == [5, 0, 4]  # a group's arguments go to its first write
    for bad in (("C", "60", ["a"], [1]), ("c", "60", ["a", "b"], [1])):
        with pytest.raises(ValueError):
            writes.add_group(*bad)


@pytest.mark.parametrize("chunk, budget, group", [(2000, 20000, 1000), (7, 30, 5), (3, 10, 8),
                                                   (1, 1, 4)])
def test_chunks_never_cut_a_group(monkeypatch, chunk, budget, group):
    import random
    monkeypatch.setattr(redis_bulk, "CHUNK", chunk)
    monkeypatch.setattr(redis_bulk, "CHUNK_ARGS", budget)
    monkeypatch.setattr(redis_bulk, "GROUP", group)
    rng = random.Random(chunk + budget + group)
    for _ in range(300):
        writes = Writes()
        for _ in range(rng.randrange(1, 10)):
            if rng.random() < 0.5:
                n = rng.choice([1, group - 1, group, group + 1, rng.randrange(1, 3 * group + 2)])
                writes.add_group(rng.choice("cdg"), "f", ["k"] * max(n, 1), [1] * max(n, 1))
            else:
                for _ in range(rng.randrange(1, 2 * chunk + 2)):
                    writes.add("g", "k", None, "f", 1)
        sizes, position, arg = writes.sizes, 0, 0
        for start, end, first_arg, end_arg in chunks(sizes):
            assert (start, first_arg) == (position, arg) and end > start
            assert sizes[start] and (end == len(sizes) or sizes[end])  # whole groups only
            assert end_arg - first_arg == sum(sizes[start:end])
            # a call holds what the rule allows, or one group that alone is longer
            assert end - start <= max(chunk, group)
            position, arg = end, end_arg
        assert (position, arg) == (len(sizes), len(writes.args))
