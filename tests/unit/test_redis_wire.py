"""``redis_wire`` packs commands with hiredis: the bytes must be redis-py's own."""
import pytest
from redis.connection import Connection

from kairos.backends import redis_wire

COMMANDS = [
    ("EVAL", "return 1", 2, "k:{1}a:minute:1", "k:é:minute:2", "", 86400, "S", "", "0.1"),
    ("SET", "k", 0.1), ("SET", "k", 1e300), ("SET", "k", -2.5e-7), ("INCRBY", "k", 2 ** 70),
    ("INCRBY", "k", -5), ("SET", "ké", b"\xff\x00"), ("HSET", "h", "60", 1.5),
    ("ZADD", "n", 0, "000001a L", 0, "~a;x=1"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_packing_is_what_redis_py_sends(command):
    connection = Connection()
    assert redis_wire.pack([command]) == b"".join(connection.pack_commands([command]))


def test_a_batch_of_commands_is_one_buffer():
    connection = Connection()
    assert redis_wire.pack(COMMANDS) == b"".join(connection.pack_commands(COMMANDS))
