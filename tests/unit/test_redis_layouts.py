"""How each type's buckets are written and read in Redis (pure: a recording pipeline, no server).

The writes are ``redis_bulk``'s encoding (``op, expiry or "", arguments``), pinned here
so a layout change cannot alter what reaches the Lua script unnoticed."""
from decimal import Decimal
from fractions import Fraction

import pytest

from redis.connection import Connection

from kairos.backends import redis_wire
from kairos.backends.redis_bulk import Writes
from kairos.backends.redis_keys import count_increment, encode_value, parse_number
from kairos.backends.redis_layouts import layout_for


class Recorder:
    """A pipeline that records the commands queued on it."""

    def __init__(self):
        self.commands = []

    def __getattr__(self, command):
        return lambda *args: self.commands.append((command,) + args)


def encode(type_name, *buckets):
    writes, owners = Writes(), []
    put = layout_for(type_name).writer(writes, owners)
    for bucket, key, expires, data in buckets:
        put(bucket, key, expires, data)
    return writes.keys, writes.args, writes.sizes, owners


def test_count_increments_by_integer_then_by_float():
    assert encode("count", ("a", "k1", "", 5), ("b", "k2", 99, 2.5)) == (
        ["k1", "k2"], ["I", "", 5, "F", 99, "2.5"], [3, 3], ["a", "b"])


@pytest.mark.parametrize("total", [5, -3, 0, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1, 2.5,
                                   Decimal("1.5"), Fraction(1, 2)])
def test_count_writes_what_count_increment_says(total):
    command, amount = count_increment(total)
    op = "I" if command == "incrby" else "F"
    assert encode("count", ("a", "k", "", total))[1] == [op, "", amount]


def test_gauge_sets_the_encoded_value():
    assert encode("gauge", ("a", "k", 99, "x"), ("b", "k2", 99, Decimal("1.5"))) == (
        ["k", "k2"], ["S", 99, "x", "S", 99, "1.5"], [3, 3], ["a", "b"])


@pytest.mark.parametrize("value", [2.5, 0.1 + 0.2, -0.0, 1e300, 5e-324, float("inf"), 2.0 ** 63])
def test_a_float_gauge_travels_as_the_bytes_of_its_encoding(value):
    """A float is left to the packer (hiredis or redis-py), whose bytes are its repr."""
    _, args, _, _ = encode("gauge", ("a", "k", 99, value))
    assert redis_wire.pack([("EVAL", *args)]) == redis_wire.pack([("EVAL", "S", 99, encode_value(value))])
    assert b"".join(Connection().pack_commands([("EVAL", *args)])) == redis_wire.pack([("EVAL", *args)])


def test_histogram_writes_one_hincrby_per_value_each_owned_by_the_bucket():
    assert encode("histogram", ("a", "k", "", {3: 2, "x": 1})) == (
        ["k", "k"], ["H", "", "3", 2, "H", "", "x", 1], [4, 4], ["a", "a"])


@pytest.mark.parametrize("type_name, op", [("series", "L"), ("set", "A")])
def test_series_and_set_send_every_value_in_one_write(type_name, op):
    assert encode(type_name, ("a", "k", "", [3, 1.5])) == (
        ["k"], [op, "", 2, "3", "1.5"], [5], ["a"])


@pytest.mark.parametrize("type_name, reads", [
    ("count", [("mget", ["k1", "k2"])]),
    ("gauge", [("mget", ["k1", "k2"])]),
    ("series", [("lrange", "k1", 0, -1), ("lrange", "k2", 0, -1)]),
    ("histogram", [("hgetall", "k1"), ("hgetall", "k2")]),
    ("set", [("smembers", "k1"), ("smembers", "k2")]),
])
def test_reads_queue_the_type_command(type_name, reads):
    pipe = Recorder()
    layout_for(type_name).queue_reads(pipe, ["k1", "k2"])
    assert pipe.commands == reads


def test_string_replies_are_text_and_none_where_no_key():
    assert layout_for("gauge").raws([["1.5", None, b"caf\xc3\xa9"]]) == ["1.5", None, "café"]


def test_structure_replies_are_decoded_and_empty_means_no_key():
    assert layout_for("histogram").raws([{b"3": b"2"}, {}, None]) == [{"3": "2"}, None, None]
    assert layout_for("series").raws([[b"1", "2"], []]) == [["1", "2"], None]


def test_only_counts_read_back_as_numbers_and_only_strings_are_scalar():
    assert layout_for("count").default_read is parse_number
    assert [t for t in ("series", "histogram", "count", "gauge", "set")
            if layout_for(t).default_read is not None] == ["count"]
    assert [t for t in ("series", "histogram", "count", "gauge", "set")
            if layout_for(t).scalar] == ["count", "gauge"]
