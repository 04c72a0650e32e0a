"""redis_bulk: how writes become Lua script arguments and chunks (pure)."""
from kairos.backends import redis_bulk
from kairos.backends.redis_bulk import Write, _arguments, chunks


def test_each_write_is_op_expiry_count_and_arguments():
    writes = [Write("S", "k1", 100, ("5",)), Write("I", "k2", None, (3,)),
              Write("H", "h", 50, ("v", 2)), Write("L", "l", None, ("a", "b", "c"))]
    keys, args = _arguments(writes)
    assert keys == ["k1", "k2", "h", "l"]
    assert args == ["S", 100, 1, "5", "I", "", 1, 3, "H", 50, 2, "v", 2, "L", "", 3, "a", "b", "c"]


def test_chunks_are_bounded_by_writes_and_by_arguments(monkeypatch):
    monkeypatch.setattr(redis_bulk, "CHUNK", 3)
    monkeypatch.setattr(redis_bulk, "CHUNK_ARGS", 10)
    small = [Write("S", "k%d" % i, None, ("1",)) for i in range(7)]
    assert chunks(small) == [(0, 3), (3, 6), (6, 7)]
    big = Write("L", "l", None, tuple(range(50)))
    # a write larger than the argument budget still travels, alone
    assert chunks([big, small[0], big]) == [(0, 1), (1, 3)]


def test_the_same_writes_are_always_cut_the_same_way():
    writes = [Write("L", "l%d" % i, None, tuple(range(i % 7))) for i in range(5000)]
    assert chunks(writes) == chunks(list(writes))
    assert sum(end - start for start, end in chunks(writes)) == 5000
