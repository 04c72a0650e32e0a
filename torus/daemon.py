"""What the karbon and torus daemons share: signals, reload, an orderly stop, start-up.

``Daemon`` owns the ``ConfigHolder`` and the signal handling of one process:
SIGHUP reloads every configuration file (a file that fails to load leaves the
previous configuration serving; logging follows the new DEBUG); SIGINT/SIGTERM
call ``stop_servers`` once, in its own greenlet, then close the configuration's
storage engines, and ``serve`` returns when it is done. Subclasses only start and
stop their servers.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from typing import Callable, List, Optional, Sequence

import gevent
from gevent.event import Event

from .cli import run, setup_logging
from .config import ConfigHolder

log = logging.getLogger(__name__)


class Daemon:
    """One daemon process: configuration holder, signal handling, start and orderly stop."""

    def __init__(self, holder: ConfigHolder):
        self.holder = holder
        self.stopped = Event()
        self._stopping = False

    def start_servers(self) -> None:
        """Start listening (and whatever work goes with it)."""
        raise NotImplementedError

    def stop_servers(self) -> None:
        """Stop listening and finish the work in flight."""
        raise NotImplementedError

    def start(self) -> None:
        # gevent runs each handler in a new greenlet, so a handler may block; SIGHUP's
        # before the servers start: a karbon worker's parent sends it once it accepts
        gevent.signal_handler(signal.SIGHUP, self.reload)
        self.start_servers()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self.request_stop, signum)

    def reload(self) -> bool:
        """Reload every configuration file (SIGHUP); True when the new configuration serves."""
        log.info("SIGHUP: reloading %s", ", ".join(self.holder.paths))
        if not self.holder.reload():
            return False
        setup_logging(self.holder.current.debug)
        log.info("configuration reloaded (generation %d, DEBUG %d)", self.holder.generation,
                 self.holder.current.debug)
        return True

    def request_stop(self, signum: int = signal.SIGTERM, why: Optional[str] = None) -> None:
        """Begin an orderly stop (once, however many signals come); ``why``: what the log
        says, when not a signal."""
        if self._stopping:
            return
        self._stopping = True
        log.log(logging.INFO if why is None else logging.ERROR, "%s: stopping",
                why or signal.Signals(signum).name)
        gevent.spawn(self.stop)

    def stop(self) -> None:
        try:
            self.stop_servers()
        finally:
            # after the drain: the engines close once the work still in flight is done
            self.holder.close()
            self.stopped.set()

    def serve(self) -> None:
        """Start, then wait until a stop has finished."""
        self.start()
        self.stopped.wait()


#: allocations between two young-generation collections (Python's default is 700). A karbon
#: batch (2 MB of lines) makes a few hundred thousand objects (points, buckets, writes) that
#: live until it is stored: at 50,000 each batch paid several collections walking its own
#: live objects (~0.5 us of CPU per point, measured); at this size few collections see one
GC_YOUNG_THRESHOLD = 300_000


def tune_gc() -> None:
    """Collect less often: the daemons allocate millions of short-lived, acyclic objects
    (lines, points, rows, answers) that reference counting frees; the cyclic collector
    would walk every live object each 700 allocations. What start-up loaded (modules,
    the configuration) is moved out of its sight for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


#: seconds a running thread keeps the GIL once another asked for it (CPython's default
#: is 5 ms): karbon's SQLite writer thread asks for it back after every statement, and
#: waited that long behind the planner each time. ``ingest_bench --cases karbon-sqlite
#: --regime steady``, 2 rounds alternating on a prototype of the same write path:
#: 265k, 270k points/s at 5 ms, 308k, 336k at 0.5 ms (2026-12-01)
SWITCH_INTERVAL = 0.0005


def tune_threads() -> None:
    """Hand the GIL over sooner to a thread that asks for it (``SWITCH_INTERVAL``)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def format_address(sockname: Sequence) -> str:
    """``host:port`` of a socket address, IPv6 hosts in brackets."""
    host, port = sockname[0], sockname[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def announce(name: str, version: str, where: str) -> None:
    """One line on stderr whatever the log level: where the daemon listens (port 0 picks one)."""
    print("%s %s listening on %s (pid %d)" % (name, version, where, os.getpid()), file=sys.stderr,
          flush=True)


def console_main(body: Callable[[Optional[List[str]]], int], argv: Optional[List[str]]) -> int:
    """Run a daemon's ``body`` under gevent: sockets are monkey-patched before any driver loads."""
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()
    return run(body, argv)
