"""karbon's UDP listener: datagrams of whole lines onto the ingest queue, the kernel's drops counted.

One greenlet reads datagrams and queues them. While the queue is full it stops
reading, so datagrams wait in the socket's receive buffer (``buffer_bytes``) and,
beyond it, the kernel drops them. karbon learns the kernel's drop count with every
datagram (SO_RXQ_OVFL) and, on stop, from ``/proc/net/udp``, so ``udp_dropped`` is
exact on Linux.

On stop, the datagrams already in the receive buffer are read and queued until the
drain deadline; those still there then are counted and logged (``udp_unread``):
nothing goes silently.
"""
from __future__ import annotations

import logging
import os
import socket
import struct
import time
from typing import Optional, Tuple

import gevent

from . import metrics
from .allow import SourceFilter
from .byte_queue import QueueClosed
from .carbon_tcp import peer_name
from .ingest import Ingest
from .proc_net import socket_rows

log = logging.getLogger(__name__)

#: the UDP receive buffer asked of the kernel
DEFAULT_UDP_BUFFER = 4 * 1024 * 1024
#: Linux: ask for the count of datagrams dropped on a full receive buffer (not in ``socket``)
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_MAX_DATAGRAM = 65535


def kernel_udp_stats(sock: socket.socket) -> Optional[Tuple[int, int]]:
    """``(bytes waiting in the receive buffer, datagrams dropped)`` of ``sock``, from the
    kernel's table of UDP sockets (Linux), or None."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    for fields in socket_rows("udp"):
        if len(fields) >= 13 and fields[9] == inode:
            try:
                return int(fields[4].split(":")[1], 16), int(fields[12])
            except (ValueError, IndexError):
                return None
    return None


class CarbonUdpServer:
    """UDP: one greenlet reads datagrams and queues them, counting the kernel's drops."""

    def __init__(self, sock: socket.socket, ingest: Ingest, buffer_bytes: int = DEFAULT_UDP_BUFFER,
                 allow: Optional[SourceFilter] = None):
        self.socket = sock
        self.allow = allow  # --allow: the networks datagrams may come from (None: any)
        sock.settimeout(None)  # gevent's blocking mode: a read waits for a datagram, cooperatively
        self.ingest = ingest
        self.buffer_bytes = self._set_buffer(buffer_bytes)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        except OSError:  # not Linux: drops are counted from /proc only, if at all
            pass
        self._drops_seen = 0
        self._greenlet: Optional[gevent.Greenlet] = None
        self._queuing = 0  # size of a datagram read and being queued (never interrupt that)

    def _set_buffer(self, wanted: int) -> int:
        """Ask for ``wanted`` bytes (forcing past net.core.rmem_max when allowed); the size got."""
        if wanted:
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
            except OSError:  # not privileged: the kernel caps it at net.core.rmem_max
                try:
                    self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
                except OSError as err:
                    log.warning("cannot set the UDP receive buffer to %d bytes: %s", wanted, err)
        got = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        # Linux reports twice the size asked (its bookkeeping): compare with half of it
        if wanted and got // 2 < wanted:
            log.warning("UDP receive buffer is %d bytes, not the %d asked (raise "
                        "net.core.rmem_max, or run karbon with CAP_NET_ADMIN)", got // 2, wanted)
        return got // 2

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            try:
                self._receive_one()
            except QueueClosed:
                return
            except OSError as err:
                log.warning("UDP: %s", err)
                gevent.sleep(0.1)

    def _receive_one(self) -> bool:
        """Read and queue one datagram (waiting for one, unless the socket's timeout is 0:
        then False when none is waiting)."""
        try:
            data, ancillary, _flags, address = self.socket.recvmsg(_MAX_DATAGRAM,
                                                                   socket.CMSG_SPACE(4))
        except BlockingIOError:
            return False
        self._queuing = len(data)
        try:
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                    self._note_drops(struct.unpack("=I", payload[:4])[0])
            if self.allow is not None and not self.allow.allows(address[0]):
                self._deny(address)
            elif data:
                self.ingest.submit(data, peer_name(address))
        finally:
            self._queuing = 0
        return True

    def _deny(self, address) -> None:
        """A datagram from outside ``--allow``: dropped, counted, logged at a bounded rate."""
        self.ingest.counters.udp_denied += 1
        metrics.DENIED.labels(transport="udp").inc()
        if self.ingest.throttle.allow("udp-denied"):
            log.warning("UDP: datagram from %s dropped: not in --allow %s (%d dropped so far)",
                        peer_name(address), self.allow, self.ingest.counters.udp_denied)

    def _note_drops(self, total: int) -> None:
        """The kernel reports its drops since the socket opened: count the new ones."""
        new = total - self._drops_seen
        if new > 0:
            self._drops_seen = total
            self.ingest.counters.udp_dropped += new
            metrics.UDP_DROPPED.inc(new)
            if self.ingest.throttle.allow("udp-drop"):
                log.warning("UDP: the kernel dropped %d datagram(s) (%d in all): karbon could not "
                            "read fast enough; a larger --udp-buffer absorbs longer bursts",
                            new, self.ingest.counters.udp_dropped)

    def drain(self, deadline: float) -> None:
        """Stop waiting for datagrams; queue those already in the receive buffer for at most
        ``deadline`` seconds; count and log what is left; close."""
        ends = time.monotonic() + deadline
        while self._queuing and time.monotonic() < ends:  # let the datagram in hand be queued
            gevent.sleep(0.01)
        lost = self._queuing  # still not queued at the deadline: lost, and said so below
        if self._greenlet is not None:
            self._greenlet.kill()  # waiting for the next datagram (or past the deadline)
        self.socket.settimeout(0.0)  # gevent: raise instead of waiting when nothing is there
        queue = self.ingest.queue
        try:
            while time.monotonic() < ends:
                try:  # the next datagram, left in the buffer: read it only if the queue takes it
                    waiting = len(self.socket.recv(_MAX_DATAGRAM, socket.MSG_PEEK))
                except BlockingIOError:
                    break
                if queue.has_room(waiting):
                    self._receive_one()
                else:
                    gevent.sleep(0.02)
        except (QueueClosed, OSError):
            pass
        stats = kernel_udp_stats(self.socket)
        if stats is not None:
            self._note_drops(stats[1])
        unread = self._discard_waiting() + (1 if lost else 0)
        if unread:
            self.ingest.counters.udp_unread += unread
            log.warning("UDP: %d datagram(s) were not stored: the drain deadline passed while "
                        "storage was behind (counted as udp_unread)", unread)
        self.socket.close()

    def _discard_waiting(self, most: int = 1000000) -> int:
        """Count (and drop) the datagrams still in the receive buffer."""
        count = 0
        try:
            while count < most:
                self.socket.recv(_MAX_DATAGRAM)
                count += 1
        except OSError:  # BlockingIOError: the buffer is empty
            pass
        return count

    @property
    def address(self):
        return self.socket.getsockname()
