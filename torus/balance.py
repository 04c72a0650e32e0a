"""karbon --workers N: the workers' open TCP connections, shared, so each takes its share.

With one SO_REUSEPORT socket per worker the kernel picks a worker per connection by a
hash of its addresses: 4 long-lived connections (a carbon-relay, collectd, a load test)
land 2-2 on two workers only 3 times in 8, and a worker holding 3 of them does 3/4 of
the work while the other idles. So the parent listens once and every worker accepts
from that one socket, and a worker that holds more connections than the least busy
ready worker leaves a new connection to it: it stops accepting for ``PAUSE`` seconds.
A connection nobody else took within ``PATIENCE`` seconds (the others are busy or
gone) is accepted anyway, so balancing never leaves a sender waiting long.

The counts live in a small shared memory file (``memfd``; elsewhere than Linux an
unlinked temporary file) the parent creates and each worker maps: one slot per worker,
``[ready, open connections]``, each written only by its own worker (and cleared by the
parent when that worker exits), read by all.
"""
from __future__ import annotations

import mmap
import os
import socket
import struct
import tempfile
from typing import Optional, Tuple

#: seconds a worker ahead of the others stops accepting before it looks again
PAUSE = 0.005
#: seconds a connection waits for a less busy worker before one ahead accepts it
PATIENCE = 0.05
#: environment variables a worker finds the listening socket and the counts in
LISTEN_FD = "KARBON_LISTEN_FD"
SHARES_FD = "KARBON_SHARES_FD"
WORKERS = "KARBON_WORKERS"

_SLOT = struct.Struct("=qq")  # ready (0/1), open connections


class Shares:
    """The slots of ``workers`` workers in a shared mapping; ``number``: this worker's
    (None in the parent, which only reads and clears)."""

    def __init__(self, fd: int, workers: int, number: Optional[int] = None):
        self.fd, self.workers, self.number = fd, workers, number
        self.map = mmap.mmap(fd, _SLOT.size * workers)
        self.is_ready = False
        self.open = 0

    @classmethod
    def create(cls, workers: int) -> "Shares":
        """New zeroed slots (the parent's); ``fd`` goes to the workers (``pass_fds``)."""
        try:
            fd = os.memfd_create("karbon-shares")
        except AttributeError:  # not Linux: an unlinked temporary file
            fd, path = tempfile.mkstemp(prefix="karbon-shares-")
            os.unlink(path)
        os.ftruncate(fd, _SLOT.size * workers)
        return cls(fd, workers)

    @classmethod
    def from_environment(cls, number: Optional[int]) -> Optional["Shares"]:
        """Worker ``number``'s slots, when its parent shares them (``SHARES_FD``), else None."""
        fd = os.environ.get(SHARES_FD)
        if not fd or number is None:
            return None
        return cls(int(fd), int(os.environ[WORKERS]), number)

    def _slot(self, number: int) -> Tuple[int, int]:
        return _SLOT.unpack_from(self.map, number * _SLOT.size)

    def _write(self) -> None:
        if self.number is not None:
            _SLOT.pack_into(self.map, self.number * _SLOT.size, int(self.is_ready), self.open)

    def ready(self, ready: bool = True) -> None:
        """Say this worker accepts (or, draining, no longer does)."""
        self.is_ready = ready
        self._write()

    def opened(self) -> None:
        self.open += 1
        self._write()

    def closed(self) -> None:
        self.open -= 1
        self._write()

    def ready_count(self) -> int:
        return sum(1 for n in range(self.workers) if self._slot(n)[0])

    def accepts(self, number: int) -> bool:
        """Whether worker ``number`` accepts connections (and so handles SIGHUP)."""
        return bool(self._slot(number)[0])

    def clear(self, number: int) -> None:
        """Forget worker ``number`` (the parent's, once it exited): not ready, nothing open."""
        _SLOT.pack_into(self.map, number * _SLOT.size, 0, 0)

    def ahead(self) -> bool:
        """Whether another ready worker holds fewer connections than this one."""
        mine = self.open
        for n in range(self.workers):
            if n != self.number:
                ready, others = self._slot(n)
                if ready and others < mine:
                    return True
        return False


def inherited_listener() -> Optional[socket.socket]:
    """The TCP socket the parent listens on (``LISTEN_FD``), for a worker to accept from."""
    fd = os.environ.get(LISTEN_FD)
    if not fd:
        return None
    sock = socket.socket(fileno=int(fd))
    sock.setblocking(False)
    return sock
