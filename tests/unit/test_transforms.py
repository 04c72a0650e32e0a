"""Built-in transforms per type and the transform specs (name, callable, list, dict)."""
import pytest

from kairos import transforms
from kairos.exceptions import InvalidValue
from kairos.transforms import compile_transform, resolve

NAMES = ["mean", "count", "min", "max", "sum"]


def apply_all(builtins, data):
    return {name: builtins[name](data, 60) for name in NAMES}


def test_series_builtins():
    assert apply_all(transforms.SERIES, [1, 2, 3, 6]) == {
        "mean": 3.0, "count": 4, "min": 1, "max": 6, "sum": 12}
    assert apply_all(transforms.SERIES, []) == {
        "mean": None, "count": 0, "min": None, "max": None, "sum": 0}


def test_histogram_builtins_weigh_values_by_occurrences():
    # values 1, 1, 3, 6: mean 11 / 4
    assert apply_all(transforms.HISTOGRAM, {1: 2, 3: 1, 6: 1}) == {
        "mean": 2.75, "count": 4, "min": 1, "max": 6, "sum": 11}
    assert apply_all(transforms.HISTOGRAM, {}) == {
        "mean": None, "count": 0, "min": None, "max": None, "sum": 0}


def test_count_builtins_answer_the_total():
    assert apply_all(transforms.COUNT, 7) == dict.fromkeys(NAMES, 7)
    assert apply_all(transforms.COUNT, 0) == dict.fromkeys(NAMES, 0)


def test_gauge_builtins_answer_the_value_and_whether_there_was_one():
    assert apply_all(transforms.GAUGE, 6) == {"mean": 6, "count": 1, "min": 6, "max": 6, "sum": 6}
    assert apply_all(transforms.GAUGE, None) == {
        "mean": None, "count": 0, "min": None, "max": None, "sum": None}


def test_set_builtins():
    assert apply_all(transforms.SET, {1, 3, 6}) == {
        "mean": 10 / 3, "count": 3, "min": 1, "max": 6, "sum": 10}
    assert apply_all(transforms.SET, set()) == {
        "mean": None, "count": 0, "min": None, "max": None, "sum": 0}


def test_two_argument_callables_get_the_duration():
    rate = resolve(lambda data, duration: sum(data) / duration, transforms.SERIES)
    assert rate([30, 90], 60) == 2.0

    def per_minute(data, duration=1):
        return sum(data) * 60 / duration
    assert resolve(per_minute, transforms.SERIES)([5], 300) == 1.0


def test_one_argument_callables_get_the_data_only():
    assert resolve(lambda row: len(row), transforms.SERIES)([1, 2, 3], 60) == 3

    def spread(data):
        return max(data) - min(data)
    assert resolve(spread, transforms.SERIES)([4, 1, 9], 60) == 8
    # Python's own functions: sum(data, 60) would add the duration
    assert resolve(sum, transforms.SERIES)([1, 2], 60) == 3
    assert resolve(len, transforms.SERIES)([1, 2], 60) == 2
    assert resolve(max, transforms.SERIES)([1, 2], 60) == 2


def test_list_transform_keys_results_by_item():
    size = len
    apply = compile_transform(["mean", "max", size], transforms.SERIES)
    assert apply([2, 4], 60) == {"mean": 3.0, "max": 4, size: 2}


def test_dict_transform_keys_results_by_name():
    apply = compile_transform({"avg": "mean", "rate": lambda d, s: sum(d) / s, "n": len},
                              transforms.SERIES)
    assert apply([30, 90], 60) == {"avg": 60.0, "rate": 2.0, "n": 2}


@pytest.mark.parametrize("spec, fragment", [
    ("median", "unknown transform 'median'"),
    (42, "transform must be a name"),
    (["mean", "p99"], "unknown transform 'p99'"),
    ({"x": None}, "transform must be a name"),
])
def test_bad_transforms_raise_naming_them(spec, fragment):
    with pytest.raises(InvalidValue, match=fragment):
        compile_transform(spec, transforms.SERIES)
