"""A real karbon and the stats no schema matches: counted per prefix, logged, written to a file."""
import signal

from tests.functional.test_karbon import (BASE_TS, schemas_config, send,
                                          start_karbon)  # noqa: F401 (a fixture)
from torus.config import Configuration


def test_unmatched_points_are_counted_logged_and_written(tmp_path, start_karbon, unique_name):
    kept = tmp_path / "unmatched.carbon"
    karbon = start_karbon(schemas_config("sqlite", tmp_path, unique_name),
                          "--unmatched-file", str(kept))
    lines = ["g.ok 1 %d" % BASE_TS, "servers.web1.cpu 12.5 %d" % BASE_TS,
             "servers.web2.cpu 3 %d" % (BASE_TS + 1), "apps.shop.orders 7 %d" % BASE_TS,
             "c.hits 2 %d" % BASE_TS, "apps.shop;dc=eu 1 %d" % BASE_TS]
    send(karbon.port, "\n".join(lines).encode() + b"\n")
    karbon.wait_for("NOMATCH")
    assert karbon.stop() == 0
    output = karbon.output()
    assert ("NOMATCH 4 point(s) match no schema, by prefix: servers (2, 2 since start), "
            "apps (2, 2 since start); e.g. 'servers.web1.cpu'") in output
    assert "unmatched points by prefix: servers=2 apps=2 (4 written to %s, 0 not)" % kept in output
    assert kept.read_text() == ("servers.web1.cpu 12.5 %d\nservers.web2.cpu 3 %d\n"
                                "apps.shop.orders 7 %d\napps.shop;dc=eu 1 %d\n"
                                % (BASE_TS, BASE_TS + 1, BASE_TS, BASE_TS))
    config = Configuration([str(karbon.config)])  # the matched points were stored as usual
    stored = config.schemas["gauges"].timeseries.get("g.ok", "10s", timestamp=BASE_TS)
    assert stored == {BASE_TS: 1}


def test_the_file_stops_growing_at_its_bound(tmp_path, start_karbon, unique_name):
    kept = tmp_path / "unmatched.carbon"
    karbon = start_karbon(schemas_config("sqlite", tmp_path, unique_name),
                          "--unmatched-file", str(kept), "--unmatched-max-size", "1")
    send(karbon.port, b"first.x 1 %d\n" % BASE_TS)
    karbon.wait_for("NOMATCH 1 point")
    big = b"".join(b"flood.m%06d 1 %d\n" % (n, BASE_TS) for n in range(60000))  # about 1.4 MiB
    assert len(big) > 1024 * 1024
    send(karbon.port, big)
    karbon.wait_for(r"limit is 1048576: \d+ point\(s\) not written")
    karbon.signal(signal.SIGTERM)
    karbon.wait_for("unmatched points by prefix: flood=60000 first=1 "
                    r"\(\d+ written to %s, \d+ not\)" % kept)
    assert kept.stat().st_size <= 1024 * 1024
    assert kept.read_text().startswith("first.x 1 %d\n" % BASE_TS)
    assert karbon.proc.wait(60) == 0


def test_without_a_file_unmatched_points_are_still_counted(tmp_path, start_karbon, unique_name):
    karbon = start_karbon(schemas_config("sqlite", tmp_path, unique_name))
    send(karbon.port, b"nowhere.a 1 %d\nnowhere.b 1 %d\n" % (BASE_TS, BASE_TS))
    karbon.wait_for("NOMATCH 2 point")
    assert karbon.stop() == 0
    assert "unmatched points by prefix: nowhere=2\n" in karbon.output()
    assert not list(tmp_path.glob("*.carbon"))
