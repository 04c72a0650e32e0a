"""Per-type semantics without a database: empty rows, batching, reading, merging."""
from collections import OrderedDict

import pytest

from kairos.exceptions import InvalidValue
from kairos.types import TYPES, CountType, GaugeType, HistogramType, SeriesType, SetType

A = ("a", "minute", 1, None)
B = ("b", "minute", 1, None)


def test_registry_names_every_type():
    assert set(TYPES) == {"series", "histogram", "count", "gauge", "set"}
    assert all(TYPES[name].type_name == name for name in TYPES)


@pytest.mark.parametrize("kind, empty", [
    (SeriesType, []), (HistogramType, {}), (CountType, 0), (GaugeType, None), (SetType, set()),
])
def test_empty_rows(kind, empty):
    value = kind().empty()
    assert value == empty and type(value) is type(empty)
    assert kind().process_row(None) == empty


def test_only_counts_have_a_default_value():
    assert CountType().default_value() == 1
    for kind in (SeriesType, HistogramType, GaugeType, SetType):
        with pytest.raises(InvalidValue, match="needs a value"):
            kind().default_value()


def test_series_aggregate_keeps_arrival_order_per_bucket():
    batch = SeriesType().aggregate([(A, 3), (B, 9), (A, 1), (A, 3)])
    assert batch == {A: [3, 1, 3], B: [9]}


def test_histogram_aggregate_counts_occurrences():
    batch = HistogramType().aggregate([(A, 3), (A, 1), (A, 3), (B, 3)])
    assert batch == {A: {3: 2, 1: 1}, B: {3: 1}}


def test_count_aggregate_sums_and_rejects_non_numbers():
    assert CountType().aggregate([(A, 1), (A, 5), (A, -3), (B, 0.25)]) == {A: 3, B: 0.25}
    for bad in ("abc", True, None, [1]):
        with pytest.raises(InvalidValue, match="count increment must be a number"):
            CountType().aggregate([(A, bad)])


def test_gauge_aggregate_keeps_the_last_value():
    assert GaugeType().aggregate([(A, 5), (B, 1), (A, 7)]) == {A: 7, B: 1}


def test_set_aggregate_keeps_unique_values():
    assert SetType().aggregate([(A, 3), (A, 1), (A, 3)]) == {A: {1, 3}}


def test_process_row_applies_read_func():
    assert SeriesType(float).process_row(["1", "2.5"]) == [1.0, 2.5]
    # two stored keys that read to the same number are merged
    assert HistogramType(float).process_row({"1": 2, "1.0": 1, "3": "4"}) == {1.0: 3, 3.0: 4}
    assert CountType(int).process_row("7") == 7
    assert CountType(int).process_row("") == 0
    assert GaugeType(float).process_row("2.5") == 2.5
    assert SetType(int).process_row(["1", "2", "1"]) == {1, 2}


def test_condense_merges_rows():
    assert SeriesType().condense([[1, 2], [], [3]]) == [1, 2, 3]
    assert HistogramType().condense([{1: 2}, {}, {1: 1, 5: 1}]) == {1: 3, 5: 1}
    assert CountType().condense([2, 0, -5, 10]) == 7
    assert GaugeType().condense([4, None, 6, None]) == 6
    assert GaugeType().condense([None, None]) is None
    assert SetType().condense([{1}, set(), {1, 2}]) == {1, 2}


@pytest.mark.parametrize("kind", list(TYPES.values()))
def test_condense_of_nothing_is_empty(kind):
    assert kind().condense([]) == kind().empty()


def test_condense_accepts_ordered_dict_values():
    rows = OrderedDict([(0, [1]), (60, [2])])
    assert SeriesType().condense(list(rows.values())) == [1, 2]
