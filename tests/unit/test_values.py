"""kairos.values: the coercions and orderings every storage engine shares."""
import decimal

import pytest

from kairos.exceptions import InvalidValue
from kairos.values import (bucket_order, checked, to_bool, to_bytes, to_decimal, to_float, to_int,
                           value_order)


def test_numbers_refuse_booleans_and_fractions():
    assert to_float("2.5") == 2.5 and to_int(3.0) == 3 and to_int("-7") == -7
    for coerce, bad in ((to_float, True), (to_int, False), (to_int, 2.5), (to_int, 2 ** 63),
                        (to_int, -2 ** 63 - 1)):
        with pytest.raises((TypeError, ValueError)):
            coerce(bad)
    assert to_int(2 ** 63 - 1) == 2 ** 63 - 1 and to_int(-2 ** 63) == -2 ** 63


def test_text_forms():
    assert [to_bool(v) for v in ("Yes", " off ", "1", "", 0, 2)] == [True, False, True, False,
                                                                     False, True]
    with pytest.raises(ValueError):
        to_bool("maybe")
    assert to_bytes("é") == b"\xc3\xa9" and to_bytes(b"x") == b"x"
    assert to_decimal(0.1) == decimal.Decimal("0.1")


def test_checked_names_the_value_and_the_column():
    check = checked(to_int, "BIGINT")
    assert check("5") == 5
    with pytest.raises(InvalidValue, match=r"'x' cannot be stored in a BIGINT column"):
        check("x")


def test_orders_are_total_over_mixed_values_and_missing_resolutions():
    values = ["b", 2.5, 1, "a", b"z", decimal.Decimal("2")]
    assert sorted(values, key=value_order) == [1, decimal.Decimal("2"), 2.5, b"z", "a", "b"]
    batch = {("n", "i", 2, None): 0, ("n", "i", 1, 7): 0, ("n", "i", 1, None): 0}
    assert [k for k, _ in sorted(batch.items(), key=bucket_order)] == [
        ("n", "i", 1, None), ("n", "i", 1, 7), ("n", "i", 2, None)]
