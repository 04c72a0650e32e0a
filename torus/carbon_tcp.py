"""karbon's TCP listener: connections in, whole lines onto the ingest queue.

Each connection is a greenlet that asks the queue for room (``ByteQueue.charge``)
before every read, reads what is there and waits for more only when nothing is;
so when storage falls behind, connections stop reading (TCP back-pressure) holding
at most a partial line each, and the queue's bound covers everything read. Connections quiet
for ``idle_timeout`` are closed. At ``max_connections`` a new client is still
served: the connection idle the longest is closed to make room (one blocked by
back-pressure is never chosen; if every connection is busy, the new one is refused).
On shutdown (``drain``) no new connection is accepted, connections that still send
are read until they pause for a second (with nothing left to read) or the drain
deadline passes.

UDP lives in ``carbon_udp``.
"""
from __future__ import annotations

import logging
import select
import socket
import time
from typing import Any, Dict, Optional

import gevent
from gevent import GreenletExit
from gevent.server import StreamServer
from gevent.socket import wait_read

from . import balance, metrics
from .allow import SourceFilter
from .balance import Shares
from .byte_queue import QueueClosed
from .carbon import LineFramer
from .ingest import Ingest

log = logging.getLogger(__name__)

#: bytes asked of the queue, and read, at a time
READ_SIZE = 256 * 1024
DEFAULT_MAX_CONNECTIONS = 4096
#: seconds without data after which a connection is closed (collectd sends every 10 s)
DEFAULT_IDLE_TIMEOUT = 600.0
#: seconds a shutdown keeps reading connections that still send
DEFAULT_DRAIN_TIMEOUT = 30.0
#: on shutdown, a connection quiet this long has sent everything
SHUTDOWN_IDLE = 1.0


def peer_name(address) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return "%s:%s" % (address[0], address[1])
    return str(address)


