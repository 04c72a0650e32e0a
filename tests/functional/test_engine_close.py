"""``Timeseries.close()`` against real servers: what a timeseries opened from a URL is closed,
a client passed in stays open for the other timeseries sharing it."""
import os
import uuid

import pytest
import redis
import sqlalchemy as sa

from kairos import Closed, Timeseries
from kairos.backends import sql_engine
from tests.conftest import require
from tests.functional.connections import open_files, postgres_backends, redis_clients, settled

MINUTE = {"minute": {"step": 60}}


@pytest.fixture
def token():
    return "k" + uuid.uuid4().hex[:10]


def test_postgresql_url_engine_is_disposed_on_close(token):
    url = "%s?application_name=%s" % (require("postgresql"), token)
    ts = Timeseries(url, type="count", intervals=MINUTE, table_name=token)
    other = Timeseries(url, type="count", intervals=MINUTE, table_name=token)  # an engine of its own
    try:
        ts.insert("a", 1, timestamp=60)
        other.insert("a", 1, timestamp=60)
        assert postgres_backends(token) == 2
        ts.close()
        assert settled(lambda: postgres_backends(token), 1) == 1
        assert other.get("a", "minute", timestamp=60) == {60: 2}
    finally:
        other.table.drop(other.db, checkfirst=True)
        other.names.drop(other.db, checkfirst=True)
        other.close()
    assert settled(lambda: postgres_backends(token), 0) == 0


def test_postgresql_engine_passed_in_stays_open_for_its_other_timeseries(token):
    engine = sql_engine.create("%s?application_name=%s" % (require("postgresql"), token), {})
    first = Timeseries(engine, type="count", intervals=MINUTE, table_name=token + "_1")
    second = Timeseries(engine, type="gauge", intervals=MINUTE, table_name=token + "_2")
    try:
        first.insert("a", 1, timestamp=60)
        first.close()
        with pytest.raises(Closed):
            first.get("a", "minute", timestamp=60)
        second.insert("a", 7, timestamp=60)  # the shared engine still works
        assert second.get("a", "minute", timestamp=60) == {60: 7.0}
        assert postgres_backends(token) == 1
    finally:
        for ts in (first, second):
            ts.table.drop(engine, checkfirst=True)
            ts.names.drop(engine, checkfirst=True)
        engine.dispose()


def test_redis_url_pool_is_disconnected_on_close(token):
    url = require("redis")
    ts = Timeseries(url, type="count", intervals=MINUTE, prefix=token,
                    client_config={"client_name": token})
    try:
        ts.insert("a", 1, timestamp=60)
        assert redis_clients(token) == 1
    finally:
        ts.delete_all()
    ts.close()
    assert settled(lambda: redis_clients(token), 0) == 0


def test_redis_client_passed_in_stays_open(token):
    client = redis.Redis.from_url(require("redis"), client_name=token)
    first = Timeseries(client, type="count", intervals=MINUTE, prefix=token + "1")
    second = Timeseries(client, type="count", intervals=MINUTE, prefix=token + "2")
    try:
        first.insert("a", 1, timestamp=60)
        first.delete_all()
        first.close()
        second.insert("a", 2, timestamp=60)
        assert second.get("a", "minute", timestamp=60) == {60: 2}
        assert redis_clients(token) == 1
    finally:
        second.delete_all()
        client.close()


def test_sqlite_file_is_closed_on_close(tmp_path):
    path = str(tmp_path / "close.db")
    ts = Timeseries("sqlite:///" + path, type="count", intervals=MINUTE)
    ts.insert("a", 1, timestamp=60)
    assert ts.get("a", "minute", timestamp=60) == {60: 1}
    assert open_files(os.getpid(), path) >= 1
    ts.close()
    assert open_files(os.getpid(), path) == 0


def test_sqlite_engine_passed_in_is_not_disposed(tmp_path):
    path = str(tmp_path / "shared.db")
    engine = sa.create_engine("sqlite:///" + path)
    ts = Timeseries(engine, type="count", intervals=MINUTE)
    ts.insert("a", 1, timestamp=60)
    ts.close()
    assert open_files(os.getpid(), path) >= 1  # the caller's pool keeps its connection
    engine.dispose()
    assert open_files(os.getpid(), path) == 0
