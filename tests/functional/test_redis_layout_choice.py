"""The layout a Redis prefix holds (``kairos/backends/redis_layout_choice.py``), against a real
server: a new prefix gets window hashes, data written before markers existed keeps being
read as it was written, and a ``layout`` option contradicting the prefix is refused.
"""
import pytest

from kairos import ConfigError, Timeseries
from tests.functional.test_redis_engine import prefix, raw, url  # noqa: F401 (fixtures)

MINUTE = {"minute": {"step": 60}}


@pytest.fixture
def make(url, prefix):
    made = []

    def build(type="count", **options):
        options.setdefault("prefix", prefix)
        series = Timeseries(url, type=type, intervals=MINUTE, **options)
        made.append(series)
        return series
    yield build
    for series in made:
        series.close()


def data_keys(raw, prefix):
    return sorted(k for k in raw.scan_iter(match=prefix + ":*", count=1000)
                  if not k.endswith(("!names", "!layout")))


def marker(raw, prefix):
    return raw.get(prefix + ":!layout")


@pytest.mark.parametrize("type", ["count", "gauge"])
def test_a_new_prefix_gets_window_hashes_and_is_marked(make, raw, prefix, type):
    series = make(type, read_func=int)
    assert marker(raw, prefix) is None  # setting up does no I/O
    series.bulk_insert({60: {"a": [3]}, 120: {"a": [4]}})
    assert marker(raw, prefix) == "hash"
    assert data_keys(raw, prefix) == ["%s:a:minute:#0" % prefix]
    assert series.series("a", "minute", start=60, end=120) == {60: 3, 120: 4}


@pytest.mark.parametrize("layout", ["key", "hash"])
def test_unmarked_data_of_either_layout_is_read_and_written_as_it_was(make, raw, prefix, layout):
    """Data written before markers existed: the first key a SCAN meets tells its layout."""
    make(layout=layout).bulk_insert({60: {"a": [1]}})
    raw.delete(prefix + ":!layout")  # as a prefix of an older kairos
    keys = data_keys(raw, prefix)
    reader = make()
    assert reader.get("a", "minute", timestamp=60) == {60: 1}
    assert marker(raw, prefix) is None  # a reader never marks
    writer = make()
    writer.bulk_insert({60: {"a": [2], "b": [5]}})
    assert marker(raw, prefix) == layout
    assert writer.get("a", "minute", timestamp=60) == {60: 3}
    assert reader.series_many(["a", "b"], "minute", start=60, end=60) == [{60: 3}, {60: 5}]
    assert len(data_keys(raw, prefix)) == len(keys) + 1  # b's own key or window hash


def test_an_option_contradicting_the_prefix_is_refused_and_writes_nothing(make, raw, prefix):
    make(layout="key").insert("a", 1, timestamp=60)
    before = data_keys(raw, prefix)
    hashed = make(layout="hash")
    with pytest.raises(ConfigError, match=r"holds the 'key' layout .* not the 'hash'"):
        hashed.insert("b", 1, timestamp=60)
    with pytest.raises(ConfigError, match="holds the 'key' layout"):
        hashed.get("a", "minute", timestamp=60)
    assert data_keys(raw, prefix) == before
    assert make().get("a", "minute", timestamp=60) == {60: 1}  # no option: the prefix's own


def test_a_reader_started_first_follows_the_layout_its_writer_chooses(make, raw, prefix):
    reader = make()  # a torus before karbon wrote anything
    assert reader.get("a", "minute", timestamp=60) == {60: 0}
    writer = make(layout="key")
    writer.insert("a", 4, timestamp=60)
    assert reader.get("a", "minute", timestamp=60) == {60: 4}
    assert reader.list() == ["a"]


