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
