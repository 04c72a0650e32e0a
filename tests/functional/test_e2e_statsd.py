"""statsd (npm 0.9.x, on Node.js) -> karbon -> torus, with the quick-start examples/statsd.py.

A real statsd flushes every second through its Graphite backend to bin/karbon;
the test sends counters, timers, gauges and sets over UDP in two datagrams that
land in two different flushes (the second is sent once the first is readable in
bin/torus), then reads back from /series and /list exactly what statsd computed
and the example config stores: counter totals, per-flush rates, timer metrics,
the last gauge, set sizes, host roll-ups, tagged names, statsd's own figures.
Both statsd namespace styles are covered (graphite.legacyNamespace true/false).
"""
import json
import os
import socket
import time

import pytest

from tests.functional.e2e_support import (DEADLINE, free_port, poll, stack,  # noqa: F401
                                          statsd_command, without_zero)

CONFIGS = ["examples/statsd.py"]
SCHEMAS = ("counts", "rates", "timers", "gauges", "sets", "statsd")
#: timer metrics statsd sends per flush (percentThreshold 90), and the additive ones among them
TIMER_METRICS = ("count", "count_ps", "sum", "sum_squares", "mean", "median", "std", "upper",
                 "lower", "count_90", "mean_90", "upper_90", "sum_90", "sum_squares_90")
COUNTED = {"count", "sum", "sum_squares", "count_90", "sum_90", "sum_squares_90"}


def first_flush(t):
    """One datagram, so statsd flushes it whole: counters, timers, a gauge, a set, tags."""
    return ([t + ".hits:3|c", t + ".hits:4|c", t + ".hits:1|c|@0.5"]  # 3 + 4 + 1/0.5 = 9
            + [t + ".hosts.web1.requests:2|c", t + ".hosts.web2.requests:3|c"]
            + [t + ".latency:%d|ms" % v for v in (10, 20, 30, 40)]
            + [t + ".hosts.web1.latency:7|ms"]
            + [t + ".depth:10|g", t + ".depth:+5|g"]  # 15
            + [t + ".users:alice|s", t + ".users:bob|s", t + ".users:alice|s"]  # 2 members
            + [t + ".tagged:2|c|#env:prod,dc:x", t + ".tlat:5|ms|#dc:x", t + ".tusers:a|s|#dc:x"])


def second_flush(t):
    """Sent once the first flush is readable: a later flush of the same metrics."""
    return ([t + ".hits:5|c", t + ".hosts.web1.requests:1|c"]
            + [t + ".latency:100|ms|@0.5", t + ".latency:200|ms", t + ".latency:300|ms"]
            + [t + ".depth:-3|g"]  # relative: 12
            + [t + ".users:%s|s" % who for who in ("carol", "dave", "erin", "carol", "alice")]
            + [t + ".tagged:1|c|#dc:x,env:prod"])  # same tags in another order


class Names:
    """The Graphite names statsd's backend gives a metric, per namespace style."""

    def __init__(self, token, legacy):
        self.token, self.legacy = token, legacy

    def count(self, name, tags=""):
        if self.legacy:
            return "stats_counts.%s.%s%s" % (self.token, name, tags)
        return "stats.counters.%s.%s.count%s" % (self.token, name, tags)

    def rate(self, name, tags=""):
        if self.legacy:
            return "stats.%s.%s%s" % (self.token, name, tags)
        return "stats.counters.%s.%s.rate%s" % (self.token, name, tags)

    def timer(self, name, metric, tags=""):
        return "stats.timers.%s.%s.%s%s" % (self.token, name, metric, tags)

    def gauge(self, name):
        return "stats.gauges.%s.%s" % (self.token, name)

    def set(self, name, tags=""):
        return "stats.sets.%s.%s.count%s" % (self.token, name, tags)

    def own_count(self, name):
        """statsd's own counters (statsd.metrics_received...)."""
        return "stats_counts.statsd.%s" % name if self.legacy else \
            "stats.counters.statsd.%s.count" % name

    @property
    def num_stats(self):
        return "statsd.numStats" if self.legacy else "stats.statsd.numStats"

    def expected_schemas(self):
        """Every name of the test's token, by the schema examples/statsd.py stores it in."""
        tags = ";dc=x;env=prod"  # karbon sorts the tags by name
        counters = ["hits", "hosts.web1.requests", "hosts.web2.requests", "probe", ("tagged", tags)]
        timers = ["latency", "hosts.web1.latency", "all_hosts.latency", ("tlat", ";dc=x")]
        schemas = {schema: set() for schema in SCHEMAS}
        for counter in counters:
            name, suffix = counter if isinstance(counter, tuple) else (counter, "")
            schemas["counts"].add(self.count(name, suffix))
            schemas["rates"].add(self.rate(name, suffix))
        schemas["counts"].add(self.count("all_hosts.requests"))  # AGGREGATES roll-up
        for timer in timers:
            name, suffix = timer if isinstance(timer, tuple) else (timer, "")
            for metric in TIMER_METRICS:
                schema = "counts" if metric in COUNTED else "timers"
                schemas[schema].add(self.timer(name, metric, suffix))
        schemas["gauges"].add(self.gauge("depth"))
        schemas["sets"].update({self.set("users"), self.set("tusers", ";dc=x")})
        return schemas


