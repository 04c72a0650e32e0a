"""A FIFO bounded in bytes, whose budget also covers what producers hold before they put.

karbon's connections do not read their sockets until the queue grants them room
(``charge``): a connection blocked by back-pressure then holds nothing but its
partial last line, which is charged too. So the queue's bound covers the lines
queued, the reads in progress and every partial line held, however many
connections wait (4,000 stalled connections cost their greenlets, not their data).
"""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, List, Optional, Tuple

import gevent
from gevent.event import Event


class QueueClosed(Exception):
    """``put`` or ``charge`` on a ByteQueue that was closed."""


class ByteQueue:
    """A FIFO of items with sizes, for cooperative greenlets; bounded by ``max_bytes``.

    ``size`` counts the items queued plus what producers were granted with ``charge``
    and not yet released or put. ``put`` and ``charge`` wait while the budget is
    spent and items are queued (the consumer will free room); with nothing queued
    they always go through, so producers that hold the whole budget in partial
    lines cannot deadlock. ``get_batch`` takes items up to a size. After ``close``
    the items left can still be taken; ``get_batch`` returns None once it is empty.
    """

    def __init__(self, max_bytes: int):
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._items: Deque[Tuple[Any, int]] = deque()
        self._queued = 0
        self._charged = 0
        #: bytes ever put (tells whether producers are still active)
        self.received = 0
        #: producers waiting for room right now
        self.waiting = 0
        self._closed = False
        self._space = Event()
        self._data = Event()

    @property
    def size(self) -> int:
        """Bytes the budget covers now: queued items and producers' charges."""
        return self._queued + self._charged

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return self.size >= self.max_bytes and bool(self._items)

    def has_room(self, size: int) -> bool:
        """Whether ``put`` of ``size`` bytes would go through without waiting."""
        return not (self._items and self.size + size > self.max_bytes)

    def _wait_for_room(self, size: int) -> None:
        self.waiting += 1
        try:
            while self._items and self.size + size > self.max_bytes and not self._closed:
                self._space.clear()
                self._space.wait()
        finally:
            self.waiting -= 1
        if self._closed:
            raise QueueClosed("the queue is closed")

    def charge(self, size: int) -> None:
        """Take ``size`` bytes of the budget before reading them; waits for room."""
        self._wait_for_room(size)
        self._charged += size

    def release(self, size: int) -> None:
        """Give back ``size`` bytes of a charge (read less than charged, a line dropped)."""
        self._charged -= size
        self._space.set()

    def put(self, item: Any, size: int, charged: bool = False) -> None:
        """Queue an item; with ``charged`` its bytes come out of the caller's charge (no wait)."""
        if self._closed:
            raise QueueClosed("the queue is closed")
        if charged:
            self._charged -= size
        else:
            self._wait_for_room(size)
        self._items.append((item, size))
        self._queued += size
        self.received += size
        self._data.set()

    def get_batch(self, max_bytes: int, timeout: Optional[float] = None) -> Optional[List[Any]]:
        """At least one item (more while under ``max_bytes``); [] on timeout, None when closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._data.clear()
            if not self._data.wait(timeout):
                return []
        out: List[Any] = []
        taken = 0
        while self._items and (not out or taken + self._items[0][1] <= max_bytes):
            item, size = self._items.popleft()
            out.append(item)
            taken += size
        self._queued -= taken
        self._space.set()
        return out

    def yield_to_producers(self) -> None:
        """Let producers that are ready run, until none has more to put or the queue is full.

        Called by the consumer between blocks and before it stores a batch. ``sleep(0)``
        runs the greenlets gevent has already woken (a connection whose read completed),
        not the sockets its loop has not polled again yet. Waiting for the loop's next
        round instead (``turns.wait_for_turn``) read every socket first, 10 times faster,
        but karbon on Redis then stored 10 % less (247k and 249k points/s against 273k
        and 277k, ``ingest_bench --regime steady``, 2026-12-01): storage keeps its turn.
        The planner lets the loop poll once per millisecond of its work instead
        (``ingest.PLANNER_TURN``).
        """
        while not self._closed:
            before = self.received
            gevent.sleep(0)
            if self.received == before or self.full:
                return

    def close(self) -> None:
        """Refuse new items and charges; wake every waiter."""
        self._closed = True
        self._data.set()
        self._space.set()
