"""A primary of a Redis Cluster fails during steady ingest: every point is stored exactly once
(or is in the dead letters, never both) and torus keeps answering (real servers).

The primary is stopped with SIGSTOP, as a hung machine: the kernel still delivers what it
already wrote to its replica, it answers nothing, the other nodes fail it over to its
replica after the node timeout, and it is killed (SIGKILL) once they did, without ever
running what karbon sent it meanwhile. karbon's writes to it time out and are sent
again to the replica that took over, under the same batch markers.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse

import gevent
import pytest

from tests import redis_cluster
from tests.conftest import IN_CI, ROOT
from tests.functional.test_karbon import BASE_TS, send, wait_until
from tests.functional.torus_support import TorusProcess
from torus.config import Configuration

STATS = ["c.s%d" % n for n in range(300)]  # over every shard's node
HOUR = BASE_TS - BASE_TS % 3600


def private_cluster(tmp_path, node_timeout_ms):
    try:
        started = redis_cluster.start(str(tmp_path / "cluster"), node_timeout_ms=node_timeout_ms)
    except redis_cluster.ClusterError as err:
        if IN_CI:
            pytest.fail("CI is set and no Redis Cluster: %s" % err, pytrace=False)
        pytest.skip("no Redis Cluster: %s" % err)
    yield started
    started.stop()


@pytest.fixture
def cluster(tmp_path):
    """A private cluster with a 1 s node timeout (a failover takes 2-3 s)."""
    yield from private_cluster(tmp_path, 1000)


@pytest.fixture
def steady_cluster(tmp_path):
    """A private cluster with a 5 s node timeout: a node paused for 1.5 s is not failed over."""
    yield from private_cluster(tmp_path, 5000)


def evalsha_calls(port):
    import redis
    stats = redis.Redis(port=port).info("commandstats")
    return stats.get("cmdstat_evalsha", {}).get("calls", 0)


def paused(cluster, port, seconds):
    """Pause a node for ``seconds`` in the background (a greenlet resumes it)."""
    cluster.signal(port, signal.SIGSTOP)
    return gevent.spawn_later(seconds, cluster.signal, port, signal.SIGCONT)


def test_a_batch_sent_again_after_lost_replies_is_applied_once(steady_cluster, unique_name):
    """A primary stops answering for longer than the socket timeout, then runs every copy it
    was sent: the batch's markers make all copies but one no-ops."""
    from kairos import Timeseries
    ts = Timeseries(steady_cluster.url, type="count", intervals={"hour": {"step": 3600}},
                    prefix=unique_name, client_config={"socket_timeout": 0.5})
    names = ["n%d" % n for n in range(100)]
    node = ts.client.nodes_manager.get_node_from_slot(ts.keys.slots[ts.keys.shard("n0")])
    shards = {ts.keys.shard(name) for name in names
              if ts.client.nodes_manager.get_node_from_slot(ts.keys.slots[ts.keys.shard(name)])
              is node}
    ts.bulk_insert({BASE_TS: {name: [1] for name in names}}, batch_id="b0")  # loads the script
    calls = evalsha_calls(node.port)
    resumer = paused(steady_cluster, node.port, 1.5)
    ts.bulk_insert({BASE_TS: {name: [1] for name in names}}, batch_id="b1")
    resumer.join()
    assert evalsha_calls(node.port) - calls >= 2 * len(shards)  # copies arrived and ran...
    assert {name: ts.get(name, "hour", timestamp=BASE_TS)[HOUR] for name in names} == \
        dict.fromkeys(names, 2)  # ...and were applied once
    ts.delete_all()
    ts.close()


def test_a_batch_without_id_is_not_sent_again_after_a_lost_reply(steady_cluster, unique_name):
    """Without markers a copy could count twice: a lost reply is an error, the batch is not
    sent again, and what the node runs later is counted once."""
    from kairos import BackendError, Timeseries
    ts = Timeseries(steady_cluster.url, type="count", intervals={"hour": {"step": 3600}},
                    prefix=unique_name, client_config={"socket_timeout": 0.5})
    node = ts.client.nodes_manager.get_node_from_slot(ts.keys.slots[ts.keys.shard("a")])
    ts.bulk_insert({BASE_TS: {"a": [1]}})  # loads the script: the late copy runs, not NOSCRIPT
    resumer = paused(steady_cluster, node.port, 1.5)
    with pytest.raises(BackendError, match="Timeout"):
        ts.bulk_insert({BASE_TS: {"a": [1]}})
    resumer.join()
    wait_until(lambda: ts.get("a", "hour", timestamp=BASE_TS)[HOUR] == 2, "the late write")
    gevent.sleep(0.5)
    assert ts.get("a", "hour", timestamp=BASE_TS)[HOUR] == 2
    ts.delete_all()
    ts.close()


