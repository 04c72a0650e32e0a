"""collectd (write_graphite) -> karbon -> torus, with examples/statsd.py + examples/collectd.py.

A real collectd (``collectd -C conf -f``) reads the cpu, memory and load plugins
every second and sends them with write_graphite, over TCP or UDP, with plain
or Graphite-tagged names (UseTags), to bin/karbon.
The test reads the metrics back from bin/torus (/list and /series) and checks
that they are this machine's: the memory figures add up to MemTotal, each CPU's
states add up to about 100 jiffies per second, the 15-minute load is the
kernel's; plain names carry the escaped host name, tagged ones a host tag;
nothing goes unmatched.
"""
import os
import re
import time

import pytest

from tests.functional.e2e_support import (collectd_command, poll, stack,  # noqa: F401
                                          without_zero)

CONFIGS = ["examples/statsd.py", "examples/collectd.py"]
CPU_STATES = ("user", "system", "wait", "nice", "interrupt", "softirq", "steal", "idle")
#: readings of every metric to wait for (one per second)
SAMPLES = 3

COLLECTD_CONF = """\
Hostname "{hostname}"
FQDNLookup false
BaseDir "{folder}"
PIDFile "{folder}/collectd.pid"
Interval 1

LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDERR
  Timestamp true
</Plugin>

LoadPlugin cpu
LoadPlugin memory
LoadPlugin load

<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "karbon">
    Host "127.0.0.1"
    Port "{port}"
    Protocol "{protocol}"
    Prefix "collectd."
    EscapeCharacter "_"
    StoreRates true
    SeparateInstances false
    AlwaysAppendDS false
    UseTags {tags}
    LogSendErrors true
  </Node>
</Plugin>
"""


def mem_total():
    """MemTotal of /proc/meminfo, in bytes (what collectd's memory figures add up to)."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def samples(histogram):
    """How many readings a collapsed histogram holds."""
    return sum((histogram or {}).values())


class Plain:
    """write_graphite's names: ``collectd.<host, dots escaped>.<plugin>[-<instance>].<type>...``."""

    def __init__(self, host):
        self.host = "collectd.%s" % host.replace(".", "_")

    def load(self, term):
        return "%s.load.load.%s" % (self.host, term)

    def cpu(self, number, state):
        return "%s.cpu-%s.cpu-%s" % (self.host, number, state)

    def memory(self, kind):
        return "%s.memory.memory-%s" % (self.host, kind)

    def mine(self, name):
        return name.startswith(self.host + ".")

    def parse(self, name):
        """``("cpu", number)``, ``("memory", kind)`` or ``(None, None)``."""
        match = re.match(re.escape(self.host) + r"\.(?:cpu-(\d+)\.cpu-|memory\.memory-(\w+))", name)
        if not match:
            return None, None
        return ("cpu", match.group(1)) if match.group(1) else ("memory", match.group(2))


class Tagged:
    """``UseTags true``: ``collectd.<plugin>.<type>[.<ds>];host=...;plugin=...`` (tags sorted)."""

    def __init__(self, host):
        self.host = host

    def load(self, term):
        return "collectd.load.load.%s;ds_name=%s;host=%s;plugin=load;type=load" % (
            term, term, self.host)

    def cpu(self, number, state):
        return ("collectd.cpu.cpu;host=%s;plugin=cpu;plugin_instance=%s;type=cpu;type_instance=%s"
                % (self.host, number, state))

    def memory(self, kind):
        return "collectd.memory.memory;host=%s;plugin=memory;type=memory;type_instance=%s" % (
            self.host, kind)

    def mine(self, name):
        return ";host=%s;" % self.host in name

    def parse(self, name):
        tags = dict(tag.split("=", 1) for tag in name.split(";")[1:])
        if tags.get("plugin") == "cpu":
            return "cpu", tags["plugin_instance"]
        if tags.get("plugin") == "memory":
            return "memory", tags["type_instance"]
        return None, None


@pytest.mark.parametrize("protocol, tags", [("tcp", False), ("udp", False), ("tcp", True)],
                         ids=["tcp", "udp", "tcp-UseTags"])
