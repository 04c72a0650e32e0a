"""Calls run at once as greenlets, where gevent's monkey-patching made socket I/O cooperate.

Under karbon and torus every driver's socket waits through gevent, so the engines send
to several connections at once as greenlets (a Redis Cluster's nodes, the parts of a
SQL batch) and pick drivers that go through gevent (Cassandra). kairos used as a plain
library never imports gevent for this: nothing is patched then.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

#: a call's ``(result, None)``, or ``(None, error)``
Outcome = Tuple[Any, Optional[BaseException]]


def sockets_patched() -> bool:
    """Whether gevent's monkey-patching made sockets cooperative in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def at_once(calls: Sequence[Callable[[], Any]]) -> List[Outcome]:
    """Each call's outcome, all run at once as greenlets (``sockets_patched()`` first).

    An error is returned, not raised: gevent would print the traceback of every failed
    greenlet. A call killed before it returned (GreenletExit) failed too; interrupted
    while it waits, the caller kills its calls with it."""
    from gevent import joinall, killall, spawn

    def outcome(call: Callable[[], Any]) -> Outcome:
        try:
            return call(), None
        except Exception as err:
            return None, err
    greenlets = [spawn(outcome, call) for call in calls]
    try:
        joinall(greenlets)
    except BaseException:
        killall(greenlets)
        raise
    out: List[Outcome] = []
    for greenlet in greenlets:
        value = greenlet.value
        if not greenlet.successful():
            out.append((None, greenlet.exception))
        elif isinstance(value, BaseException):  # killed: gevent counts GreenletExit a success
            out.append((None, value))
        else:
            out.append(cast(Outcome, value))
    return out
