"""The metrics registry, its list in the docs, the Grafana dashboard, SELF_METRICS, readiness."""
import contextlib
import json
import os
import re
import time

import gevent
import pytest

from tests.conftest import ROOT
from torus import metrics
from torus.config import Configuration
from torus.errors import ConfigError
from torus.health import probe_all
from torus.ops import Ops, ops_app
from torus.self_metrics import Setting, Snapshot, parse_setting
from torus.web import endpoint_label

DASHBOARD = os.path.join(ROOT, "examples", "grafana-torus.json")
NAME = re.compile(r"\b(?:karbon|torus|process)_[a-z_]+")


def sample_names():
    """Every sample name the registry can expose (histograms with _bucket, _sum, _count)."""
    out = set()
    for name, kind in metrics.names().items():
        out.add(name)
        if kind == "histogram":
            out.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return out


def expressions(node):
    """Every PromQL expression of a dashboard: targets' ``expr`` and template queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def test_the_dashboard_names_only_metrics_of_the_registry():
    with open(DASHBOARD, encoding="utf-8") as handle:
        dashboard = json.load(handle)
    known = sample_names()
    found = list(expressions(dashboard))
    assert len(found) >= 15
    for expr in found:
        named = NAME.findall(expr)
        assert named, "%r names no torus metric" % expr
        unknown = set(named) - known
        assert not unknown, "%r names %s, not in torus.metrics" % (expr, unknown)
    used = {name for expr in found for name in NAME.findall(expr)}
    # every karbon/torus metric has a panel
    for name in metrics.names():
        if name.startswith(("karbon_", "torus_")):
            assert name in used or name + "_bucket" in used, "no panel shows %s" % name


def test_docs_list_every_metric_and_no_other():
    with open(os.path.join(ROOT, "docs", "operations.rst"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("\nMetrics list\n", 1)[1].split("\nHealth and readiness\n", 1)[0]
    listed = set(re.findall(r"^``((?:karbon|torus)_[a-z_]+)``", section, re.M))
    registered = {name for name in metrics.names() if name.startswith(("karbon_", "torus_"))}
    assert listed == registered


def test_counters_have_help_and_stable_names():
    names = metrics.names()
    assert names["karbon_points_stored_total"] == "counter"
    assert names["karbon_batch_write_seconds"] == "histogram"
    assert names["karbon_queue_bytes"] == "gauge"
    assert names["torus_requests_total"] == "counter"
    for family in metrics.REGISTRY.collect():
        assert family.documentation, family.name


def test_datapoints_of_answers():
    from torus.encoding import RawAnswer
    assert metrics.datapoints([{"datapoints": [[1, 2], [3, 4]]}, {"datapoints": []}]) == 2
    assert metrics.datapoints(RawAnswer(b"", "text/csv", points=7)) == 7
    assert metrics.datapoints({"error": "x"}) == 0


def test_unmatched_prefixes_are_capped(monkeypatch):
    monkeypatch.setattr(metrics, "_seen_prefixes", {})
    monkeypatch.setattr(metrics, "MAX_PREFIXES", 2)
    before = metrics.UNMATCHED.labels(prefix=metrics.OTHER)._value.get()
    metrics.count_unmatched({"unit_a": 1, "unit_b": 2, "unit_c": 3, "unit_d": 4})
    assert metrics.UNMATCHED.labels(prefix="unit_b")._value.get() >= 2
    assert metrics.UNMATCHED.labels(prefix=metrics.OTHER)._value.get() - before == 7


def test_top_prefix():
    assert metrics.top_prefix("stats.app.hits") == "stats"
    assert metrics.top_prefix("cpu;host=a.b") == "cpu"


def test_endpoint_labels_are_a_fixed_set():
    assert endpoint_label("series") == "series"
    assert endpoint_label("metrics") == "metrics"
    assert endpoint_label("render") == "render"
    assert endpoint_label("functions/alias") == "functions/*"
    assert endpoint_label("wp-admin/x.php") == "other"


# -- SELF_METRICS ----------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ("karbon", "must be a dict"),
    ({"prefix": ""}, "non-empty string"),
    ({"prefix": "a b"}, "not a Carbon name prefix"),
    ({"prefix": "a.{pid}"}, "unknown field {pid}"),
    ({"prefix": "a", "every": 0}, "at least 1"),
    ({"prefix": "a", "every": "60"}, "at least 1"),
    ({"prefix": "a", "evry": 60}, "unknown key(s) 'evry'"),
])
def test_bad_self_metrics_settings(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_setting(value)


def test_self_metrics_setting_defaults_and_prefix():
    assert parse_setting(None) is None
    setting = parse_setting({})
    assert setting == Setting("karbon.{host}", 60.0)
    assert setting.resolve("web1", None) == "karbon.web1"
    assert setting.resolve("web1", 2) == "karbon.web1.2"
    assert Setting("k.{host}.w{worker}", 10).resolve("h", 3) == "k.h.w3"


def test_a_bad_self_metrics_setting_fails_the_load(tmp_path):
    path = tmp_path / "conf.py"
    path.write_text("SELF_METRICS = {'prefix': 'x', 'every': -1}\n")
    with pytest.raises(ConfigError, match="conf.py: SELF_METRICS: every"):
        Configuration([str(path)])


def test_snapshot_writes_counter_increases_gauges_and_histogram_means():
    snapshot = Snapshot()
    stored = metrics.STORED.labels(schema="unit.s 1")
    seconds = metrics.WRITE_SECONDS.labels(schema="unit_h")
    stored.inc(5)
    seconds.observe(0.5)
    seconds.observe(1.5)
    first = {line.split()[0]: line.split()[1:] for line in snapshot.lines("p", 1000)}
    assert first["p.points_stored.unit_s_1"][1] == "1000"
    assert float(first["p.batch_write_seconds.unit_h.mean"][0]) == pytest.approx(1.0)
    assert first["p.batch_write_seconds.unit_h.count"][0] == "2"
    assert "p.queue_limit_bytes" in first and "p.process.cpu_seconds" in first
    assert not any(name.startswith("p.process.start_time") for name in first)
    assert not any(name.startswith("p.requests") for name in first)  # torus's, not karbon's
    stored.inc(2)
    second = {line.split()[0]: line.split()[1] for line in snapshot.lines("p", 1060)}
    assert second["p.points_stored.unit_s_1"] == "2"
    assert second["p.batch_write_seconds.unit_h.count"] == "0"
    assert "p.batch_write_seconds.unit_h.mean" not in second  # nothing to average


# -- readiness -------------------------------------------------------------------------------
class FakeSchema:
    def __init__(self, name, ping):
        self.name = name
        self.timeseries = type("T", (), {"ping": staticmethod(ping)})()

    def describe_host(self):
        return "fake://%s" % self.name


class FakeConfig:
    def __init__(self, *schemas):
        self.schemas = {schema.name: schema for schema in schemas}


def _fails():
    raise RuntimeError("connection refused")


def test_probes_run_together_and_time_out():
    config = FakeConfig(FakeSchema("fine", lambda: None), FakeSchema("down", _fails),
                        FakeSchema("hung", lambda: gevent.sleep(30)),
                        FakeSchema("hung2", lambda: gevent.sleep(30)))
    started = time.monotonic()
    probes = {probe.schema: probe for probe in probe_all(config, timeout=0.3)}
    assert time.monotonic() - started < 2  # both hung probes waited at once
    assert probes["fine"].ok
    assert probes["down"].error == "RuntimeError: connection refused"
    assert probes["hung"].error == "no answer within 0.3 s"
    assert probes["hung"].backend == "fake://hung"


class Holder:
    """What Ops needs of a ConfigHolder: the configuration, lent for the probe."""

    def __init__(self, config):
        self.current = config

    @contextlib.contextmanager
    def lease(self):
        yield self.current


def call(app, path, method="GET"):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method}, start_response))
    return seen["status"], seen["headers"], body


def test_ops_app_answers_health_ready_metrics_only():
    ops = Ops(Holder(FakeConfig(FakeSchema("down", _fails))), "karbon", timeout=0.3)
    app = ops_app(ops)
    status, headers, body = call(app, "/health")
    assert status == "200 OK" and json.loads(body)["service"] == "karbon"
    status, headers, body = call(app, "/ready")
    assert status == "503 Service Unavailable"
    answer = json.loads(body)
    assert answer["error"] == ("not ready: schema down (fake://down): "
                               "RuntimeError: connection refused")
    status, headers, body = call(app, "/metrics")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain")
    assert b"karbon_lines_received_total" in body
    assert call(app, "/series")[0] == "404 Not Found"
    status, headers, _body = call(app, "/metrics", "POST")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
    assert call(app, "/health", "HEAD")[2] == b""


def test_ready_with_no_schemas_is_ready():
    status, answer = Ops(Holder(FakeConfig()), "torus").answer("ready")
    assert status == 200 and answer == {"status": "ready", "schemas": {}}


def test_worker_metrics_ports(monkeypatch):
    from torus.workers import metrics_addresses, worker_arguments
    assert metrics_addresses(("127.0.0.1", 9100), 3) == [
        ("127.0.0.1", 9100), ("127.0.0.1", 9101), ("127.0.0.1", 9102)]
    assert metrics_addresses(None, 2) == [None, None]
    ports = metrics_addresses(("127.0.0.1", 0), 2)
    assert all(port for _host, port in ports)
    args = worker_arguments(["--metrics", ":9100", "--config", "c.py"], ("h", 2003), None, 1,
                            ("h", 9101))
    assert args[-2:] == ["--metrics", "h:9101"] and args.count("--metrics") == 1


def test_snapshot_names_are_written_as_carbon_lines():
    lines = Snapshot().lines("karbon.h", 1234)
    from torus.carbon import parse_line
    for line in lines:
        name, _value, stamp = parse_line(line.strip(), 0)
        assert stamp == 1234 and name.startswith("karbon.h.")


def test_request_metrics_buckets_are_cumulative_and_inclusive():
    requests = metrics.RequestMetrics(buckets=(1.0, 0.1))
    for seconds in (0.1, 0.5, 5.0):
        requests.observe("series", 200, seconds, points=10)
    requests.observe("series", 400, 0.01)
    counts, latency, points = requests.collect()
    assert {tuple(s.labels.values()): s.value for s in counts.samples} == {
        ("series", "200"): 3, ("series", "400"): 1}
    samples = {(s.name, s.labels.get("le")): s.value for s in latency.samples}
    assert samples[("torus_request_seconds_bucket", "0.1")] == 2  # 0.01 and 0.1 (le inclusive)
    assert samples[("torus_request_seconds_bucket", "1.0")] == 3
    assert samples[("torus_request_seconds_bucket", "+Inf")] == 4
    assert samples[("torus_request_seconds_count", None)] == 4
    assert samples[("torus_request_seconds_sum", None)] == pytest.approx(5.61)
    assert [s.value for s in points.samples] == [30]
