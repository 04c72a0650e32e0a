"""The Scale-out table of benchmarks/RESULTS.md, built from the figures of one run."""
import os
import sys

from tests.conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import report  # noqa: E402
from query_bench import worker_ratios  # noqa: E402


def ingest(case, regime, e2e):
    return {"case": case, "regime": regime, "e2e": e2e}


def http(server, rps, processes=None, **what):
    figures = dict(what, server=server, rps=rps, p50=1.0, p99=2.0, errors=0)
    if processes:
        figures["processes"] = processes
    return figures


def test_single_redis_beside_the_cluster_and_two_workers_and_torus_one_vs_two():
    rows = [ingest("karbon-redis", "steady", 100000.0), ingest("karbon-redis-cluster", "steady", 80000.0),
            ingest("karbon-redis-x2", "steady", 150000.0), ingest("karbon-redis", "cold", 90000.0),
            ingest("karbon-redis-key", "steady", 120000.0),
            ingest("karbon-redis-key-x2", "steady", 180000.0),
            ingest("karbon-sqlite", "steady", 170000.0), ingest("karbon-sqlite-x2", "steady", 221000.0)]
    query = [http("torus Redis", 999.0, stats=1, steps=48),
             http("torus Redis, gunicorn -w 1", 1000.0, 1, stats=1, steps=48),
             http("torus Redis, gunicorn -w 2", 1600.0, 2, stats=1, steps=48)]
    renders = [http("torus Redis, gunicorn -w 1", 20.0, 1, case="50 series", steps=1440),
               http("torus Redis, gunicorn -w 2", 30.0, 2, case="50 series", steps=1440)]
    table = report.scale_out_table(rows, query, renders).splitlines()
    assert "| ingest (steady), end-to-end points/s | karbon on Redis | 100,000 | karbon on a Redis " \
        "Cluster | 80,000 | 0.80x |" in table
    assert "| ingest (steady), end-to-end points/s | karbon on Redis | 100,000 | 2 karbon workers " \
        "on Redis | 150,000 | 1.50x |" in table
    assert "| ingest (cold), end-to-end points/s | karbon on Redis | 90,000 | 2 karbon workers on " \
        "Redis | - | - |" in table
    assert "| /series 1 stat x 48, requests/s | torus Redis, gunicorn -w 1 | 1,000.0 | torus Redis, " \
        "gunicorn -w 2 | 1,600.0 | 1.60x |" in table
    assert "| /render 50 series x 1440, requests/s | torus Redis, gunicorn -w 1 | 20.0 | torus " \
        "Redis, gunicorn -w 2 | 30.0 | 1.50x |" in table
    assert "| ingest (steady), end-to-end points/s | karbon on Redis, a key per bucket | 120,000 | " \
        "2 karbon workers on Redis, a key per bucket | 180,000 | 1.50x |" in table
    assert "| ingest (steady), end-to-end points/s | karbon on SQLite | 170,000 | 2 karbon " \
        "workers on SQLite | 221,000 | 1.30x |" in table
    assert len(table) == 2 + 6 + 2  # the one-process torus row is not a scale-out figure


def test_no_scale_out_figures_make_no_table():
    assert report.scale_out_table([ingest("karbon-sqlite", "steady", 1.0)],
                                  [http("torus Redis", 5.0, stats=1, steps=48)], []) == ""


def test_the_printed_ratio_is_the_most_workers_over_the_fewest():
    results = [("a", "1 x 48", {"rps": 100.0, "processes": 1}), ("b", "1 x 48", {"rps": 170.0, "processes": 2}),
               ("c", "1 x 48", {"rps": 500.0})]
    assert worker_ratios(results) == ["1 x 48: 2 workers 170.0 req/s vs 1 worker 100.0 req/s = 1.70x"]
