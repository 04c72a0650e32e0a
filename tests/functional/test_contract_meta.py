"""Backend contract, meta data and deletion: list, properties, delete, delete_all, expire."""
import calendar
import time

NUM = {"read_func": float}


def utc(*fields):
    return calendar.timegm(tuple(fields) + (0,) * (6 - len(fields)) + (0, 0, 0))


def test_list_names_every_stat_sorted(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60}, "hour": {"step": 3600}}, **NUM)
    assert ts.list() == []
    ts.bulk_insert({0: {"web.hits": [1], "db.reads": [2]}, 7200: {"api.calls": [3], "db.reads": [1]}})
    assert ts.list() == ["api.calls", "db.reads", "web.hits"]


def test_properties_give_first_and_last_bucket_per_interval(make_timeseries):
    ts = make_timeseries("series", {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60},
                                    "day": {"step": "daily"}}, **NUM)
    ts.bulk_insert({65: {"a": [1]}, 7199: {"a": [2]}, 90: {"b": [3]}})
    ts.insert("a", 3, timestamp=utc(2000, 1, 1, 12))
    assert ts.properties("a") == {
        "minute": {"first": 60, "last": utc(2000, 1, 1, 12)},
        "hour": {"first": 0, "last": utc(2000, 1, 1, 12)},
        "day": {"first": 0, "last": 946684800},
    }
    assert ts.properties("b") == {"minute": {"first": 60, "last": 60}, "hour": {"first": 0, "last": 0},
                                  "day": {"first": 0, "last": 0}}
    assert ts.properties("nothing") == {}


def test_properties_omit_intervals_without_data(make_timeseries):
    # 1970 is far outside the minute interval's retention of 2 steps: expire() removes it
    # (engines with TTLs never keep it); the hour interval keeps everything
    ts = make_timeseries("count", {"minute": {"step": 60, "steps": 2}, "hour": {"step": 3600}},
                         **NUM)
    ts.insert("a", 1, timestamp=120)
    ts.expire("a")
    assert ts.properties("a") == {"hour": {"first": 0, "last": 0}}


def test_delete_removes_one_name_from_every_interval(make_timeseries):
    ts = make_timeseries("histogram", {"minute": {"step": 60}, "hour": {"step": 3600}}, **NUM)
    ts.bulk_insert({0: {"a": [1], "b": [2]}, 4000: {"a": [3]}})
    ts.delete("a")
    assert ts.list() == ["b"]
    assert ts.properties("a") == {}
    assert ts.series("a", "hour", start=0, end=3600) == {0: {}, 3600: {}}
    assert ts.get("b", "minute", timestamp=0) == {0: {2: 1}}
    ts.delete("never-written")
    assert ts.list() == ["b"]


def test_delete_all_removes_every_name_of_this_timeseries_only(make_timeseries):
    ts = make_timeseries("set", {"minute": {"step": 60}}, **NUM)
    other = make_timeseries("set", {"minute": {"step": 60}}, **NUM)
    ts.bulk_insert({0: {"a": [1], "b": [2]}})
    other.insert("a", 5, timestamp=0)
    ts.delete_all()
    assert ts.list() == []
    assert ts.get("a", "minute", timestamp=0) == {0: set()}
    assert other.list() == ["a"]
    assert other.get("a", "minute", timestamp=0) == {0: {5}}


def _hour_clear_of_its_end():
    """Now, at least 10 s before the next hour starts (so one test sees one current hour)."""
    now = time.time()
    left = 3600 - now % 3600
    if left < 10:
        time.sleep(left + 0.1)
        now = time.time()
    return now


def test_expire_keeps_only_the_last_steps_buckets(make_timeseries):
    ts = make_timeseries("count", {"hour": {"step": 3600, "steps": 2}, "day": {"step": 86400}},
                         **NUM)
    now = _hour_clear_of_its_end()
    hour = int(now // 3600) * 3600
    ts.bulk_insert({hour + 1: {"a": [1], "b": [100]}, hour - 3600: {"a": [2]},
                    hour - 7200: {"a": [4]}, hour - 36000: {"a": [8]}})
    ts.expire("a")
    # steps=2: the current hour and the one before it stay
    assert ts.series("a", "hour", start=hour - 3 * 3600, end=hour) == {
        hour - 10800: 0, hour - 7200: 0, hour - 3600: 2, hour: 1}
    assert ts.properties("a")["hour"] == {"first": hour - 3600, "last": hour}
    # an interval without steps keeps everything
    assert ts.series("a", "day", start=hour - 36000, end=hour, collapse=True)[
        int((hour - 36000) // 86400) * 86400] == 15
    assert ts.get("b", "hour", timestamp=hour) == {hour: 100}


def test_expire_all_expires_every_stat(make_timeseries):
    ts = make_timeseries("gauge", {"hour": {"step": 3600, "steps": 2}}, **NUM)
    now = _hour_clear_of_its_end()
    hour = int(now // 3600) * 3600
    ts.bulk_insert({hour: {"a": [1], "b": [2]}, hour - 36000: {"a": [3], "b": [4]}})
    ts.expire_all()
    for name, value in (("a", 1), ("b", 2)):
        assert ts.properties(name)["hour"] == {"first": hour, "last": hour}
        assert ts.get(name, "hour", timestamp=hour) == {hour: value}


def test_expire_of_a_timeseries_without_steps_keeps_everything(make_timeseries):
    ts = make_timeseries("series", {"minute": {"step": 60}}, **NUM)
    ts.insert("a", 1, timestamp=0)
    ts.expire("a")
    assert ts.get("a", "minute", timestamp=0) == {0: [1]}
