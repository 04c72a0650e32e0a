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