def test_collectd_write_graphite(stack, unique_name, protocol, tags):  # noqa: F811
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("collectd's cpu/memory/load figures are checked against Linux's /proc")
    command = collectd_command()
    t0 = int(time.time()) - 60
    karbon = stack.karbon(CONFIGS, udp=protocol == "udp")
    torus = stack.torus(CONFIGS)
    folder = os.path.join(str(stack.folder), "collectd")
    os.makedirs(folder)
    conf = os.path.join(folder, "collectd.conf")
    host = "e2e.%s.test" % unique_name  # dotted: write_graphite escapes the dots (not in tags)
    with open(conf, "w") as handle:
        handle.write(COLLECTD_CONF.format(
            hostname=host, folder=folder, protocol=protocol, tags=str(tags).lower(),
            port=karbon.udp_port if protocol == "udp" else karbon.port))
    collectd = stack.start("collectd", command + ["-C", conf, "-f"])

    names = Tagged(host) if tags else Plain(host)
    load = [names.load(term) for term in ("shortterm", "midterm", "longterm")]
    metrics = load + [names.cpu(0, state) for state in CPU_STATES] + [
        names.memory(kind) for kind in ("used", "free", "buffered", "cached")]
    poll(lambda: {name: min(samples(value), SAMPLES)
                  for name, value in torus.collapsed(metrics, t0).items()},
         dict.fromkeys(metrics, SAMPLES), "%d readings of each metric" % SAMPLES)

    # collectd sends what it holds when it stops; karbon, once idle (it logs every line it
    # receives and every batch it stores), stores everything it read when it stops
    assert collectd.stop() == 0, collectd.log
    assert "write_graphite" not in re.sub(r"plugin \"write_graphite\" successfully loaded", "",
                                          collectd.log), collectd.log  # no send errors
    listed = set(torus.list("collectd"))
    kinds = {name: names.parse(name) for name in listed}

    karbon.daemon.wait_quiet()
    totals = karbon.stop()
    assert totals["lines"] > len(metrics) * SAMPLES, totals
    # a rate's first reading is "nan" (no previous value to derive from): karbon drops those
    dropped = re.findall(r"SKIP (\S+) nan \d+\s.*not finite", karbon.daemon.log)
    assert totals["dropped"] == len(dropped), (totals, dropped)
    assert all(names.parse(name)[0] == "cpu" for name in dropped), dropped
    assert {key: totals[key] for key in ("bad", "overlong", "unmatched", "rejected", "failed")} \
        == dict.fromkeys(("bad", "overlong", "unmatched", "rejected", "failed"), 0), totals

    assert set(torus.list()) == listed  # nothing in the statsd schemas
    assert set(metrics) <= listed
    assert all(names.mine(name) for name in listed), sorted(listed)
    every_memory = sorted(name for name, (plugin, _) in kinds.items() if plugin == "memory")
    cpus = {number for plugin, number in kinds.values() if plugin == "cpu"}
    assert "0" in cpus, sorted(listed)
    # no reading is stored in part: every figure of the memory plugin, of each CPU and of the
    # load has been stored the same number of times
    readings = {}
    for name, value in torus.collapsed(sorted(listed), t0).items():
        plugin, number = kinds[name]
        readings.setdefault(number if plugin == "cpu" else plugin, {})[name] = samples(value)
    assert all(len(set(group.values())) == 1 for group in readings.values()), readings

    # the values are this machine's, averaged over the same readings
    averages = {entry["stat_name"]: entry["datapoints"][0][0] for entry in torus.get("series", [
        ("stat", "avg(%s)" % name) for name in sorted(listed)] + [
        ("interval", "hour"), ("collapse", "true"), ("start", str(t0))])}
    total = sum(averages[name] for name in every_memory)  # used = total - free - buffers - ...
    assert abs(total - mem_total()) <= 0.02 * mem_total(), (every_memory, averages)
    for cpu in cpus:  # jiffies per second, USER_HZ = 100, spread over the states
        jiffies = sum(averages[names.cpu(cpu, state)] for state in CPU_STATES)
        assert 75 <= jiffies <= 125, (cpu, jiffies, averages)
    longterm = os.getloadavg()[2]
    assert abs(averages[load[2]] - longterm) <= 0.1 + 0.1 * longterm, (averages[load[2]], longterm)

    # collectd's timestamps are kept: per-minute buckets of this run
    # (both clients round to the nearest second, so a point may be up to 0.5 s ahead of now)
    entry = torus.get("series", [("stat", load[0]), ("interval", "hour"), ("format", "json"),
                                 ("start", str(t0))])[0]
    minutes = [int(minute) for hour in entry["datapoints"].values() for minute in hour]
    assert minutes and all(t0 - 60 <= minute <= time.time() + 1 for minute in minutes), entry
    assert without_zero(torus.collapsed([load[0]], t0)[load[0]])  # real load figures
