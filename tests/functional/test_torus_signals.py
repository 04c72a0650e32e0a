"""The torus process and its signals: SIGHUP reloads atomically, SIGTERM/SIGINT stop gracefully."""
import signal
import uuid

import pytest

from tests.functional.torus_support import POINTS, T0, TorusProcess, cleanup, load, write_config

NEW_MACRO = "\nMACROS['fresh'] = {'collapse': True}\nDEBUG = 0\n"


@pytest.fixture
def config_path(tmp_path):
    token = "t" + uuid.uuid4().hex[:10]
    path = write_config(tmp_path / "torus_reload_conf.py", "sqlite", tmp_path, token)
    config = load([path], POINTS)
    yield path
    cleanup(config)


def test_sighup_reloads_and_a_broken_file_keeps_the_old_configuration(config_path):
    server = TorusProcess([config_path])
    query = "/series?stat=fresh(c.a)&start=%d&end=%d" % (T0, T0 + 60)
    try:
        assert server.get(query)[0] == 400  # no such macro yet
        with open(config_path, "a") as handle:
            handle.write(NEW_MACRO)
        server.send(signal.SIGHUP)
        server.wait_for_log(r"configuration reloaded")
        status, body = server.get(query)
        assert (status, body[0]["datapoints"]) == (200, [[5, T0]])

        with open(config_path, "a") as handle:
            handle.write("\nthis is not python\n")
        server.send(signal.SIGHUP)
        server.wait_for_log(r"reload failed, still serving the previous configuration")
        assert server.get(query)[0] == 200  # the previous configuration answers
    finally:
        assert server.stop() == 0, server.log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_exit_zero(config_path, signum):
    server = TorusProcess([config_path])
    assert server.get("/list?schema=timers") == (200, ["t.x"])
    assert server.stop(signum) == 0, server.log
    assert "Traceback" not in server.log
