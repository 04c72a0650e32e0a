"""Points no schema matches (torus.unmatched): counts per prefix, rate-limited log, bounded file."""
import logging

from torus.dead_letter import Throttle
from torus.unmatched import OTHER, Unmatched, prefix_of


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_prefix_is_the_first_component_of_the_path():
    assert prefix_of("servers.web1.cpu") == "servers"
    assert prefix_of("solo") == "solo"
    assert prefix_of("disk.used;host=a.b") == "disk"
    assert prefix_of("web;dc=eu.west") == "web"


def test_counts_per_prefix_and_total():
    unmatched = Unmatched()
    unmatched.record([("a.x", 1, 10), ("a.y", 2, 10), ("b.x", 3, 10)])
    unmatched.record([("a.z", 1, 20)])
    unmatched.record([])
    assert unmatched.counts() == {"a": 3, "b": 1}
    assert unmatched.total == 4


def test_prefixes_beyond_the_bound_are_counted_together():
    unmatched = Unmatched(max_prefixes=2)
    unmatched.record([("a.x", 1, 1), ("b.x", 1, 1), ("c.x", 1, 1), ("d.x", 1, 1), ("a.y", 1, 1)])
    assert unmatched.counts() == {"a": 2, "b": 1, OTHER: 2}


def test_log_names_prefixes_and_an_example_at_a_bounded_rate(caplog):
    clock = Clock()
    unmatched = Unmatched(throttle=Throttle(limit=2, period=60, clock=clock))
    with caplog.at_level(logging.WARNING, logger="torus"):
        for _ in range(5):
            unmatched.record([("servers.web1.cpu", 1, 1), ("servers.web2.cpu", 1, 1),
                              ("apps.x", 1, 1)])
        clock.now = 61
        unmatched.record([("apps.y", 1, 1)])
    lines = [r.getMessage() for r in caplog.records if "NOMATCH" in r.getMessage()]
    assert len(lines) == 3
    assert lines[0] == ("NOMATCH 3 point(s) match no schema, by prefix: servers (2, 2 since "
                        "start), apps (1, 1 since start); e.g. 'servers.web1.cpu'")
    assert lines[2].startswith("NOMATCH 1 point(s) match no schema, by prefix: apps (1, 6 since")
    assert any("3 more unmatched message(s) suppressed" in r.getMessage() for r in caplog.records)
    assert unmatched.counts() == {"servers": 10, "apps": 6}


def test_file_holds_carbon_lines_up_to_its_bound(tmp_path, caplog):
    path = tmp_path / "unmatched.carbon"
    unmatched = Unmatched(str(path), max_bytes=40)
    unmatched.record([("a.x", 1, 1700000000), ("b.y", 2.5, 1700000001)])  # 34 bytes
    with caplog.at_level(logging.WARNING, logger="torus"):
        unmatched.record([("a.z", 3, 1700000002)])  # would make 51: not written
    assert path.read_text() == "a.x 1 1700000000\nb.y 2.5 1700000001\n"
    assert (unmatched.written, unmatched.unwritten) == (2, 1)
    assert "limit is 40: 1 point(s) not written" in caplog.text
    path.write_text("")  # the operator moved it away: recording goes on
    unmatched.record([("a.z", 3, 1700000002)])
    assert path.read_text() == "a.z 3 1700000002\n"
    assert unmatched.counts() == {"a": 3, "b": 1}


def test_an_unwritable_file_costs_only_the_lines(tmp_path, caplog):
    unmatched = Unmatched(str(tmp_path / "missing" / "unmatched.carbon"))
    with caplog.at_level(logging.ERROR, logger="torus"):
        unmatched.record([("a.x", 1, 1)])
    assert (unmatched.written, unmatched.unwritten, unmatched.total) == (0, 1, 1)
    assert "NOMATCH cannot write to" in caplog.text
