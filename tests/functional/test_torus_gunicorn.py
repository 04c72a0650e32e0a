"""torus under gunicorn's gevent worker, as the README shows it, with two worker processes
reading a Redis Cluster (the scale-out of the query side)."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import IN_CI, ROOT
from tests.functional.redis_server import free_port
from tests.functional.torus_support import http
from torus.config import Configuration

T0 = 1700000000 - 1700000000 % 60


def test_readme_gunicorn_command_serves_from_two_workers(tmp_path, unique_name, redis_cluster_url):
    if shutil.which("gunicorn") is None:
        if IN_CI:
            pytest.fail("CI is set and gunicorn is not installed (development.pip)", pytrace=False)
        pytest.skip("gunicorn is not installed")
    config = tmp_path / "torus_conf.py"
    config.write_text(textwrap.dedent("""
        SCHEMAS = {'counts': {'type': 'count', 'host': %r, 'prefix': %r, 'match': '.',
                              'intervals': {'minute': {'step': 60}}}}
        """) % (redis_cluster_url, unique_name))
    counts = Configuration([str(config)]).schemas["counts"].timeseries
    counts.bulk_insert({T0: {"c.a": [3], "c.b": [4]}})
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    # the README's command, with this test's config, port and 2 workers
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2", "--bind", "127.0.0.1:%d" % port,
         "torus.web:application"],
        cwd=ROOT, env=dict(os.environ, TORUS_CONFIG=str(config)), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while len(re.findall(r"Booting worker", (tmp_path / "gunicorn.log").read_text())) < 2:
            assert server.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.1)
        answers = []
        while len(answers) < 20 and time.monotonic() < deadline:
            try:
                answers.append(http("http://127.0.0.1:%d/series?stat=c.b&interval=minute&start=%d"
                                    "&end=%d" % (port, T0, T0))[:3:2])
            except OSError:
                time.sleep(0.1)  # the workers are still importing
        assert len(answers) == 20
        assert {(status, b'"datapoints":[[4,%d]]' % T0 in body) for status, body in answers} == \
            {(200, True)}, answers[:1]
    finally:
        server.terminate()
        assert server.wait(30) == 0, (tmp_path / "gunicorn.log").read_text()
        counts.delete_all()
        counts.close()
