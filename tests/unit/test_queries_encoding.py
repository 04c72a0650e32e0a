"""JSON answers: shortest floats, NaN/inf as null, sets sorted, keys as text."""
import datetime
import decimal
import json
from collections import OrderedDict

from torus.encoding import dumps, to_json


def test_floats_keep_their_shortest_form_and_ints_stay_ints():
    assert dumps([0.1, 1.75, 2.0, 3, 1e16, 1e-7, 0.1 + 0.2, 2 ** 70]) == (
        b"[0.1,1.75,2.0,3,1e+16,1e-07,0.30000000000000004,1180591620717411303424]")


def test_not_finite_numbers_are_null():
    assert dumps({"a": float("nan"), "b": float("inf"), "c": -float("inf"),
                  "d": decimal.Decimal("NaN")}) == b'{"a":null,"b":null,"c":null,"d":null}'


def test_sets_are_sorted_lists_even_with_mixed_types():
    assert to_json({3, 1, 2}) == [1, 2, 3]
    assert to_json(frozenset({"b", "a"})) == ["a", "b"]
    assert to_json({10, "a", 9, None, "B"}) == [9, 10, "B", "a", None]


def test_keys_become_text():
    def named(row):
        return row
    data = OrderedDict([(1362096000, 1), (1.5, 2), (None, 3), (True, 4), (named, 5),
                        (decimal.Decimal("2"), 6), (b"k", 7)])
    assert to_json(data) == {"1362096000": 1, "1.5": 2, "null": 3, "true": 4, "named": 5, "2": 6,
                             "k": 7}
    assert to_json({float("nan"): 1, float("inf"): 2}) == {"null": 2}
    # the C encoder path and the fallback agree on plain keys
    assert dumps({1: 1, 1.5: 2, None: 3, False: 4}) == b'{"1":1,"1.5":2,"null":3,"false":4}'
    assert dumps({named: {1, 2}}) == b'{"named":[1,2]}'


def test_other_values():
    assert to_json((1, 2)) == [1, 2]
    assert to_json(decimal.Decimal("2.50")) == 2.5 and to_json(decimal.Decimal("3")) == 3
    assert to_json(b"caf\xc3\xa9") == "café"
    assert to_json(object.__new__(type("Thing", (), {"__str__": lambda self: "thing"}))) == "thing"


def test_output_is_compact_utf8():
    assert dumps({"name": "café", "v": [1]}) == '{"name":"café","v":[1]}'.encode("utf-8")
    assert json.loads(dumps({"nested": {"x": {1, 2}}})) == {"nested": {"x": [1, 2]}}


def test_every_float_is_written_as_python_writes_it():
    """orjson writes the answer when it writes the same bytes; floats it would write
    otherwise (1e-7, 0.00001) and what it refuses go through the json module."""
    floats = [1e-05, 1.5e-05, 9.9e-05, 1e-04, 2.5e-07, -1e-09, 1e-10, 1e15, 1e16, 1.5e300, 5e-324,
              -0.0, 123456.789, 1 / 3]
    for answer in ([{"datapoints": [[value, 1700000000] for value in floats]}],
                   [{"datapoints": [[value, 1700000000]]} for value in floats],
                   {"big": 2 ** 70}, {"id": 1.5, "name": "e-1 and 0.00001 in text"}):
        assert dumps(answer) == json.dumps(answer, separators=(",", ":")).encode("utf-8")
    assert dumps([{1: 2.5}, {"s": {3, 1}}]) == b'[{"1":2.5},{"s":[1,3]}]'
    stamp = datetime.datetime(2026, 11, 30, 12, 0)
    assert dumps({"when": stamp}) == ('{"when":"%s"}' % stamp).encode("utf-8")
