"""Carbon-style self-metrics: karbon writes its own figures into its own storage.

Off unless the configuration asks for it::

    SELF_METRICS = {'prefix': 'karbon.{host}', 'every': 60}

Every ``every`` seconds (default 60) karbon turns the ``karbon_*`` and ``process_*``
samples of ``torus.metrics`` into Carbon lines and queues them like lines it
received, so the normal path applies (routing, aggregates, retries, dead letters,
and the counts of lines received): a schema must match the prefix, and karbon
warns at start and on reload when none does. Names, as carbon writes
``carbon.agents.<host>.*``::

    <prefix>.<metric>[.<label value>...]     e.g. karbon.web1.points_stored.counts

``<metric>`` is the Prometheus name without ``karbon_`` and ``_total`` (``process_``
metrics keep a ``process.`` component). Counters are written as their increase
since the previous write (what happened in the interval), gauges as their value,
histograms as ``<metric>.<labels>.count`` (increase) and ``.mean`` (mean seconds
over the interval, when there was any). In the prefix, ``{host}`` is the short
host name and ``{worker}`` the worker number under ``karbon --workers N``; with
several workers and no ``{worker}`` in the prefix, ``.<worker number>`` is
appended, so that workers do not overwrite each other's figures.
"""
from __future__ import annotations

import logging
import math
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import gevent

from . import metrics
from .errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "karbon.{host}"
DEFAULT_EVERY = 60.0
#: seconds between two looks at the setting while it is off (a reload may turn it on)
IDLE_CHECK = 5.0
SOURCE = "self-metrics"
#: process metrics that never change: not written
STATIC = ("process_start_time_seconds", "process_max_fds")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_FIELDS = re.compile(r"{(\w*)}")


@dataclass(frozen=True)
class Setting:
    """SELF_METRICS, checked: the prefix template and the period in seconds."""

    prefix: str
    every: float

    def resolve(self, host: str, worker: Optional[int]) -> str:
        """The prefix with ``{host}`` and ``{worker}`` filled in."""
        prefix = self.prefix.replace("{host}", host).replace("{worker}", str(worker or 0))
        if worker is not None and "{worker}" not in self.prefix:
            prefix += ".%d" % worker
        return prefix


def parse_setting(value: Any, origin: str = "SELF_METRICS") -> Optional[Setting]:
    """The checked setting (None: off); ConfigError naming what is wrong."""
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        raise ConfigError("%s must be a dict such as {'prefix': %r, 'every': 60}, not %r"
                          % (origin, DEFAULT_PREFIX, value))
    unknown = sorted(set(value) - {"prefix", "every"})
    if unknown:
        raise ConfigError("%s: unknown key(s) %s (use prefix, every)" % (origin, ", ".join(
            map(repr, unknown))))
    prefix = value.get("prefix", DEFAULT_PREFIX)
    if not isinstance(prefix, str) or not prefix.strip():
        raise ConfigError("%s: prefix must be a non-empty string, not %r" % (origin, prefix))
    for field in _FIELDS.findall(prefix):
        if field not in ("host", "worker"):
            raise ConfigError("%s: prefix %r: unknown field {%s} (use {host}, {worker})"
                              % (origin, prefix, field))
    sample = prefix.replace("{host}", "h").replace("{worker}", "0")
    if (any(c.isspace() for c in sample) or ";" in sample or sample.startswith(".")
            or sample.endswith(".") or ".." in sample or "{" in sample or "}" in sample):
        raise ConfigError("%s: prefix %r is not a Carbon name prefix (dotted components, no "
                          "spaces or ';')" % (origin, prefix))
    every = value.get("every", DEFAULT_EVERY)
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not every >= 1 \
            or math.isinf(every):
        raise ConfigError("%s: every must be a number of seconds, at least 1, not %r"
                          % (origin, every))
    return Setting(prefix, float(every))


def short_host() -> str:
    """This machine's name up to its first dot, safe as one name component."""
    return _UNSAFE.sub("_", socket.gethostname().split(".", 1)[0]) or "localhost"


def component(value: str) -> str:
    """A label value as one Carbon name component."""
    return _UNSAFE.sub("_", value) or "_"


