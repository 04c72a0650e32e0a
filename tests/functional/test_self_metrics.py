"""Self-metrics of real karbon and torus processes: Prometheus text parsed with prometheus-client's
own parser and checked against what the test sent; /health and /ready (flipping with a private
Redis); Carbon-style SELF_METRICS written by karbon and read back through torus /series."""
import json
import re
import socket
import textwrap
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.functional.test_karbon import DEADLINE, Karbon, send, wait_until
from tests.functional.torus_support import TorusProcess

BASE_TS = 1700000000


def config_text(tmp_path, token, extra="", redis_url=None):
    """Gauges and counts on SQLite (and a schema on ``redis_url`` when given)."""
    host = "sqlite:///%s" % (tmp_path / "self.db")
    text = textwrap.dedent("""
        SCHEMAS = {
            'gauges': {'type': 'gauge', 'host': %(host)r, 'match': r'^g\\.',
                       'table_name': '%(token)s_g', 'intervals': {'10s': {'step': 10}}},
            'counts': {'type': 'count', 'host': %(host)r, 'match': r'^c\\.',
                       'table_name': '%(token)s_c', 'intervals': {'minute': {'step': 60}}},
        }
        DEBUG = 1
        """) % {"host": host, "token": token}
    if redis_url:
        text += textwrap.dedent("""
            SCHEMAS['cache'] = {'type': 'gauge', 'host': %r, 'match': r'^r\\.', 'prefix': %r,
                                'intervals': {'10s': {'step': 10}},
                                'client_config': {'socket_timeout': 30}}
            """) % (redis_url, token)
    return text + textwrap.dedent(extra)


