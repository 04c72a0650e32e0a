"""``close()`` of the engines that cannot run here (MongoDB, Cassandra): what they shut down.

A Cassandra Cluster keeps threads of its own (its control connection, its event loop):
one a timeseries built from a URL must be shut down, once; one a caller passed in is the
caller's. No server is contacted: the drivers are built offline and their close calls recorded.
"""
import pymongo
import pytest
from cassandra.cluster import Cluster

from kairos import Closed, Timeseries
from kairos.backends import cassandra_conn

MINUTE = {"minute": {"step": 60}}
OFFLINE_MONGO = "mongodb://127.0.0.1:1"


class RecordingCluster(Cluster):
    """A driver Cluster that never connects and counts its shutdowns."""

    def __init__(self):
        super().__init__(contact_points=["127.0.0.1"], port=1)
        self.shutdowns = 0

    def shutdown(self):
        self.shutdowns += 1
        super().shutdown()


def test_cassandra_cluster_built_from_a_url_is_shut_down_once(monkeypatch):
    cluster = RecordingCluster()
    monkeypatch.setattr(cassandra_conn, "build_cluster", lambda url, config: (cluster, "ks"))
    series = Timeseries("cassandra://127.0.0.1:1/ks", type="count", intervals=MINUTE)
    series.close()
    series.close()
    assert cluster.shutdowns == 1
    with pytest.raises(Closed):
        series.list()  # refused before the driver is asked to connect
    assert series.session is None


def test_cassandra_cluster_passed_in_is_left_running():
    cluster = RecordingCluster()
    try:
        first = Timeseries(cluster, type="count", intervals=MINUTE)
        second = Timeseries(cluster, type="gauge", intervals=MINUTE)
        first.close()
        assert cluster.shutdowns == 0
        assert not second.closed and second.cluster is cluster
    finally:
        cluster.shutdown()


def test_mongo_client_built_from_a_url_is_closed_once(monkeypatch):
    closed = []
    monkeypatch.setattr(pymongo.MongoClient, "close", lambda client: closed.append(client))
    series = Timeseries(OFFLINE_MONGO + "/db", type="count", intervals=MINUTE,
                        client_config={"connect": False})
    client = series.client
    series.close()
    series.close()
    assert closed == [client]
    with pytest.raises(Closed):
        series.get("a", "minute", timestamp=60)


def test_mongo_client_passed_in_is_left_open(monkeypatch):
    client = pymongo.MongoClient(OFFLINE_MONGO, connect=False)
    closed = []
    monkeypatch.setattr(pymongo.MongoClient, "close", lambda client: closed.append(client))
    Timeseries(client, type="count", intervals=MINUTE).close()
    assert closed == []
