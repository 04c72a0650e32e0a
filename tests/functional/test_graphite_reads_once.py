"""/render reads each stored bucket once per request: functions that evaluate their argument
again over a longer window (movingAverage and its kin, summarize) take what the first read
read and read only the buckets it lacked, and answer as two full reads did.

On real SQLite and Redis data; the old behaviour is the same source without its memory of
reads (``reads = None``).
"""
import datetime
import random
import time
import uuid

import pytest

from tests.conftest import require
from torus.config import Configuration
from torus.graphite.evaluator import Context, evaluate_targets
from torus.graphite.render import RenderOptions, to_json
from torus.graphite.storage_source import StoreSource

NOW = int(time.time()) // 3600 * 3600  # Redis does not store what is past its retention
DAY = 86400
CONFIG = """
SCHEMAS = {{
    'gauges': {{'type': 'gauge', 'host': {host!r}, {store}: {token!r}, 'match': r'^g\\.',
               'intervals': {{'minute': {{'step': 60, 'steps': 2880}},
                             'hour': {{'step': 3600, 'steps': 720}}}}}},
}}
"""
TARGETS = [
    "g.*",
    "movingAverage(g.*,5)",
    "movingMax(sumSeries(removeBelowValue(g.*,-50)),'10min')",
    "alias(movingAverage(scale(offset(absolute(keepLastValue(transformNull(derivative(sumSeries("
    "removeBelowValue(g.*,-1000))),0),2)),1),0.5),5),'ten')",
    "movingSum(g.a,60)",  # reaches past the minutes kept in the window: more read before it
    "movingMedian(g.b,'3h')",  # 3h before a 2-day window: a coarser interval for the longer one
    "summarize(g.a,'1h','sum',true)",
    "movingAverage(summarize(g.b,'10min','max'),3)",
    "timeShift(g.a,'1h')",
    "g.a",
]


@pytest.fixture(params=["sqlite", "redis"])
def config(request, tmp_path):
    token = "ro" + uuid.uuid4().hex[:8]
    if request.param == "sqlite":
        host, store = "sqlite:///%s/reads.db" % tmp_path, "'table_name'"
    else:
        host, store = require("redis"), "'prefix'"
    path = tmp_path / "conf.py"
    path.write_text(CONFIG.format(host=host, store=store, token=token))
    config = Configuration([str(path)])
    rng = random.Random(7)
    inserts = {}
    for name in ("g.a", "g.b", "g.c"):
        for stamp in range(NOW - 2 * DAY, NOW, 60):
            if rng.random() < 0.9:  # gaps here and there
                inserts.setdefault(stamp, {})[name] = [round(rng.uniform(-100, 100), 2)]
    config.schemas["gauges"].timeseries.bulk_insert(inserts)
    assert answer(config, "g.c", NOW - DAY, NOW).count(b"null") < 300  # the data is there
    yield config
    config.schemas["gauges"].timeseries.delete_all()
    config.close()


def answer(config, target, start, end, remember=True):
    source = StoreSource(config)
    if not remember:
        source.reads = None  # every evaluation reads its whole window, as before
    context = Context(start=start, end=end, now=NOW, source=source)
    series = evaluate_targets(context, [target])
    options = RenderOptions(targets=[target], start=start, end=end, now=NOW,
                            tz=datetime.timezone.utc, format="json", max_data_points=None,
                            no_null_points=False, pretty=False)
    return to_json(series, options)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("hours", [3, 24, 47])
def test_answers_are_those_of_two_full_reads(config, target, hours):
    start, end = NOW - hours * 3600, NOW
    assert answer(config, target, start, end) == answer(config, target, start, end, remember=False)


def test_moving_average_reads_its_window_and_the_points_before_it_once(config, monkeypatch):
    timeseries = config.schemas["gauges"].timeseries
    reads = []
    real = timeseries.points_list
    monkeypatch.setattr(timeseries, "points_list", lambda names, interval, start, stop, **kw: (
        reads.append((interval, start, stop - 1)), real(names, interval, start, stop, **kw))[1])
    start = NOW - 6 * 3600
    answer(config, "movingAverage(g.*,5)", start, NOW)
    first = start - start % 60 + 60
    # the window, then the 5 minutes before it: 365 buckets read, not 360 + 365
    assert reads == [("minute", first, NOW + 60 - 1), ("minute", first - 300, first - 1)]
