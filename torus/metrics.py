"""Every metric karbon and torus expose, defined once, in one prometheus-client registry.

The daemons update these where they already count things, once per batch or per
request (never per point: karbon handles ~100k points/s). Gauges of live state
(queue bytes, connections) are read when scraped (``bind_gauges``), so they cost
nothing in between. torus's per-request figures live in ``RequestMetrics``, plain
dicts exposed by a collector, because a prometheus-client child costs several
microseconds per update under gevent's locks. ``/metrics`` (``exposition``) renders the registry in
Prometheus' text format; ``torus.self_metrics`` writes the same figures into
karbon's own storage as Carbon lines.

Label values that come from the outside world (unmatched prefixes) are capped at
``MAX_PREFIXES`` distinct values (the rest are counted under ``"_other"``), so a
sender of random names cannot grow the registry without bound. README's
"Metrics list" names every metric; a test checks that the list and this module agree.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Sequence, Tuple

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               ProcessCollector, generate_latest)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

#: the registry of this process: karbon's and torus's metrics plus the process collector
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes...

#: seconds: from a millisecond (a local SQLite write) to a minute (retries against a slow server)
WRITE_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)
#: seconds of a torus request
REQUEST_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
#: distinct top-level prefixes counted as unmatched before the rest go to "_other"
MAX_PREFIXES = 100
OTHER = "_other"

# -- karbon -------------------------------------------------------------------------------
LINES = Counter("karbon_lines_received", "Carbon lines read from TCP and UDP, good or bad",
                registry=REGISTRY)
PARSED = Counter("karbon_points_parsed", "Points parsed from well-formed lines",
                 registry=REGISTRY)
BAD = Counter("karbon_lines_bad", "Lines refused: malformed, or longer than the line limit",
              ["reason"], registry=REGISTRY)
DROPPED = Counter("karbon_points_dropped",
                  "Well-formed lines whose value is nan or infinite: dropped, not stored",
                  registry=REGISTRY)
UNMATCHED = Counter("karbon_points_unmatched",
                    "Points no schema matches, by the first component of their name "
                    "(at most %d names, then %r)" % (MAX_PREFIXES, OTHER), ["prefix"],
                    registry=REGISTRY)
SKIPPED = Counter("karbon_points_skipped",
                  "Points a schema's transform chose not to store", registry=REGISTRY)
REJECTED = Counter("karbon_points_rejected",
                   "Points refused for their value (by write_func, or by the database)",
                   registry=REGISTRY)
STORED = Counter("karbon_points_stored", "Points written to storage, per schema",
                 ["schema"], registry=REGISTRY)
MERGED = Counter("karbon_batches_merged",
                 "Batches that joined the batch waiting for their schema's writer (it was "
                 "behind), per schema", ["schema"], registry=REGISTRY)
RETRIED = Counter("karbon_batch_retries",
                  "Retries of a batch after storage failed, per schema", ["schema"],
                  registry=REGISTRY)
DEAD_LETTERED = Counter("karbon_points_dead_lettered",
                        "Points not stored after every retry, written to the dead letters, "
                        "per schema", ["schema"], registry=REGISTRY)
BACKEND_ERRORS = Counter("karbon_backend_errors",
                         "Storage calls that failed (each attempt of a batch), per schema",
                         ["schema"], registry=REGISTRY)
WRITE_SECONDS = Histogram("karbon_batch_write_seconds",
                          "Seconds one attempt at storing a batch took, per schema",
                          ["schema"], buckets=WRITE_BUCKETS, registry=REGISTRY)
QUEUE_BYTES = Gauge("karbon_queue_bytes",
                    "Bytes held between the sockets and storage (queued lines and reads)",
                    registry=REGISTRY)
QUEUE_LIMIT = Gauge("karbon_queue_limit_bytes", "The queue's bound (--queue-size)",
                    registry=REGISTRY)
BLOCKED = Gauge("karbon_blocked_connections",
                "Connections waiting for room in the queue (back-pressure: not reading)",
                registry=REGISTRY)
CONNECTIONS = Gauge("karbon_open_connections", "Open Carbon TCP connections", registry=REGISTRY)
CLOSED = Counter("karbon_connections_closed",
                 "TCP connections karbon closed itself: idle too long, or evicted at the cap",
                 ["reason"], registry=REGISTRY)
UDP_DROPPED = Counter("karbon_udp_datagrams_dropped",
                      "Datagrams the kernel dropped because karbon's receive buffer was full",
                      registry=REGISTRY)
DENIED = Counter("karbon_senders_denied",
                 "TCP connections closed and UDP datagrams dropped: the sender is not in --allow",
                 ["transport"], registry=REGISTRY)

# -- torus --------------------------------------------------------------------------------
class RequestMetrics:
    """torus's per-request figures: ``torus_requests_total``, ``torus_request_seconds`` and
    ``torus_points_read_total``, kept in plain dicts and turned into Prometheus families when
    scraped. A request is counted with a few dict updates (about a microsecond), where
    prometheus-client's labelled children, whose locks are gevent's once monkey-patched,
    cost tens of microseconds: a noticeable share of a small /series request.
    """

    def __init__(self, buckets: Sequence[float] = REQUEST_BUCKETS):
        self.buckets = tuple(sorted(buckets))
        self.counts: Dict[Tuple[str, str], int] = {}
        #: endpoint -> observations per bucket (not cumulative; the last one is +Inf), then the sum
        self.latency: Dict[str, List[float]] = {}
        self.points: Dict[str, int] = {}

    def observe(self, endpoint: str, status: int, seconds: float, points: int = 0) -> None:
        key = (endpoint, str(status))
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        slots = self.latency.get(endpoint)
        if slots is None:
            slots = self.latency[endpoint] = [0] * (len(self.buckets) + 1) + [0.0]
        slots[bisect_left(self.buckets, seconds)] += 1  # le is inclusive: seconds <= bound
        slots[-1] += seconds
        if points:
            self.points[endpoint] = self.points.get(endpoint, 0) + points

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily("torus_requests",
                                       "HTTP requests answered, per endpoint and status",
                                       labels=["endpoint", "status"])
        for (endpoint, status), count in sorted(self.counts.items()):
            requests.add_metric([endpoint, status], count)
        yield requests
        latency = HistogramMetricFamily("torus_request_seconds",
                                        "Seconds from a request's arrival to its answer, "
                                        "per endpoint", labels=["endpoint"])
        for endpoint, slots in sorted(self.latency.items()):
            running: float = 0
            buckets = []
            for bound, in_slot in zip(self.buckets + (float("inf"),), slots):
                running += in_slot
                buckets.append((floatToGoString(bound), running))
            latency.add_metric([endpoint], buckets, sum_value=slots[-1])
        yield latency
        points = CounterMetricFamily("torus_points_read", "Datapoints answered, per endpoint",
                                     labels=["endpoint"])
        for endpoint, count in sorted(self.points.items()):
            points.add_metric([endpoint], count)
        yield points


REQUESTS = RequestMetrics()
REGISTRY.register(REQUESTS)


def exposition() -> Tuple[bytes, str]:
    """The registry in Prometheus' text format, and its Content-Type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def names() -> Dict[str, str]:
    """``{sample family name: type}`` of every metric (counters with their ``_total``)."""
    out = {}
    for family in REGISTRY.collect():
        if family.type == "counter":
            out[family.name + "_total"] = family.type
        else:
            out[family.name] = family.type
    return out


