"""Quick start: store everything statsd's Graphite backend sends, in SQLite files.

Point statsd at karbon (``graphiteHost``/``graphitePort``, see the README) and run
``karbon --config examples/statsd.py`` and ``torus --config examples/statsd.py``
(or ``honcho start``, ``honcho start -f Procfile.dev`` from a checkout).

Both statsd namespace styles are understood:

==========  ======================================  ======================================
statsd      legacyNamespace: true (the default)     legacyNamespace: false
==========  ======================================  ======================================
counter     stats.<name> (rate per second)          stats.counters.<name>.rate
            stats_counts.<name> (count)             stats.counters.<name>.count
timer       stats.timers.<name>.<metric>            stats.timers.<name>.<metric>
gauge       stats.gauges.<name>                     stats.gauges.<name>
set         stats.sets.<name>.count                 stats.sets.<name>.count
statsd's    statsd.numStats, stats.statsd.*         stats.statsd.*
==========  ======================================  ======================================

Tagged metrics (statsd's ``name:1|c|#dc:x``) arrive as ``stats_counts.name;dc=x``,
``stats.sets.name.count;dc=x``...: the Graphite tags follow the name and each goes to
the schema of the same name without tags.

The match expressions below do not overlap: a stat is stored in exactly one
schema, so a query finds it in that schema. ``schema_debug --config
examples/statsd.py 'stats.timers.api.latency.mean 12.5'`` shows where a stat goes.
Every schema also has a ``generator`` for ``schema_test`` (names under ``bench.``).
"""
import getpass
import math
import os
import random
import tempfile

from torus.values import long_or_float


def _user():
    """The login name; the uid when there is none (os.getlogin() fails without a tty)."""
    try:
        return getpass.getuser()
    except Exception:  # no LOGNAME/USER and no passwd entry (e.g. a bare container)
        return str(getattr(os, "getuid", lambda: "user")())


# Where the SQLite files live: edit this line or set TORUS_STORAGE_DIR for a permanent place.
storage_dir = os.environ.get("TORUS_STORAGE_DIR") or os.path.join(tempfile.gettempdir(),
                                                                  "torus.%s" % _user())
os.makedirs(storage_dir, mode=0o700, exist_ok=True)

# 0: errors only, 1: karbon logs what it stores, 2: and every line it receives
DEBUG = int(os.environ.get("TORUS_DEBUG", "0"))


def sqlite(name):
    """One SQLite file per schema: writers of different schemas never wait for each other."""
    return "sqlite:///%s" % os.path.join(storage_dir, "%s.db" % name)


def significant(value, digits=3):
    """Round to ``digits`` significant figures (12.345 -> 12.3, 0.012345 -> 0.0123, 12345 -> 12300).

    The bucketing write_func of the histograms: a histogram keeps one counter per
    distinct value, so rounding bounds the number of rows while keeping the
    relative error under 0.5%.
    """
    number = long_or_float(value)
    if number == 0 or not math.isfinite(number):
        return number
    return long_or_float(round(number, digits - 1 - int(math.floor(math.log10(abs(number))))))


# hour: per-minute data kept 30 days; day: per-hour data kept a year; month: per-day data, 5 years
intervals = {
    "hour": {"step": "1h", "resolution": 60, "steps": 24 * 30},
    "day": {"step": "daily", "resolution": "1h", "steps": 365},
    "month": {"step": "monthly", "resolution": "daily", "steps": 60},
}

# additive timer metrics (count, count_90, sum, sum_90, sum_squares, sum_squares_99_9) and
# histogram bins are counts; every other timer metric (mean, upper, count_ps...) is a histogram
_TIMER_COUNTED = r"(?:(?:count|sum|sum_squares)(?:_\d+(?:_\d+)?)?|histogram\.bin_[^.;]+)"
# where the dotted path ends: the end of the name, or the Graphite tags statsd appends to it
# for tagged metrics (``stats.sets.users.count;dc=x`` from ``users:a|s|#dc:x``)
_END = r"(?:;|$)"
# legacy rates are stats.<name>: everything under stats. but the other statsd namespaces
_NOT_A_RATE = r"(?!(?:timers|gauges|sets|counters|statsd)\.)"