def readable(sock: socket.socket) -> bool:
    """Whether data, or the end of the stream, waits to be read (without waiting)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile
        return False


class Connection:
    """One TCP client: its greenlet, when it last sent data, whether it waits for data.

    A connection reads while data is there (no switch to the hub between reads) and only
    then waits for more: reading stays ahead of storing.
    """

    __slots__ = ("sock", "source", "greenlet", "last_data", "idle")

    def __init__(self, sock: socket.socket, source: str):
        self.sock = sock
        self.source = source
        self.greenlet = gevent.getcurrent()
        self.last_data = time.monotonic()
        self.idle = True  # waiting for data (not reading, not blocked by back-pressure)


class CarbonServer(StreamServer):
    """TCP: one greenlet per connection reads, frames and queues whole lines."""

    def __init__(self, listener: socket.socket, ingest: Ingest,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, allow: Optional[SourceFilter] = None,
                 shares: Optional[Shares] = None):
        super().__init__(listener, spawn="default")  # the cap is ours: see handle()
        self.ingest = ingest
        #: karbon --workers: the workers' open connections, to take only a share (``balance``)
        self.shares = shares
        self._declined_since: Optional[float] = None
        self.allow = allow  # --allow: the networks senders may connect from (None: any)
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connections: Dict[int, Connection] = {}
        self.draining = False

    def start_accepting(self) -> None:
        super().start_accepting()
        if self.shares is not None and not self.draining:
            self.shares.ready()

    def do_read(self) -> Any:
        """Accept a connection, unless another worker holds fewer (``torus.balance``): then
        stop accepting for a moment, so that it takes it; after ``PATIENCE``, take it."""
        shares = self.shares
        if shares is not None and shares.ahead():
            now = time.monotonic()
            # a decline older than a few PATIENCEs belongs to a connection another worker took
            if self._declined_since is None or now - self._declined_since > 4 * balance.PATIENCE:
                self._declined_since = now
            if now - self._declined_since < balance.PATIENCE:
                self.stop_accepting()
                gevent.spawn_later(balance.PAUSE, self._look_again)
                return None
        # whatever the accept gives (another worker may have taken the connection), the
        # next one that comes is given its own PATIENCE
        self._declined_since = None
        accepted = super().do_read()
        if accepted is not None and shares is not None:
            shares.opened()
        return accepted

    def do_handle(self, *args: Any) -> None:
        try:
            super().do_handle(*args)
        except BaseException:  # not spawned: handle() will not count it closed
            if self.shares is not None:
                self.shares.closed()
            raise

    def _look_again(self) -> None:
        if self.closed or not self.started:  # stopped meanwhile (a drain)
            return
        if not readable(self.socket):  # another worker took it
            self._declined_since = None
        self._start_accepting_if_started()  # type: ignore[attr-defined]

    def handle(self, sock: socket.socket, address: Any) -> None:
        try:
            self._serve_connection(sock, address)
        finally:
            if self.shares is not None:
                self.shares.closed()

    def _serve_connection(self, sock: socket.socket, address: Any) -> None:
        if self.allow is not None and not self.allow.allows(address[0]):
            self.ingest.counters.denied += 1
            metrics.DENIED.labels(transport="tcp").inc()
            if self.ingest.throttle.allow("denied"):
                log.warning("connection from %s refused: not in --allow %s (%d refused so far)",
                            peer_name(address), self.allow, self.ingest.counters.denied)
            sock.close()
            return
        conn = Connection(sock, peer_name(address))
        if len(self.connections) >= self.max_connections and not self._make_room():
            if self.ingest.throttle.allow("connection-cap"):
                log.warning("connection cap (%d) reached and every connection is busy: refused %s",
                            self.max_connections, conn.source)
            sock.close()
            return
        key = id(conn)
        self.connections[key] = conn
        framer = LineFramer()
        try:
            self._serve(sock, conn, framer)
        finally:
            self.ingest.add_overlong(framer.overlong, conn.source)
            del self.connections[key]
            sock.close()

    def _serve(self, sock: socket.socket, conn: Connection, framer: LineFramer) -> None:
        ingest = self.ingest
        queue = ingest.queue
        source = conn.source
        charged = 0  # bytes of the queue's budget this connection holds (its partial line)
        sock.settimeout(0.0)  # a read never waits: waiting for data happens in wait_read
        try:
            while True:
                conn.idle = False
                queue.charge(READ_SIZE)  # waits while the queue is full: back-pressure
                charged += READ_SIZE
                try:
                    data = sock.recv(READ_SIZE)
                except BlockingIOError:  # nothing to read: give the room back and wait for data
                    queue.release(READ_SIZE)
                    charged -= READ_SIZE
                    conn.idle = True
                    wait_read(sock.fileno(),
                              timeout=SHUTDOWN_IDLE if self.draining else self.idle_timeout)
                    continue
                if not data:
                    break
                conn.last_data = time.monotonic()
                block = framer.feed(data)
                if block:
                    ingest.submit(block, source, charged=True)
                    charged -= len(block)
                keep = framer.pending
                queue.release(charged - keep)
                charged = keep
            tail = framer.finish()
            if tail.strip():
                ingest.submit(tail, source, charged=True)  # the last line needs no line end
                charged -= len(tail)
        except socket.timeout:
            if not self.draining:
                ingest.counters.idle_closed += 1
                metrics.CLOSED.labels(reason="idle").inc()
                log.info("connection %s: nothing received for %.0f s, closed", source,
                         self.idle_timeout)
            self._drop_partial(framer, source)
        except QueueClosed:
            log.warning("connection %s: karbon is stopping, %d bytes not taken", source,
                        framer.pending)
        except GreenletExit:  # evicted, or the drain deadline passed
            self._drop_partial(framer, source)
        except OSError as err:
            log.info("connection %s: %s", source, err)
        finally:
            if charged:
                queue.release(charged)

    def _drop_partial(self, framer: LineFramer, source: str) -> None:
        if framer.pending and self.ingest.throttle.allow("partial"):
            log.warning("connection %s closed with %d bytes of an unfinished line, dropped",
                        source, framer.pending)
        framer.finish()

    def _make_room(self) -> bool:
        """Close the connection idle the longest; False when none is idle."""
        idle = [conn for conn in self.connections.values() if conn.idle and not readable(conn.sock)]
        if not idle:
            return False
        oldest = min(idle, key=lambda conn: conn.last_data)
        self.ingest.counters.evicted += 1
        metrics.CLOSED.labels(reason="evicted").inc()
        if self.ingest.throttle.allow("evicted"):
            log.warning("connection cap (%d) reached: closed %s, idle for %.0f s, to make room",
                        self.max_connections, oldest.source, time.monotonic() - oldest.last_data)
        self._close(oldest)
        return True

    @staticmethod
    def _close(conn: Connection) -> None:
        conn.idle = False  # not chosen twice
        gevent.kill(conn.greenlet)  # Greenlet.kill(block=False), for any greenlet

    def drain(self, deadline: float = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Stop accepting; read open connections until they pause or ``deadline`` seconds pass."""
        self.draining = True
        if self.shares is not None:
            self.shares.ready(False)  # the other workers take the new connections
        self.close()
        started = time.monotonic()
        ends = started + deadline
        while self.connections and time.monotonic() < ends:
            now = time.monotonic()
            for conn in list(self.connections.values()):
                # quiet for a second since the stop began (what a client sent just before it
                # may not have been seen yet), and nothing (not even its end) left to read
                quiet = now - max(conn.last_data, started)
                if conn.idle and quiet > SHUTDOWN_IDLE and not readable(conn.sock):
                    self._close(conn)
            gevent.sleep(0.05)
        if self.connections:
            log.warning("drain deadline (%.0f s): closing %d connection(s) still sending or blocked",
                        deadline, len(self.connections))
            for conn in list(self.connections.values()):
                self._close(conn)
            while self.connections:
                gevent.sleep(0.01)
