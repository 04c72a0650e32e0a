"""Quick start for collectd: store what its write_graphite plugin sends, in SQLite files.

Use it alone or beside the statsd quick start (the match expressions do not overlap)::

    karbon --config examples/statsd.py --config examples/collectd.py
    torus --config examples/statsd.py --config examples/collectd.py

and point collectd at karbon (collectd.conf)::

    <Plugin write_graphite>
      <Node "karbon">
        Host "127.0.0.1"
        Port "2003"
        Protocol "tcp"
        Prefix "collectd."
      </Node>
    </Plugin>

collectd names its metrics ``<Prefix><host><Postfix>.<plugin>[-<plugin instance>].<type>
[-<type instance>][.<data source>]``, e.g. ``collectd.web1.load.load.shortterm``,
``collectd.web1.memory.memory-used``, ``collectd.web1.cpu-0.cpu-idle``. The dots of the
host name (and of every other part) are replaced by ``EscapeCharacter`` (default ``_``):
host ``web1.example.com`` gives ``collectd.web1_example_com.load.load.shortterm``.
With ``UseTags true`` the names are Graphite-tagged instead, e.g.
``collectd.load.load.shortterm;ds_name=shortterm;host=web1.example.com;plugin=load;type=load``
(karbon sorts the tags by name; the host keeps its dots). ``match`` below expects the
``collectd.`` prefix: change ``prefix`` when you change ``Prefix``. Storage goes where
examples/statsd.py puts it (``TORUS_STORAGE_DIR``).
"""
import os
import random
import re
import runpy

# the write_graphite Prefix, without its final dot
prefix = "collectd"

# the storage directory, the intervals and the rounding of the statsd quick start
_statsd = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "statsd.py"))
storage_dir = _statsd["storage_dir"]
DEBUG = _statsd["DEBUG"]

_BENCH = [  # what schema_test generates: host "bench", realistic names and values
    ("load.load.shortterm", lambda: random.uniform(0, 4)),
    ("memory.memory-used", lambda: random.randint(500, 800) * 2 ** 20),
    ("cpu-0.cpu-idle", lambda: random.uniform(80, 100)),
    ("cpu-0.cpu-user", lambda: random.uniform(0, 20)),
]


def _generate():
    name, value = random.choice(_BENCH)
    return "%s.bench.%s" % (prefix, name), value()


SCHEMAS = {
    # every collectd value (gauges, and counters/derives sent as rates per second with
    # StoreRates true): a histogram of values rounded to 3 significant figures, so
    # avg/min/max/percentiles per bucket can be queried, as in the statsd "timers" schema
    "collectd": {
        "type": "histogram",
        "host": _statsd["sqlite"]("collectd"),
        "match": r"^%s\." % re.escape(prefix),
        "write_func": _statsd["significant"],
        "intervals": _statsd["intervals"],
        "generator": _generate,
    },
}
