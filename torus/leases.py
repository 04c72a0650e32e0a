"""Closing what is still in use only once its last user is done: ``Leases``.

A reload replaces the configuration while requests and batches still use the old one's
storage engines. Each such user holds a lease (``acquire`` ... ``release``); the daemon
``retire``s the old configuration at the swap, and its engines are closed when the last
lease is released (at once when there is none), so no request or batch fails because its
engines were closed under it, and no reload leaves connections open behind it.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Leases:
    """Counts the users of a resource; calls ``close`` once it is retired and unused."""

    def __init__(self, close: Callable[[], None]):
        self._close = close
        self._lock = threading.Lock()
        self.users = 0
        self.retired = False
        self.closed = False

    def acquire(self) -> bool:
        """Count one more user; False when the resource is closed already (the caller must
        then ``release`` it and use another, see ``ConfigHolder.acquire``)."""
        with self._lock:
            self.users += 1
            return not self.closed

    def release(self) -> None:
        """One user is done; the last one closes a retired resource."""
        with self._lock:
            self.users -= 1
            close = self.retired and self.users == 0 and not self.closed
            if close:
                self.closed = True
        if close:
            self._run_close()

    def retire(self) -> None:
        """No new user is expected: close now when nobody uses it, else after the last one."""
        with self._lock:
            self.retired = True
            close = self.users == 0 and not self.closed
            if close:
                self.closed = True
        if close:
            self._run_close()

    def _run_close(self) -> None:
        try:
            self._close()
        except Exception:  # a failing close must not fail the request or batch that ran it
            log.exception("closing failed")
