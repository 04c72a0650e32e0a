"""The operational endpoints of both daemons: /metrics, /health and /ready.

* ``/metrics``: every metric of ``torus.metrics`` in Prometheus' text format;
* ``/health``: 200 and a small JSON document as long as the process answers at all;
* ``/ready``: 200 when the storage of every configured schema answers a cheap probe
  within ``timeout`` seconds (``torus.health``), else 503 naming each schema that
  did not, its backend (credentials removed) and why.

torus routes these paths in its own application (``torus.web``), where the access
control of the other endpoints applies to them too; karbon serves them on its
``--metrics`` address with ``ops_app`` under the same hardened WSGI server.
"""
from __future__ import annotations

import logging
import os
import time
from http import HTTPStatus
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from . import __version__, metrics
from .config import ConfigHolder
from .encoding import RawAnswer, dumps
from .health import PROBE_TIMEOUT, readiness

log = logging.getLogger(__name__)

PATHS = ("metrics", "health", "ready")


class Ops:
    """Answers the operational paths for one daemon (``service``: "torus" or "karbon")."""

    def __init__(self, holder: ConfigHolder, service: str, timeout: float = PROBE_TIMEOUT,
                 clock: Callable[[], float] = time.time):
        self.holder = holder
        self.service = service
        self.timeout = timeout
        self.clock = clock
        self.started = clock()
        self._was_ready: Optional[bool] = None

    def answer(self, path: str) -> Tuple[int, Any]:
        """``(status, answer)`` for one of ``PATHS``; the answer is JSON-able or a RawAnswer."""
        if path == "metrics":
            body, content_type = metrics.exposition()
            return 200, RawAnswer(body, content_type)
        if path == "health":
            return 200, {"status": "alive", "service": self.service, "version": __version__,
                         "pid": os.getpid(), "uptime": round(self.clock() - self.started, 3)}
        if path == "ready":
            return self.ready()
        raise KeyError(path)

    def ready(self) -> Tuple[int, Dict[str, Any]]:
        with self.holder.lease() as config:  # its engines stay open while they are probed
            result = readiness(config, self.timeout)
        failed = result["failed"]
        self._log_change(failed)
        if not failed:
            return 200, {"status": "ready", "schemas": result["schemas"]}
        why = "; ".join("schema %s (%s): %s" % (p.schema, p.backend, p.error) for p in failed)
        return 503, {"error": "not ready: %s" % why, "status": 503, "schemas": result["schemas"]}

    def _log_change(self, failed: list) -> None:
        """Log when readiness changes, not on every probe (a prober asks every few seconds)."""
        ready = not failed
        if ready == self._was_ready:
            return
        if ready:
            if self._was_ready is not None:
                log.warning("ready again: every schema's storage answers")
        else:
            log.warning("not ready: %s", "; ".join("schema %s (%s): %s" % (
                p.schema, p.backend, p.error) for p in failed))
        self._was_ready = ready


def ops_app(ops: Ops) -> Callable[[Dict[str, Any], Callable], Iterable[bytes]]:
    """A WSGI application answering only ``PATHS`` (GET or HEAD), for karbon's --metrics."""
    def application(environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").strip("/")
        headers = []
        if method not in ("GET", "HEAD"):
            status, answer = 405, {"error": "method %s is not allowed: use GET" % method,
                                   "status": 405}
            headers.append(("Allow", "GET, HEAD"))
        elif path not in PATHS:
            status, answer = 404, {"error": "unknown path %r: karbon answers /metrics, /health "
                                            "and /ready here" % ("/" + path), "status": 404}
        else:
            try:
                status, answer = ops.answer(path)
            except Exception as err:
                log.exception("unexpected error answering /%s", path)
                status, answer = 500, {"error": "internal error: %s: %s" % (
                    type(err).__name__, err), "status": 500}
        if isinstance(answer, RawAnswer):
            body, content_type = answer.body, answer.content_type
        else:
            body, content_type = dumps(answer), "application/json"
        start_response("%d %s" % (status, _reason(status)),
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))]
                       + headers)
        return [b"" if method == "HEAD" else body]
    return application


def _reason(status: int) -> str:
    return HTTPStatus(status).phrase