class Statsd:
    """A statsd process on a UDP port and a management port of its own, flushing every second."""

    def __init__(self, daemons, command, karbon_port, legacy):
        for attempt in range(3):  # the free ports picked may be taken before statsd binds them
            self.port, self.mgmt_port = free_port(socket.SOCK_DGRAM), free_port()
            config = {"graphiteHost": "127.0.0.1", "graphitePort": karbon_port,
                      "address": "127.0.0.1", "port": self.port,
                      "mgmt_address": "127.0.0.1", "mgmt_port": self.mgmt_port,
                      "flushInterval": 1000, "backends": ["./backends/graphite"],
                      "graphite": {"legacyNamespace": legacy},
                      "dumpMessages": True, "debug": True, "automaticConfigReload": False}
            path = os.path.join(str(daemons.folder), "statsd-%d.json" % attempt)
            with open(path, "w") as handle:
                json.dump(config, handle, indent=1)
            self.daemon = daemons.start("statsd-%d" % attempt, command + [path])
            if self._healthy():
                return
            self.daemon.stop()
        raise AssertionError("statsd did not start:\n%s" % self.daemon.log)

    def admin(self, command):
        """One command on the management port; its answer (up to 'END' or the health line)."""
        with socket.create_connection(("127.0.0.1", self.mgmt_port), timeout=5) as conn:
            conn.sendall(command.encode() + b"\n")
            answer = b""
            while not (answer.endswith(b"END\n\n") or answer.startswith(b"health:")
                       and answer.endswith(b"\n")):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer.decode()

    def _healthy(self):
        deadline = time.monotonic() + DEADLINE
        while self.daemon.running() and time.monotonic() < deadline:
            try:
                if self.admin("health").strip() == "health: up":
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def send(self, lines):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto("\n".join(lines).encode(), ("127.0.0.1", self.port))

    def probe(self, token):
        """Send counter ``<token>.probe`` until statsd has it: its UDP port works."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            self.send([token + ".probe:1|c"])
            for _ in range(10):
                if "'%s.probe'" % token in self.admin("counters"):
                    return
                time.sleep(0.05)
        raise AssertionError("statsd never counted %s.probe:\n%s" % (token, self.daemon.log))


@pytest.mark.parametrize("legacy", [True, False], ids=["legacyNamespace", "newNamespace"])
def test_statsd_graphite_backend(stack, unique_name, legacy):  # noqa: F811
    command = statsd_command()  # skips (fails under CI) before anything starts
    t0 = int(time.time()) - 60
    karbon = stack.karbon(CONFIGS)
    torus = stack.torus(CONFIGS)
    statsd = Statsd(stack, command, karbon.port, legacy)
    names = Names(unique_name, legacy)

    statsd.probe(unique_name)
    statsd.send(first_flush(unique_name))
    poll(lambda: torus.collapsed([names.count("hits")], t0)[names.count("hits")], 9,
         "the first flush reaching torus")
    statsd.send(second_flush(unique_name))

    latency = lambda metric: names.timer("latency", metric)  # noqa: E731
    tagged = names.count("tagged", ";dc=x;env=prod")
    datagrams = [first_flush(unique_name), second_flush(unique_name)]
    expected = {
        # counters: the count summed over flushes, the rate (per second) of each flush
        names.count("hits"): 14,
        names.rate("hits"): {"9": 1, "5": 1},
        names.count("all_hosts.requests"): 6,  # AGGREGATES: web1 2 + 1, web2 3
        names.rate("hosts.web2.requests"): {"3": 1},
        tagged: 3,  # tags in either order are one series
        # timers: additive metrics summed, the others one histogram entry per flush
        latency("count"): 4 + 4,  # 100|ms|@0.5 counts twice
        latency("sum"): 100 + 600,
        latency("sum_squares"): 3000 + 140000,
        latency("count_90"): 4 + 3,
        latency("upper"): {"40": 1, "300": 1},
        latency("lower"): {"10": 1, "100": 1},
        latency("mean"): {"25": 1, "200": 1},
        latency("median"): {"25": 1, "200": 1},
        latency("std"): {"11.2": 1, "81.6": 1},  # 11.18 and 81.65, to 3 significant figures
        latency("upper_90"): {"40": 1, "300": 1},
        latency("count_ps"): {"4": 2},
        names.timer("all_hosts.latency", "upper"): {"7": 1},
        names.timer("all_hosts.latency", "count"): 1,
        names.timer("tlat", "count", ";dc=x"): 1,
        names.timer("tlat", "upper", ";dc=x"): {"5": 1},
        # the last value of the gauge, the number of distinct members of each flush
        names.gauge("depth"): 12,
        names.set("users"): {"2": 1, "4": 1},
        names.set("tusers", ";dc=x"): {"1": 1},
        # statsd's own counters: every line and datagram it received, besides the probes
        names.own_count("metrics_received"): sum(map(len, datagrams)),
        names.own_count("packets_received"): len(datagrams),
        names.own_count("bad_lines_seen"): 0,
    }
    zeros = {stat for stat, value in expected.items() if isinstance(value, dict)}
    probes = names.count("probe")  # one datagram of one line each; usually 1, maybe more

    def read():
        values = torus.collapsed(list(expected) + [probes], t0)
        values = {stat: without_zero(value) if stat in zeros else value
                  for stat, value in values.items()}
        received = values.pop(probes) or 0
        for own in ("metrics_received", "packets_received"):
            values[names.own_count(own)] = (values[names.own_count(own)] or 0) - received
        return values

    poll(read, expected, "values read back from torus")
    # statsd's numStats, the last flush: 9 counters (3 its own; the tagged counter twice, statsd
    # keeps each tag order apart), 3 timers, 2 gauges (with its timestamp_lag), 2 sets
    poll(lambda: torus.collapsed([names.num_stats], t0)[names.num_stats], 16, "numStats")

    # every name lands in the schema the example config documents, and in one schema only
    listed = {schema: set(torus.list(schema)) for schema in SCHEMAS}
    mine = {schema: {n for n in found if ".%s." % unique_name in n}
            for schema, found in listed.items()}
    assert mine == names.expected_schemas()
    assert sum(map(len, listed.values())) == len(set().union(*listed.values()))
    assert set(torus.list()) == set().union(*listed.values())
    assert names.num_stats in listed["statsd"]
    assert names.own_count("metrics_received") in listed["counts"]
    assert "stats.gauges.statsd.timestamp_lag" in listed["gauges"]

    # statsd's timestamps (flush time, in seconds) are kept: per-minute buckets of this run
    # (both clients round to the nearest second, so a point may be up to 0.5 s ahead of now)
    gauge = torus.get("series", [("stat", names.gauge("depth")), ("interval", "hour"),
                                 ("format", "json"), ("start", str(t0))])[0]
    minutes = [int(minute) for hour in gauge["datapoints"].values() for minute in hour]
    assert minutes and all(t0 - 60 <= minute <= time.time() + 1 for minute in minutes), gauge

    statsd.daemon.stop()
    totals = karbon.stop()
    assert totals["lines"] > 0 and totals["stored"] >= totals["points"], totals
    assert {key: totals[key] for key in ("bad", "overlong", "dropped", "unmatched", "rejected",
                                         "failed")} == dict.fromkeys(
        ("bad", "overlong", "dropped", "unmatched", "rejected", "failed"), 0), totals
