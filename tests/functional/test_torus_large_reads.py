"""A large read on Redis shares the server: it is fetched in pipeline chunks with a gevent yield
between them, so a small request sent while it runs is answered at once (in-process, ``make_app``).
"""
import time
import uuid

import gevent
import pytest

from tests.conftest import require
from tests.functional.test_torus_app import Client
from torus.config import ConfigHolder
from torus.web import make_app

T0 = 1362096000
CONFIG = r"""
SCHEMAS = {
    'big': {'type': 'count', 'host': %(url)r, 'prefix': %(prefix)r + 'big', 'match': r'^big\.',
            'layout': 'key',  # a key per bucket: the read of a million keys, and custom fetch
            'intervals': {'day': {'step': 86400, 'resolution': 1}}},
    'mid': {'type': 'count', 'host': %(url)r, 'prefix': %(prefix)r + 'mid', 'match': r'^mid\.',
            'layout': 'key',
            'intervals': {'hour': {'step': 3600, 'resolution': 1}}},
    'small': {'type': 'count', 'host': %(url)r, 'prefix': %(prefix)r + 'small', 'match': r'^small\.',
              'intervals': {'minute': {'step': 60}}},
}
MAX_POINTS = 2000000
MACROS = {'raw': {'fetch': lambda handle, key: handle.get(key), 'process_row': int}}
"""


@pytest.fixture
def app(tmp_path):
    pytest.importorskip("kairos.backends.redis_store")
    path = tmp_path / "large_conf.py"
    path.write_text(CONFIG % {"url": require("redis"), "prefix": "l" + uuid.uuid4().hex[:10]})
    holder = ConfigHolder([str(path)])
    holder.current.schemas["small"].timeseries.insert("small.x", 4, timestamp=T0)
    yield Client(make_app(holder, now=lambda: T0 + 30 * 86400))
    for schema in holder.current.schemas.values():
        schema.timeseries.delete_all()


def test_a_small_request_is_answered_while_a_huge_read_runs(app):
    huge = "/series?stat=big.x&interval=day&start=%d&steps=12" % T0  # 12 x 86,400 = 1,036,800 keys
    started = time.monotonic()
    reader = gevent.spawn(app.get, huge)
    try:
        gevent.sleep(0.05)  # the huge read is under way (its first chunks are in flight)
        status, body = app.get("/series?stat=small.x&start=%d&end=%d" % (T0, T0))
        answered = time.monotonic() - started
        assert (status, body[0]["datapoints"]) == (200, [[4, T0]])
        assert not reader.ready(), "the huge read finished first: nothing shows it was shared"
        # without chunks, the huge read builds and sends its million commands before it yields
        assert answered < 1.0, "the small request waited %.1f s behind the huge read" % answered
    finally:
        reader.kill()


@pytest.mark.parametrize("stat", ["mid.x", "raw(mid.x)"])
def test_a_chunked_read_returns_every_bucket(app, stat):
    """Values on both sides of chunk borders (2,000 keys) come back, native or custom fetch."""
    series = app.app.holder.current.schemas["mid"].timeseries
    seconds = [0, 1999, 2000, 2001, 3599, 3600 + 400, 3600 + 405]
    for second in seconds:
        series.insert("mid.x", second + 1, timestamp=T0 + second)
    status, body = app.get("/series?stat=%s&interval=hour&start=%d&steps=2&format=json" % (stat, T0))
    assert status == 200, body
    assert body[0]["datapoints"] == {
        str(T0): {str(T0 + s): s + 1 for s in seconds[:5]},
        str(T0 + 3600): {str(T0 + s): s + 1 for s in seconds[5:]}}
    status, body = app.get("/series?stat=%s&interval=hour&start=%d&steps=2" % (stat, T0))
    assert body[0]["datapoints"] == [[sum(s + 1 for s in seconds[:5]), T0],
                                     [sum(s + 1 for s in seconds[5:]), T0 + 3600]]
