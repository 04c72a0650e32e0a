"""A first write and read on every backend: proves the backend matrix itself works."""


def test_count_roundtrip(make_timeseries):
    series = make_timeseries("count", {"minute": {"step": 60}})
    series.insert("hits", 2, timestamp=120)
    series.insert("hits", 3, timestamp=179)
    assert series.get("hits", "minute", timestamp=150) == {120: 5}
    assert series.list() == ["hits"]