def http(url):
    """``(status, content type, body text)``; HTTP errors are answers."""
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def scrape(url):
    """``{(sample name, frozenset of labels): value}`` of /metrics, read by prometheus-client."""
    status, content_type, text = http(url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsKarbon(Karbon):
    """karbon with ``--metrics 127.0.0.1:0``; ``url`` is its metrics address."""

    def __init__(self, tmp_path, config_text, *args):
        super().__init__(tmp_path, config_text, "--metrics", "127.0.0.1:0", *args)
        port = self.wait_for(r"metrics http://127\.0\.0\.1:(\d+)").group(1)
        self.url = "http://127.0.0.1:%s" % port


@pytest.fixture
def metrics_karbon(tmp_path):
    started = []

    def start(text, *args):
        karbon = MetricsKarbon(tmp_path, text, *args)
        started.append(karbon)
        return karbon
    yield start
    for karbon in started:
        karbon.kill()


def test_karbon_counters_match_what_was_sent(tmp_path, metrics_karbon, unique_name):
    karbon = metrics_karbon(config_text(tmp_path, unique_name), "--queue-size", "3")
    good_gauges, good_counts, bad, unmatched, nan = 250, 120, 17, 9, 4
    lines = ["g.m%d %d %d" % (i % 25, i, BASE_TS + 10 * (i // 25)) for i in range(good_gauges)]
    lines += ["c.x%d 1 %d" % (i % 7, BASE_TS + i) for i in range(good_counts)]
    lines += ["garbage%d" % i if i % 2 else "g.bad 1 yesterday" for i in range(bad)]
    lines += ["zz.unknown.m%d 1 %d" % (i, BASE_TS) for i in range(unmatched)]
    lines += ["g.nan nan %d" % BASE_TS for _ in range(nan)]
    half = len(lines) // 2
    send(karbon.port, ("\n".join(lines[:half]) + "\n").encode())
    send(karbon.port, ("\n".join(lines[half:]) + "\n").encode())
    stored = good_gauges + good_counts

    def all_stored():
        samples = scrape(karbon.url)
        return (value(samples, "karbon_points_stored_total", schema="gauges")
                + value(samples, "karbon_points_stored_total", schema="counts")) >= stored
    wait_until(all_stored, "every point stored")
    samples = scrape(karbon.url)
    total = len(lines)
    assert value(samples, "karbon_lines_received_total") == total
    assert value(samples, "karbon_points_parsed_total") == good_gauges + good_counts + unmatched
    assert value(samples, "karbon_lines_bad_total", reason="malformed") == bad
    assert value(samples, "karbon_points_dropped_total") == nan
    assert value(samples, "karbon_points_unmatched_total", prefix="zz") == unmatched
    assert value(samples, "karbon_points_stored_total", schema="gauges") == good_gauges
    assert value(samples, "karbon_points_stored_total", schema="counts") == good_counts
    assert value(samples, "karbon_points_dead_lettered_total", schema="gauges") == 0
    assert value(samples, "karbon_backend_errors_total", schema="counts") == 0
    assert value(samples, "karbon_batch_write_seconds_count", schema="gauges") >= 1
    assert value(samples, "karbon_batch_write_seconds_sum", schema="gauges") > 0
    assert value(samples, "karbon_queue_limit_bytes") == 3 * 1024 * 1024
    assert value(samples, "karbon_open_connections") == 0
    assert value(samples, "karbon_blocked_connections") == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    # an open connection is counted while it is open
    with socket.create_connection(("127.0.0.1", karbon.port)):
        wait_until(lambda: value(scrape(karbon.url), "karbon_open_connections") == 1,
                   "the open connection counted")
    status, _type, body = http(karbon.url + "/health")
    assert status == 200 and json.loads(body)["service"] == "karbon"
    assert http(karbon.url + "/nothing")[0] == 404
    assert karbon.stop() == 0
    summary = dict(kv.split("=") for kv in karbon.wait_for(r"stopped: (.*)").group(1).split())
    assert int(summary["lines"]) == total and int(summary["stored"]) == stored


def test_karbon_ready_flips_when_redis_stops(tmp_path, metrics_karbon, unique_name, redis_server):
    karbon = metrics_karbon(config_text(tmp_path, unique_name, redis_url=redis_server.url))
    status, _type, body = http(karbon.url + "/ready")
    assert status == 200, body
    assert set(json.loads(body)["schemas"]) == {"gauges", "counts", "cache"}
    redis_server.pause()  # accepts connections, answers nothing: the probe must time out
    try:
        started = time.monotonic()
        status, content_type, body = http(karbon.url + "/ready")
        took = time.monotonic() - started
        assert status == 503 and content_type == "application/json", body
        answer = json.loads(body)
        assert "schema cache" in answer["error"]
        assert "127.0.0.1:%d" % redis_server.port in answer["error"]
        assert answer["schemas"]["cache"]["ok"] is False
        assert answer["schemas"]["gauges"]["ok"] is True
        assert took < 10  # the probe's deadline, not the client's 30 s socket timeout
    finally:
        redis_server.resume()
    wait_until(lambda: http(karbon.url + "/ready")[0] == 200, "ready again after resume")
    redis_server.stop()
    status, _type, body = http(karbon.url + "/ready")
    assert status == 503 and "schema cache" in json.loads(body)["error"], body
    assert http(karbon.url + "/health")[0] == 200  # alive, just not ready
    karbon.wait_for(r"not ready: schema cache")
    karbon.wait_for(r"ready again")


def test_self_metrics_are_stored_and_read_through_series(tmp_path, metrics_karbon, unique_name):
    extra = """
        SCHEMAS['self'] = {'type': 'count', 'host': SCHEMAS['gauges']['host'],
                           'match': r'^selfk\\.', 'table_name': '%s_self',
                           'intervals': {'hour': {'step': 3600}}}
        SELF_METRICS = {'prefix': 'selfk.{host}', 'every': 1}
        """ % unique_name
    text = config_text(tmp_path, unique_name, extra)
    karbon = metrics_karbon(text)
    host = re.search(r"writing karbon's figures under selfk\.(\S+) every 1 s",
                     karbon.output()).group(1)
    lines = ["g.s%d %d %d" % (i, i, BASE_TS) for i in range(40)] + ["oops"] * 3
    send(karbon.port, ("\n".join(lines) + "\n").encode())
    wait_until(lambda: value(scrape(karbon.url), "karbon_points_stored_total", schema="self") > 60,
               "a few rounds of self-metrics stored")
    torus = TorusProcess([str(karbon.config)])
    try:
        def total(stat):
            status, answer = torus.get("/series?stat=%s&interval=hour&condense=true&steps=2"
                                       % stat)
            assert status == 200, answer
            return sum(point[0] or 0 for point in answer[0]["datapoints"])  # [value, time]
        prefix = "selfk.%s" % host
        wait_until(lambda: total(prefix + ".points_stored.gauges") == 40,
                   "the gauges' stored points read back from the self-metrics")
        assert total(prefix + ".lines_bad.malformed") == 3
        status, answer = torus.get("/list?schema=self")
        assert prefix + ".queue_limit_bytes" in answer
        assert prefix + ".batch_write_seconds.gauges.count" in answer
        assert prefix + ".process.resident_memory_bytes" in answer
    finally:
        assert torus.stop() == 0
    assert karbon.stop() == 0


def test_self_metrics_without_a_matching_schema_warn_at_start(tmp_path, metrics_karbon,
                                                              unique_name):
    karbon = metrics_karbon(config_text(tmp_path, unique_name,
                                        "SELF_METRICS = {'prefix': 'nowhere', 'every': 1}\n"))
    karbon.wait_for(r"SELF_METRICS: no schema matches nowhere\.lines_received")
    wait_until(lambda: value(scrape(karbon.url), "karbon_points_unmatched_total",
                             prefix="nowhere") > 0, "its own lines counted as unmatched")
    assert karbon.stop() == 0


def test_a_bad_self_metrics_setting_stops_karbon_at_start(tmp_path):
    path = tmp_path / "bad_conf.py"
    path.write_text(config_text(tmp_path, "x", "SELF_METRICS = {'prefix': 'a b', 'every': 1}\n"))
    import subprocess
    import sys
    from tests.functional.test_karbon import KARBON
    done = subprocess.run([sys.executable, KARBON, "--tcp", "127.0.0.1:0", "--config", str(path)],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2
    assert "SELF_METRICS: prefix 'a b' is not a Carbon name prefix" in done.stderr


def test_workers_each_serve_metrics_on_their_own_port(tmp_path, unique_name):
    karbon = Karbon(tmp_path, config_text(tmp_path, unique_name), "--workers", "2",
                    "--metrics", "127.0.0.1:0")
    try:
        urls = karbon.wait_for(r"metrics (http://\S+) (http://[^\s,]+)").groups()
        pids = {json.loads(http(url + "/health")[2])["pid"] for url in urls}
        assert len(pids) == 2
        # every worker counts what it handled; the sum is what was sent
        for i in range(6):
            send(karbon.port, ("g.w%d 1 %d\n" % (i, BASE_TS)).encode())

        def stored():
            return sum(value(scrape(url), "karbon_points_stored_total", schema="gauges")
                       for url in urls)
        wait_until(lambda: stored() == 6, "six points stored across the workers")
    finally:
        assert karbon.stop() == 0


# -- torus ----------------------------------------------------------------------------------
def test_torus_requests_latency_and_points_read(tmp_path, unique_name):
    path = tmp_path / "torus_conf.py"
    path.write_text(config_text(tmp_path, unique_name))
    from torus.config import Configuration
    from torus.processing import plan, store
    config = Configuration([str(path)])
    batches, _stats = plan(config, [("g.a", i, BASE_TS + 10 * i) for i in range(6)])
    for batch in batches.values():
        assert store(batch) == []
    torus = TorusProcess([str(path)])
    try:
        span = "&start=%d&end=%d" % (BASE_TS, BASE_TS + 59)
        for _ in range(3):
            status, answer = torus.get("/series?stat=g.a&interval=10s" + span)
            assert status == 200 and len(answer[0]["datapoints"]) == 6
        assert torus.get("/series")[0] == 400
        assert torus.get("/list")[0] == 200
        assert torus.get("/no/such/thing")[0] == 404
        status, answer = torus.get("/health")
        assert status == 200 and answer["service"] == "torus"
        status, answer = torus.get("/ready")
        assert status == 200 and answer["schemas"]["gauges"]["ok"] is True
        samples = scrape(torus.url)
        assert value(samples, "torus_requests_total", endpoint="series", status="200") == 3
        assert value(samples, "torus_requests_total", endpoint="series", status="400") == 1
        assert value(samples, "torus_requests_total", endpoint="list", status="200") == 1
        assert value(samples, "torus_requests_total", endpoint="other", status="404") == 1
        assert value(samples, "torus_requests_total", endpoint="ready", status="200") == 1
        assert value(samples, "torus_points_read_total", endpoint="series") == 18
        assert value(samples, "torus_request_seconds_count", endpoint="series") == 4
        assert value(samples, "torus_request_seconds_bucket", endpoint="series", le="+Inf") == 4
        assert value(samples, "torus_requests_total", endpoint="metrics", status="200") == 0
        samples = scrape(torus.url)
        assert value(samples, "torus_requests_total", endpoint="metrics", status="200") == 1
        status, answer = torus.get("/render?target=g.a&from=%d&until=%d&format=json"
                                   % (BASE_TS, BASE_TS + 59))
        assert status == 200, answer
        points = sum(len(series["datapoints"]) for series in answer)
        samples = scrape(torus.url)
        assert value(samples, "torus_points_read_total", endpoint="render") == points > 0
    finally:
        assert torus.stop() == 0


def test_torus_ready_flips_when_redis_stops(tmp_path, unique_name, redis_server):
    path = tmp_path / "torus_conf.py"
    path.write_text(config_text(tmp_path, unique_name, redis_url=redis_server.url))
    torus = TorusProcess([str(path)])
    try:
        assert torus.get("/ready")[0] == 200
        redis_server.pause()
        try:
            status, answer = torus.get("/ready")
            assert status == 503 and "schema cache" in answer["error"], answer
            assert answer["status"] == 503 and answer["schemas"]["counts"]["ok"] is True
            assert torus.get("/health")[0] == 200
        finally:
            redis_server.resume()
        wait_until(lambda: torus.get("/ready")[0] == 200, "torus ready again")
    finally:
        assert torus.stop() == 0