# -- karbon's updates, one call per batch ---------------------------------------------------
def count_parsed(lines: int, points: int, bad: int, overlong: int, dropped: int) -> None:
    """What the planner parsed from one batch of received blocks."""
    LINES.inc(lines)
    PARSED.inc(points)
    if bad:
        BAD.labels(reason="malformed").inc(bad)
    if overlong:
        BAD.labels(reason="overlong").inc(overlong)
    if dropped:
        DROPPED.inc(dropped)


def count_overlong(count: int) -> None:
    """Lines the framer skipped for their length (they never reach the parser)."""
    LINES.inc(count)
    BAD.labels(reason="overlong").inc(count)


def count_unmatched(prefixes: Mapping[str, int]) -> None:
    """Unmatched points of one batch, ``{first name component: points}``."""
    for prefix, count in prefixes.items():
        UNMATCHED.labels(prefix=_bounded_prefix(prefix)).inc(count)


_seen_prefixes: Dict[str, None] = {}


def _bounded_prefix(prefix: str) -> str:
    if prefix in _seen_prefixes:
        return prefix
    if len(_seen_prefixes) >= MAX_PREFIXES:
        return OTHER
    _seen_prefixes[prefix] = None
    return prefix


def top_prefix(stat: str) -> str:
    """The first component of a stat name (its tags left out)."""
    return stat.split(";", 1)[0].split(".", 1)[0]


def bind_gauges(**sources: Callable[[], float]) -> None:
    """Read live state when scraped: ``queue_bytes``, ``queue_limit``, ``blocked``,
    ``connections`` -> a function returning the current value."""
    gauges = {"queue_bytes": QUEUE_BYTES, "queue_limit": QUEUE_LIMIT, "blocked": BLOCKED,
              "connections": CONNECTIONS}
    for name, func in sources.items():
        gauges[name].set_function(func)


# -- torus's updates, one call per request ----------------------------------------------------
def observe_request(endpoint: str, status: int, seconds: float, points: int = 0) -> None:
    """One answered request (``endpoint`` must come from a fixed set: see ``web``)."""
    REQUESTS.observe(endpoint, status, seconds, points)


def datapoints(answer: Any) -> int:
    """How many datapoints an answer holds: /series entries' ``datapoints``, or the ``points``
    a raw answer (/render) carries; 0 for anything else."""
    points = getattr(answer, "points", None)
    if points is not None:
        return points
    if isinstance(answer, list):
        total = 0
        for entry in answer:
            if isinstance(entry, dict):
                data = entry.get("datapoints")
                if isinstance(data, (list, dict)):
                    total += len(data)
        return total
    return 0


def samples(prefix: str = "") -> Iterable[Tuple[str, str, Dict[str, str], float]]:
    """``(family name, type, labels, value)`` of every sample whose family starts with
    ``prefix`` (histograms as their ``_count`` and ``_sum`` samples)."""
    for family in REGISTRY.collect():
        if not family.name.startswith(prefix):
            continue
        for sample in family.samples:
            if family.type == "histogram" and not sample.name.endswith(("_count", "_sum")):
                continue
            if sample.name.endswith("_created"):
                continue
            yield sample.name, family.type, dict(sample.labels), sample.value
