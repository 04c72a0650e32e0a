"""Readiness: does every configured schema's storage answer a cheap probe, in time?

Each schema's engine is asked for one round trip (``Timeseries.ping``: PING on
Redis, ``SELECT 1`` on SQL...), all schemas at once, each greenlet given
``timeout`` seconds; a probe still waiting then is abandoned (its greenlet killed,
which makes the drivers drop the half-used connection) and reported as a timeout.
So a stopped or frozen server makes /ready answer 503 within the timeout instead
of hanging the caller.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import gevent

#: seconds a readiness probe may take before its schema counts as not ready
PROBE_TIMEOUT = 2.0


@dataclass
class Probe:
    """How one schema's storage answered."""

    schema: str
    backend: str
    error: Optional[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"backend": self.backend, "ok": self.ok,
                               "seconds": round(self.seconds, 4)}
        if self.error is not None:
            out["error"] = self.error
        return out


def _ping(schema: Any) -> Tuple[Optional[str], float]:
    """``(error or None, seconds taken)``."""
    started = time.monotonic()
    try:
        schema.timeseries.ping()
    except Exception as err:  # BackendError, or whatever a driver raises
        return "%s: %s" % (type(err).__name__, err), time.monotonic() - started
    return None, time.monotonic() - started


def probe_all(config: Any, timeout: float = PROBE_TIMEOUT) -> List[Probe]:
    """Probe every schema of ``config`` concurrently; one ``Probe`` per schema, in order."""
    schemas = list(config.schemas.values())
    greenlets = [gevent.spawn(_ping, schema) for schema in schemas]
    gevent.joinall(greenlets, timeout=timeout)
    out = []
    for schema, greenlet in zip(schemas, greenlets):
        if greenlet.successful():
            error, seconds = greenlet.get()
        elif greenlet.ready():  # killed from outside, or a BaseException
            error, seconds = repr(greenlet.exception), 0.0
        else:
            greenlet.kill(block=False)
            error, seconds = "no answer within %g s" % timeout, timeout
        out.append(Probe(schema.name, schema.describe_host(), error, seconds))
    return out


def readiness(config: Any, timeout: float = PROBE_TIMEOUT) -> Dict[str, Any]:
    """``{"ready": bool, "schemas": {name: probe}, "failed": [names]}``."""
    probes = probe_all(config, timeout)
    failed = [probe for probe in probes if not probe.ok]
    return {"ready": not failed, "schemas": {probe.schema: probe.as_dict() for probe in probes},
            "failed": failed}
