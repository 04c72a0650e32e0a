"""karbon --allow on a real process: senders outside the allowed networks are refused (TCP) or
dropped (UDP), counted and logged; senders inside are stored as before."""
import errno
import re
import socket
import uuid

import pytest

from tests.functional.test_karbon import (BASE_TS, Configuration, schemas_config, start_karbon,  # noqa: F401
                                          wait_until)
from tests.functional.test_self_metrics import scrape, value

OUTSIDE = "127.0.0.2"  # on Linux the whole of 127.0.0.0/8 is the loopback


def _can_bind(address):
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


needs_second_loopback = pytest.mark.skipif(not _can_bind(OUTSIDE),
                                           reason="cannot send from %s here" % OUTSIDE)


def tcp_send(port, payload, source=None):
    """Send on one connection from ``source``; the bytes karbon answered before closing."""
    sock = socket.socket()
    sock.settimeout(10)
    if source:
        sock.bind((source, 0))
    with sock:
        sock.connect(("127.0.0.1", port))
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(1)
        except (ConnectionResetError, BrokenPipeError):
            return b""
        except OSError as err:  # karbon closed (a denied sender) before our shutdown
            if err.errno != errno.ENOTCONN:
                raise
            return b""


def udp_send(port, payload, source):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(payload, ("127.0.0.1", port))


def stored(config_path, name):
    config = Configuration([str(config_path)])
    data = config.schemas["gauges"].timeseries.series(name, "10s", start=BASE_TS, end=BASE_TS)
    return list(data.values())


def _counters(log):
    line = re.search(r"stopped: (.*)", log).group(1)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


@needs_second_loopback
def test_only_allowed_senders_are_served(tmp_path, start_karbon):  # noqa: F811
    token = "t" + uuid.uuid4().hex[:10]
    karbon = start_karbon(schemas_config("sqlite", tmp_path, token, debug=1), "--allow", "10.0.0.0/8",
                          "--allow", "192.0.2.7,127.0.0.1/32", "--udp", "127.0.0.1:0",
                          "--metrics", "127.0.0.1:0")
    udp_port = int(karbon.wait_for(r"udp 127\.0\.0\.1:(\d+)").group(1))
    metrics_url = "http://127.0.0.1:%s" % karbon.wait_for(r"metrics http://127\.0\.0\.1:(\d+)").group(1)

    tcp_send(karbon.port, b"g.outside 1 %d\n" % BASE_TS, source=OUTSIDE)
    karbon.wait_for(r"connection from 127\.0\.0\.2:\d+ refused: not in --allow "
                    r"10\.0\.0\.0/8,192\.0\.2\.7/32,127\.0\.0\.1/32 \(1 refused so far\)")
    for _ in range(3):
        udp_send(udp_port, b"g.outside_udp 1 %d\n" % BASE_TS, OUTSIDE)
    karbon.wait_for(r"UDP: datagram from 127\.0\.0\.2:\d+ dropped: not in --allow")

    tcp_send(karbon.port, b"g.inside 7 %d\n" % BASE_TS, source="127.0.0.1")
    udp_send(udp_port, b"g.inside_udp 8 %d\n" % BASE_TS, "127.0.0.1")
    wait_until(lambda: stored(karbon.config, "g.inside") == [7]
               and stored(karbon.config, "g.inside_udp") == [8], "the allowed points")
    samples = scrape(metrics_url)
    assert value(samples, "karbon_senders_denied_total", transport="tcp") == 1
    assert value(samples, "karbon_senders_denied_total", transport="udp") == 3
    assert karbon.stop() == 0
    counters = _counters(karbon.output())
    assert (counters["denied"], counters["udp_denied"]) == (1, 3), karbon.output()
    assert counters["lines"] == 2  # nothing from outside was read
    assert stored(karbon.config, "g.outside") in ([None], [])
    assert stored(karbon.config, "g.outside_udp") in ([None], [])


@needs_second_loopback
def test_an_allow_list_without_the_sender_refuses_it_at_once(tmp_path, start_karbon):  # noqa: F811
    karbon = start_karbon(schemas_config("sqlite", tmp_path, "t" + uuid.uuid4().hex[:10]),
                          "--allow", "127.0.0.2")
    # karbon closes the connection without reading it: the client sees the end (or a reset)
    assert tcp_send(karbon.port, b"g.x 1 %d\n" % BASE_TS) == b""
    karbon.wait_for(r"connection from 127\.0\.0\.1:\d+ refused")
    tcp_send(karbon.port, b"g.allowed 3 %d\n" % BASE_TS, source=OUTSIDE)
    wait_until(lambda: stored(karbon.config, "g.allowed") == [3], "the allowed point")
    assert karbon.stop() == 0


def test_without_allow_every_sender_is_served(tmp_path, start_karbon):  # noqa: F811
    karbon = start_karbon(schemas_config("sqlite", tmp_path, "t" + uuid.uuid4().hex[:10]))
    tcp_send(karbon.port, b"g.any 4 %d\n" % BASE_TS)
    wait_until(lambda: stored(karbon.config, "g.any") == [4], "the point")
    assert karbon.stop() == 0
    assert "refused" not in karbon.output()


def test_a_bad_network_is_a_usage_error(tmp_path, start_karbon):  # noqa: F811
    import subprocess
    import sys

    from tests.functional.test_karbon import KARBON
    config = tmp_path / "conf.py"
    config.write_text(schemas_config("sqlite", tmp_path, "tbad"))
    done = subprocess.run([sys.executable, KARBON, "--config", str(config), "--allow", "10.0.0.300/8"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'10.0.0.300/8' is not a network" in done.stderr
