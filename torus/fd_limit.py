"""Fit a daemon's connection cap to the open-file limit, so accept() never fails with EMFILE.

Each connection is a file descriptor. A cap above the process' limit would make
accepting fail under load instead of the cap's own, documented answer (karbon
evicting the longest-idle connection, torus answering 503). The soft limit is raised
as far as the hard one allows; when even that is too small, the cap is lowered and
the operator is told how to keep it.
"""
from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

#: descriptors kept for everything else (database connections, files, the listeners)
FD_RESERVE = 256


def fit_connection_cap(max_connections: int, flag: str = "--max-connections") -> int:
    """The connection cap the open-file limit allows (raising the soft limit first)."""
    needed = max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return max_connections
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    except (ValueError, OSError):
        pass
    if soft >= needed:
        return max_connections
    allowed = max(soft - FD_RESERVE, soft // 2)
    log.warning("the limit of %d open files allows %d connections: %s lowered from %d (raise "
                "ulimit -n to keep it)", soft, allowed, flag, max_connections)
    return allowed
