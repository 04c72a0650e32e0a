#!/usr/bin/env python3
"""How long the dashboard page (GET /) takes to load and draw 50 series of 24 h at 1-minute data.

Data: 50 gauges ``b.s00`` .. ``b.s49``, one point a minute over the last 24 hours (72,000
points), written through the karbon path (``torus.processing.plan`` + ``store``) into one SQLite
schema (60 s buckets). torus runs as one process (``bin/torus``); Debian's chromium, driven by
Playwright, opens the page at 1280x720 in a fresh context each run (nothing cached), and the
time is the page's own clock (``performance.now()``, from the start of navigation) when every
chart has drawn (``window.torusDashboard.drawnAt``). Views:

* ``1 chart x 50 series``: ``#g=b.*`` (one /render of the 50 series);
* ``50 charts x 1 series``: one chart per series (50 /render requests, 6 at a time per origin).

    python3 benchmarks/dashboard_bench.py [--runs 5] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

CHROMIUM = os.environ.get("TORUS_CHROMIUM", "/usr/bin/chromium")
SERIES = 50
CONFIG = """
SCHEMAS = {'bench': {'type': 'gauge', 'host': 'sqlite:///%s', 'match': r'^b\\.',
                     'table_name': 'bench', 'intervals': {'minute': {'step': 60}}}}
MAX_POINTS = 100000
"""


def fill(path: str) -> int:
    from torus.config import Configuration
    from torus.processing import plan, store
    now = int(time.time())
    start = now - now % 60 - 86400
    points = [("b.s%02d" % i, float((i * 7 + m) % 100), start + 60 * m)
              for i in range(SERIES) for m in range(1440)]
    batches, _stats = plan(Configuration([path]), points)
    for batch in batches.values():
        assert store(batch) == []
    return len(points)


def start_torus(path: str):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "bin", "torus"), "--tcp",
                             "127.0.0.1:0", "--config", path], stderr=subprocess.PIPE, cwd=ROOT)
    for line in iter(proc.stderr.readline, b""):
        text = line.decode("utf-8", "replace")
        if "listening on " in text:
            return proc, text.split("listening on ", 1)[1].split()[0]
    raise SystemExit("torus did not start")


def measure(browser, url: str, charts: int, runs: int):
    times, dom = [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(url)
        deadline = time.monotonic() + 60
        while not page.evaluate("window.torusDashboard && window.torusDashboard.drawnAt > 0 && "
                                "window.torusDashboard.charts.every(c => c.plot)"):
            if time.monotonic() > deadline:
                raise SystemExit("the page did not draw: %s" % url)
            time.sleep(0.01)
        drawn = page.evaluate("""[window.torusDashboard.drawnAt,
            performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
            window.torusDashboard.charts.length,
            window.torusDashboard.charts.reduce((n, c) => n + c.names.length, 0),
            window.torusDashboard.charts[0].data[0].length]""")
        assert drawn[2] == charts and drawn[3] == SERIES, drawn
        times.append(drawn[0])
        dom.append(drawn[1])
        points = drawn[4]
        context.close()
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "dom_ready_ms": round(statistics.median(dom), 1), "points_per_series": points,
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    folder = tempfile.mkdtemp(prefix="torus_dashboard_bench_")
    path = os.path.join(folder, "bench_conf.py")
    with open(path, "w") as handle:
        handle.write(CONFIG % os.path.join(folder, "bench.db"))
    written = fill(path)
    proc, url = start_torus(path)
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            window = "&from=-24h&until=now"
            views = {
                "1 chart x 50 series": (url + "/#g=b.*" + window, 1),
                "50 charts x 1 series": (url + "/#" + "&".join("g=" + quote("b.s%02d" % i)
                                                              for i in range(SERIES)) + window, SERIES),
            }
            for name, (address, charts) in views.items():
                results[name] = measure(browser, address, charts, args.runs)
            results["chromium"] = browser.version
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    results["points_written"] = written
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
