"""Periodic upkeep: karbon deletes buckets past ``steps`` on engines without TTLs (SQL) and
brings every schema's name index back in line with the names stored.

Redis, MongoDB and Cassandra expire data themselves; a SQL table keeps every row
(and every batch id in ``kairos_batches``) until someone calls ``expire``. ``Retention``
runs ``Timeseries.expire_all`` for each schema that needs it, every ``period`` seconds,
on the configuration in force at that moment, then ``Timeseries.rebuild_index`` for
every schema: names whose data expired (TTLs, the expiry above) leave the index Graphite's
/metrics/find reads, and a name written again after another process deleted it comes
back. A schema whose engine is ``blocking`` (a SQLite file) is handled from a thread of
its own, since its driver would stop every greenlet while it works.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, List, Optional

import gevent
from gevent.threadpool import ThreadPool

from .config import ConfigHolder, Configuration
from .schema import Schema

log = logging.getLogger(__name__)

#: default seconds between two expiry passes (karbon --expire-every)
DEFAULT_PERIOD = 3600


def needs_expiry(schema: Schema) -> bool:
    """Whether old rows of this schema stay unless deleted: no TTLs, and some interval has
    steps or the engine records batch ids (SQL keeps them in a table until expired)."""
    series = schema.timeseries
    return not series.native_expiry and (series.exactly_once
                                         or any(i.steps for i in series.intervals.values()))


class Retention:
    """A greenlet expiring the SQL schemas of the current configuration periodically."""

    def __init__(self, holder: ConfigHolder, period: float = DEFAULT_PERIOD):
        self.holder = holder
        self.period = period
        self._greenlet: Optional[gevent.Greenlet] = None
        self._thread: Optional[ThreadPool] = None

    def start(self) -> None:
        if self.period > 0:
            self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
        if self._thread is not None:
            self._thread.kill()

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.period)
            self.run_once()

    def run_once(self) -> List[str]:
        """One pass over the schemas; returns the names of those expired without error."""
        with self.holder.lease() as config:  # a reload meanwhile closes its engines after the pass
            return self._pass(config)

    def _pass(self, config: Configuration) -> List[str]:
        done = []
        for schema in list(config.schemas.values()):
            if not needs_expiry(schema):
                continue
            started = time.perf_counter()
            try:
                self._call(schema, schema.timeseries.expire_all)
            except Exception as err:  # storage down: try again next period
                log.warning("schema %s: expiring old buckets failed: %s: %s",
                            schema.name, type(err).__name__, err)
                continue
            done.append(schema.name)
            log.info("schema %s: expired buckets past retention in %.1f ms", schema.name,
                     (time.perf_counter() - started) * 1000)
        for schema in list(config.schemas.values()):
            self.reindex(schema)
        return done

    def reindex(self, schema: Schema) -> None:
        """Rebuild one schema's name index (a failure is logged; the next period tries again)."""
        started = time.perf_counter()
        try:
            changes = self._call(schema, schema.timeseries.rebuild_index)
        except Exception as err:
            log.warning("schema %s: rebuilding the name index failed: %s: %s",
                        schema.name, type(err).__name__, err)
            return
        if changes.get("added") or changes.get("removed"):
            log.info("schema %s: name index rebuilt in %.1f ms: %d entries added, %d removed",
                     schema.name, (time.perf_counter() - started) * 1000, changes["added"],
                     changes["removed"])

    def _call(self, schema: Schema, func: Callable[[], Any]) -> Any:
        """``func()``, from the upkeep thread when the schema's driver blocks the process."""
        if schema.timeseries.blocking:
            if self._thread is None:
                self._thread = ThreadPool(1)
            return self._thread.apply(func)
        return func()