class Snapshot:
    """Turns registry samples into Carbon lines, remembering counters between two calls."""

    def __init__(self) -> None:
        self.last: Dict[Tuple[str, Tuple[str, ...]], float] = {}

    def lines(self, prefix: str, now: float) -> List[str]:
        stamp = int(now)
        out: List[str] = []
        histograms: Dict[Tuple[str, Tuple[str, ...]], Dict[str, float]] = {}
        for family in ("karbon_", "process_"):
            for name, kind, labels, value in metrics.samples(family):
                if name in STATIC:
                    continue
                path = _path(name, kind)
                key = (path, tuple(component(v) for v in labels.values()))
                if kind == "histogram":
                    part = "count" if name.endswith("_count") else "sum"
                    histograms.setdefault(key, {})[part] = value
                    continue
                if kind == "counter":
                    value, self.last[key] = value - self.last.get(key, 0.0), value
                out.append(_line(prefix, key, value, stamp))
        for (path, components), parts in histograms.items():
            count = parts.get("count", 0.0) - self.last.get((path + ".count", components), 0.0)
            total = parts.get("sum", 0.0) - self.last.get((path + ".sum", components), 0.0)
            self.last[(path + ".count", components)] = parts.get("count", 0.0)
            self.last[(path + ".sum", components)] = parts.get("sum", 0.0)
            out.append(_line(prefix, (path, components + ("count",)), count, stamp))
            if count > 0:
                out.append(_line(prefix, (path, components + ("mean",)), total / count, stamp))
        return out


def _path(name: str, kind: str) -> str:
    if kind == "histogram":
        name = name.rsplit("_", 1)[0]  # _count / _sum
    if name.endswith("_total"):
        name = name[:-len("_total")]
    if name.startswith("karbon_"):
        return name[len("karbon_"):]
    return "process." + name[len("process_"):]


def _line(prefix: str, key: Tuple[str, Tuple[str, ...]], value: float, stamp: int) -> str:
    path, labels = key
    name = ".".join((prefix, path) + labels)
    text = "%d" % value if float(value).is_integer() else repr(float(value))
    return "%s %s %d\n" % (name, text, stamp)


class SelfMetrics:
    """The greenlet that writes karbon's figures every ``every`` seconds, while configured."""

    def __init__(self, holder: Any, submit: Callable[[bytes, str], None],
                 worker: Optional[int] = None, clock: Callable[[], float] = time.time,
                 host: Optional[str] = None):
        self.holder = holder
        self.submit = submit
        self.worker = worker
        self.clock = clock
        self.host = host or short_host()
        self.snapshot = Snapshot()
        self._greenlet: Optional[gevent.Greenlet] = None

    def setting(self) -> Optional[Setting]:
        return parse_setting(self.holder.current.setting("SELF_METRICS"))

    def check_routing(self) -> None:
        """Warn when self-metrics are on and no schema would store them."""
        setting = self.setting()
        if setting is None:
            return
        prefix = setting.resolve(self.host, self.worker)
        sample = prefix + ".lines_received"
        if not self.holder.current.route(sample):
            log.warning("SELF_METRICS: no schema matches %s (prefix %r): karbon's own figures will "
                        "be counted as unmatched and not stored; add a schema matching the prefix",
                        sample, prefix)
        else:
            log.info("SELF_METRICS: writing karbon's figures under %s every %g s", prefix,
                     setting.every)

    def write_once(self) -> int:
        """Queue one round of lines; how many."""
        setting = self.setting()
        if setting is None:
            return 0
        lines = self.snapshot.lines(setting.resolve(self.host, self.worker), self.clock())
        if lines:
            self.submit("".join(lines).encode("utf-8"), SOURCE)
        return len(lines)

    def _loop(self) -> None:
        while True:
            setting = self.setting()
            gevent.sleep(IDLE_CHECK if setting is None else setting.every)
            try:
                self.write_once()
            except Exception:  # never let this stop: the next round tries again
                log.exception("SELF_METRICS: could not queue karbon's figures")

    def start(self) -> None:
        self.check_routing()
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
