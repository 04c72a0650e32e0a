"""redis_bulk: how a pipeline's commands are folded into Lua script arguments (pure)."""
from kairos.backends.redis_bulk import _encode


def test_writes_fold_with_their_expiry_and_others_pass_through():
    commands = [("set", "k1", "5"), ("expireat", "k1", 100), ("incrby", "k2", 3),
                ("hincrby", "h", "v", 2), ("expireat", "h", 50), ("incrbyfloat", "k3", "1.5"),
                ("set", "k4", "x"), ("expireat", "other", 7)]
    keys, args = _encode(commands)
    assert keys == ["k1", "k2", "h", "h", "k3", "k4", "other"]
    assert args == ["S", "5", 100,
                    "I", 3, "",
                    "C", "hincrby", 2, "v", 2,
                    "C", "expireat", 1, 50,
                    "F", "1.5", "",
                    "S", "x", "",
                    "C", "expireat", 1, 7]


def test_multi_value_commands_pass_through():
    keys, args = _encode([("rpush", "l", "a", "b", "c"), ("sadd", "s", "x")])
    assert keys == ["l", "s"]
    assert args == ["C", "rpush", 3, "a", "b", "c", "C", "sadd", 1, "x"]