def config_text(url, prefix):
    return textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'prefix': %r, 'match': r'^c\\.',
                              'client_config': {'socket_timeout': 1, 'socket_connect_timeout': 1},
                              'intervals': {'10s': {'step': 10}, 'hour': {'step': 3600}}}}
        """) % (url, prefix)


def dead_letter_points(folder):
    """``{stat: points}`` of the dead-letter files (counts of value 1: the values' sum)."""
    out = {}
    for name in os.listdir(folder) if folder.exists() else ():
        for line in (folder / name).read_text().splitlines():
            if line and not line.startswith("#"):
                stat, value, _ = line.split()
                out[stat] = out.get(stat, 0) + int(float(value))
    return out


def test_a_primary_fails_during_ingest_and_every_point_is_stored_once(
        tmp_path, cluster, start_karbon, unique_name):
    letters = tmp_path / "letters"
    karbon = start_karbon(config_text(cluster.url, unique_name), "--dead-letter", str(letters))
    torus = TorusProcess([str(karbon.config)])
    sent = dict.fromkeys(STATS, 0)
    answers = []
    sending = True

    def ingest():
        second = 0
        while sending or second < 20:
            send(karbon.port, b"".join(b"%s 1 %d\n" % (stat.encode(), BASE_TS + second)
                                       for stat in STATS))
            for stat in STATS:
                sent[stat] += 1
            second += 1
            gevent.sleep(0.1)

    def query():
        query = urllib.parse.urlencode({"stat": "c.s1", "interval": "hour", "start": HOUR,
                                        "end": HOUR})
        while sending:
            started = time.monotonic()
            status, _ = torus.get("/series?" + query)
            answers.append((status, time.monotonic() - started))
            gevent.sleep(0.2)

    workers = [gevent.spawn(ingest), gevent.spawn(query)]
    try:
        gevent.sleep(2)
        before = cluster.primaries()
        victim = before[0]
        cluster.signal(victim, signal.SIGSTOP)
        others = [port for port in cluster.ports if port != victim]
        gevent.sleep(1.5)  # the node timeout: from here the others vote
        cluster.wait_healthy(others, deadline=30)
        cluster.signal(victim, signal.SIGKILL)
        gevent.sleep(3)  # ingest and queries go on against the new primary
    finally:
        sending = False
        gevent.joinall(workers, timeout=120, raise_error=True)
    after = cluster.primaries()
    assert victim not in after and len(after) == 3, (before, after)

    assert karbon.stop() == 0, karbon.output()
    assert torus.stop() == 0, torus.log
    counts = Configuration([str(karbon.config)]).schemas["counts"].timeseries
    stored = {stat: counts.get(stat, "hour", timestamp=BASE_TS)[HOUR] for stat in STATS}
    dead = dead_letter_points(letters)
    assert sum(sent.values()) >= 20 * len(STATS)
    assert {stat: stored[stat] + dead.get(stat, 0) for stat in STATS} == sent

    if dead:  # what karbon gave up on was never stored: replaying it adds exactly that
        replay = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "karbon_replay"),
                                 "--config", str(karbon.config), str(letters)],
                                capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        stored = {stat: counts.get(stat, "hour", timestamp=BASE_TS)[HOUR] for stat in STATS}
        assert stored == sent

    assert answers and all(status == 200 for status, _ in answers), answers
    print("dead letters: %d points; slowest /series: %.2fs; points sent: %d"
          % (sum(dead.values()), max(elapsed for _, elapsed in answers), sum(sent.values())))
    wait_until(lambda: counts.ping() is None, "the cluster to answer")
    counts.delete_all()
    counts.close()