def test_the_first_marker_stored_wins_for_every_process(make, raw, prefix):
    first, second = make(), make()
    second.get("a", "minute", timestamp=60)  # read while the prefix is empty and unmarked
    make(layout="key").insert("a", 1, timestamp=60)  # another process marks it first
    first.insert("a", 1, timestamp=60)
    second.insert("a", 1, timestamp=60)
    assert marker(raw, prefix) == "key"
    assert data_keys(raw, prefix) == ["%s:a:minute:1" % prefix]
    assert first.get("a", "minute", timestamp=60) == {60: 3}


def test_delete_all_keeps_the_layout_of_the_prefix(make, raw, prefix):
    series = make(layout="key")
    series.insert("a", 1, timestamp=60)
    series.delete_all()
    assert data_keys(raw, prefix) == [] and marker(raw, prefix) == "key"
    again = make()  # a process started after: the prefix is still a key prefix
    again.insert("a", 2, timestamp=60)
    assert data_keys(raw, prefix) == ["%s:a:minute:1" % prefix]


@pytest.mark.parametrize("type", ["series", "histogram", "set"])
def test_types_without_a_hash_encoding_never_touch_the_marker(make, raw, prefix, type):
    series = make(type)
    series.insert("a", 1, timestamp=60)
    assert marker(raw, prefix) is None
    assert data_keys(raw, prefix) == ["%s:a:minute:1" % prefix]
    # a count of the same prefix then chooses by the data: a key per bucket
    make("count").insert("c", 1, timestamp=60)
    assert marker(raw, prefix) == "key"


def test_a_marker_that_is_not_a_layout_is_an_error(make, raw, prefix):
    from kairos import BackendError
    raw.set(prefix + ":!layout", "zip")
    with pytest.raises(BackendError, match="holds 'zip', not a kairos layout"):
        make().insert("a", 1, timestamp=60)


def test_a_cluster_prefix_gets_window_hashes_too(redis_cluster_url, unique_name):
    series = Timeseries(redis_cluster_url, type="count", intervals=MINUTE, prefix=unique_name)
    try:
        series.bulk_insert({60: {"a": [2]}})
        assert series.client.get(unique_name + ":!layout") == "hash"
        assert series.layout.hashed
        assert series.get("a", "minute", timestamp=60) == {60: 2}
        assert series.list() == ["a"]
    finally:
        series.delete_all()
        series.client.delete(unique_name + ":!layout")
        series.close()


FIRST_READS = {
    "get": lambda s: s.get("a", "minute", timestamp=60)[60],
    "series": lambda s: s.series("a", "minute", start=60, end=60)[60],
    "series_many": lambda s: s.series_many(["a"], "minute", start=60, end=60)[0][60],
    "points": lambda s: s.points(["a"], "minute", 60, 60)["a"][60],
    "points_list": lambda s: s.points_list(["a"], "minute", 60, 120)["a"][0],
    "iterate": lambda s: dict(s.iterate("a", "minute"))[60],
}


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "unmarked"])
@pytest.mark.parametrize("read", sorted(FIRST_READS))
def test_every_read_settles_the_layout_before_it_builds_a_key(make, raw, prefix, read, marked):
    """A fresh reader whose very first call is any read: the key layout's data, not zeros."""
    make(layout="key").insert("a", 5, timestamp=60)
    if not marked:
        raw.delete(prefix + ":!layout")
    assert FIRST_READS[read](make(read_func=int)) == 5


@pytest.mark.parametrize("stored, asked", [("key", "hash"), ("hash", "key")])
def test_an_option_contradicting_unmarked_data_is_refused(make, raw, prefix, stored, asked):
    make(layout=stored).insert("a", 1, timestamp=60)
    raw.delete(prefix + ":!layout")  # data of an older kairos
    before = data_keys(raw, prefix)
    for call in (lambda s: s.get("a", "minute", timestamp=60),
                 lambda s: s.series_many(["a"], "minute", start=60, end=60),
                 lambda s: s.insert("b", 1, timestamp=60)):
        with pytest.raises(ConfigError, match=r"holds data in the %r layout .* not the %r"
                           % (stored, asked)):
            call(make(layout=asked))
    assert data_keys(raw, prefix) == before and marker(raw, prefix) is None