def _host():
    return "web%d" % random.randint(1, 4)


SCHEMAS = {
    # counters: how many in each flush, summed per bucket
    "counts": {
        "type": "count",
        "host": sqlite("counts"),
        "match": [
            r"^stats_counts\.",
            r"^stats\.counters\.[^;]+\.count" + _END,
            r"^stats\.timers\.[^;]+\." + _TIMER_COUNTED + _END,
        ],
        "intervals": intervals,
        "generator": lambda: (random.choice(["stats_counts.bench.hosts.%s.requests",
                                             "stats.counters.bench.hosts.%s.requests.count"])
                              % _host(), random.randint(1, 100)),
    },
    # counter rates (per second): a histogram, so avg/min/max per bucket can be queried
    "rates": {
        "type": "histogram",
        "host": sqlite("rates"),
        "match": [r"^stats\." + _NOT_A_RATE, r"^stats\.counters\.[^;]+\.rate" + _END],
        "write_func": significant,
        "intervals": intervals,
        "generator": lambda: (random.choice(["stats.bench.hosts.%s.requests",
                                             "stats.counters.bench.hosts.%s.requests.rate"])
                              % _host(), random.uniform(0, 50)),
    },
    # timers: mean, upper, lower, median, std, *_90... bucketed to 3 significant figures
    "timers": {
        "type": "histogram",
        "host": sqlite("timers"),
        "match": r"^stats\.timers\.(?![^;]+\." + _TIMER_COUNTED + _END + ")",
        "write_func": significant,
        "intervals": intervals,
        "generator": lambda: ("stats.timers.bench.hosts.%s.latency.%s" % (
            _host(), random.choice(["mean", "upper", "mean_90", "upper_90"])),
            random.lognormvariate(3, 0.5)),
    },
    # gauges: the last value of each bucket
    "gauges": {
        "type": "gauge",
        "host": sqlite("gauges"),
        "match": r"^stats\.gauges\.",
        "intervals": intervals,
        "generator": lambda: ("stats.gauges.bench.queue_depth", random.randint(0, 500)),
    },
    # sets: statsd sends the number of distinct members seen in each flush
    "sets": {
        "type": "histogram",
        "host": sqlite("sets"),
        "match": r"^stats\.sets\.[^;]+\.count" + _END,
        "write_func": significant,
        "intervals": intervals,
        "generator": lambda: ("stats.sets.bench.users.count", random.randint(0, 1000)),
    },
    # statsd's own figures: numStats, graphiteStats.*, processing_time, packets_received rate...
    "statsd": {
        "type": "gauge",
        "host": sqlite("statsd"),
        "match": [r"^statsd\.", r"^stats\.statsd\."],
        "intervals": intervals,
        "generator": lambda: (random.choice(["statsd.bench.numStats", "stats.statsd.bench.numStats"]),
                              random.randint(0, 200)),
    },
}

# Stats named <app>.hosts.<host>.<metric> are also rolled up into <app>.all_hosts.<metric>.
AGGREGATES = [
    ("stats_counts.<app>.all_hosts.<metric>", "stats_counts.<app>.hosts.*.<metric>"),
    ("stats.counters.<app>.all_hosts.<metric>.count", "stats.counters.<app>.hosts.*.<metric>.count"),
    ("stats.timers.<app>.all_hosts.<metric>.<value>", "stats.timers.<app>.hosts.*.<metric>.<value>"),
]

TRANSFORMS = {
    # number of distinct values in a histogram bucket, e.g. /series?stat=distinct(stats.timers.x.mean)
    "distinct": lambda row: len(row) if row else 0,
}
