"""Turns between the connections of one gevent process: a request waits for the event loop's
next round before it runs.

SQLite's driver never waits through gevent, so a request on it runs from start to end without
letting anyone else in. A plain ``gevent.sleep(0)`` first is not enough: it queues the greenlet
as a callback, and gevent runs queued callbacks until none is left, looking at the clock only
every 50, before it polls the sockets again. Connections whose next request is already in (wrk,
any client that asks again at once) then take turns among themselves, and one whose request
came a moment later waits for 50 answers or more: under wrk, the 1-stat ``/series`` p99 on
SQLite was 42-47 ms for a p50 of 6-8 (issue 15).

An idle wait instead ends only in the loop's next round (libev polls the sockets first): the
request goes behind every connection already waiting for its turn or seen ready by the loop.
At the loop's highest priority the wait ends in that next round even while sockets stay busy;
at the default priority a server kept busy by Redis reads would never be idle, and a SQLite
request would wait as long as they keep coming. karbon's planner takes the same turn once per
millisecond of its work (``ingest.PLANNER_TURN``), so writers whose database answered go on.
"""
from __future__ import annotations

import sys


def wait_for_turn() -> None:
    """Let every connection with a request in run before this one goes on; nothing without
    gevent's monkey-patching (a threaded WSGI server has no loop to share)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("time"):
        return
    import gevent
    gevent.idle(gevent.get_hub().loop.MAXPRI)  # type: ignore[attr-defined]  # libev's and libuv's have it
