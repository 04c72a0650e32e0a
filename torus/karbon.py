"""karbon: the Carbon plaintext ingest daemon (TCP, optionally UDP) storing into kairos schemas.

One process serves one TCP listener (and optionally a UDP one) with gevent:
each connection is a greenlet from a bounded pool that frames its reads into
whole lines (``carbon.LineFramer``) and hands them to ``ingest.Ingest``, whose
bounded queue makes the connection stop reading when storage falls behind.

Signals: SIGHUP reloads the configuration (the old one keeps serving when the new
one fails to load); SIGINT/SIGTERM stop accepting, read what clients already sent,
store everything and exit 0. With ``--reuse-port`` several karbon processes can
listen on the same port (SO_REUSEPORT) and the kernel spreads connections over them.
"""
from __future__ import annotations

import argparse
import logging
import socket
import time
from typing import Dict, List, Optional, Tuple

import gevent
from gevent.pool import Pool
from gevent.server import DatagramServer, StreamServer

from . import __version__
from .carbon import LineFramer
from .cli import (ArgumentParser, add_config_argument, add_tcp_argument, number_type, setup_logging,
                  tcp_type)
from .config import ConfigHolder
from .daemon import Daemon, announce, console_main, format_address
from .dead_letter import DeadLetter
from .errors import TorusError
from .ingest import DEFAULT_QUEUE_BYTES, Ingest, QueueClosed
from .retention import DEFAULT_PERIOD, Retention

log = logging.getLogger(__name__)

DEFAULT_TCP = "localhost:2003"
READ_SIZE = 256 * 1024
MAX_CONNECTIONS = 4096
#: on shutdown, connections still sending are read until they have been quiet this long
SHUTDOWN_IDLE = 1.0
#: ... but no longer than this in total
SHUTDOWN_LIMIT = 30.0

DESCRIPTION = "Karbon, a Carbon-replacement data collection server"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="karbon", description=DESCRIPTION)
    add_tcp_argument(parser, DEFAULT_TCP)
    parser.add_argument("--udp", type=tcp_type(), default=None,
                        help="Also take Carbon lines over UDP, one or more whole lines per "
                             "datagram, at this address (same forms as --tcp). Off by default.")
    add_config_argument(parser)
    parser.add_argument("--reuse-port", action="store_true",
                        help="Set SO_REUSEPORT so that several karbon processes can share the "
                             "same port(s); the kernel spreads connections over them.")
    parser.add_argument("--dead-letter", metavar="DIR", default=None,
                        help="Directory where points that could not be stored after all retries "
                             "are appended as Carbon lines, one file per schema. Defaults to "
                             "logging them.")
    parser.add_argument("--queue-size", metavar="MiB", type=number_type(int, 1, "a whole number of MiB, at least 1"),
                        default=DEFAULT_QUEUE_BYTES // (1024 * 1024),
                        help="Received data held in memory while storage catches up; when it "
                             "is full karbon stops reading its sockets. Defaults to %d."
                             % (DEFAULT_QUEUE_BYTES // (1024 * 1024)))
    parser.add_argument("--expire-every", metavar="SECONDS", type=number_type(float, 0, "0 (off) or a number of seconds"),
                        default=DEFAULT_PERIOD,
                        help="How often to delete buckets past their interval's steps in "
                             "schemas whose storage has no TTLs (SQL); 0 turns it off. "
                             "Defaults to %d." % DEFAULT_PERIOD)
    parser.add_argument("--version", action="version", version="karbon %s" % __version__)
    return parser


def _listener(kind: int, address: Tuple[str, int], reuse_port: bool) -> socket.socket:
    """A bound (and for TCP listening) socket; SO_REUSEPORT on request."""
    host, port = address
    infos = socket.getaddrinfo(host, port, 0, kind, 0, socket.AI_PASSIVE)
    if not infos:
        raise TorusError("cannot resolve %s:%d" % address)
    family, _type, proto, _name, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise TorusError("--reuse-port: this system has no SO_REUSEPORT")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
        if kind == socket.SOCK_STREAM:
            sock.listen(socket.SOMAXCONN)
    except OSError as err:
        sock.close()
        raise TorusError("cannot listen on %s %s:%d: %s" % (
            "TCP" if kind == socket.SOCK_STREAM else "UDP", host, port, err.strerror or err)) from None
    sock.setblocking(False)
    return sock


class CarbonServer(StreamServer):
    """TCP: one greenlet per connection reads, frames and queues whole lines."""

    def __init__(self, listener: socket.socket, ingest: Ingest, pool_size: int = MAX_CONNECTIONS):
        super().__init__(listener, spawn=Pool(pool_size))
        self.ingest = ingest
        self.last_read: Dict[int, float] = {}  # connection id -> monotonic time of its last read

    def handle(self, sock: socket.socket, address) -> None:  # type: ignore[override]
        source = _peer(address)
        key = id(sock)
        framer = LineFramer()
        ingest = self.ingest
        self.last_read[key] = time.monotonic()
        try:
            while True:
                data = sock.recv(READ_SIZE)
                if not data:
                    break
                block = framer.feed(data)
                if block:
                    ingest.submit(block, source)
                # no explicit yield: recv yields when the socket is empty and submit when the
                # queue is full, so reading stays ahead of storing while memory stays bounded
                self.last_read[key] = time.monotonic()
            tail = framer.finish()
            if tail.strip():
                ingest.submit(tail, source)  # the last line needs no line end
        except QueueClosed:
            log.warning("connection %s: karbon is stopping, %d bytes not taken", source,
                        framer.pending)
        except OSError as err:
            log.info("connection %s: %s", source, err)
        finally:
            ingest.add_overlong(framer.overlong, source)
            self.last_read.pop(key, None)
            sock.close()

    def drain(self) -> None:
        """Stop accepting; read open connections until they stay quiet, then close them."""
        self.close()
        deadline = time.monotonic() + SHUTDOWN_LIMIT
        while self.last_read and time.monotonic() < deadline:
            if time.monotonic() - max(self.last_read.values()) > SHUTDOWN_IDLE:
                break
            gevent.sleep(0.1)
        if self.last_read:
            log.info("closing %d idle connection(s)", len(self.last_read))
        self.pool.kill(timeout=5)


class CarbonDatagramServer(DatagramServer):
    """UDP: each datagram holds whole lines (its last line need not end in a line end)."""

    def __init__(self, listener: socket.socket, ingest: Ingest, pool_size: int = MAX_CONNECTIONS):
        super().__init__(listener, spawn=Pool(pool_size))
        self.ingest = ingest

    def handle(self, data: bytes, address) -> None:  # type: ignore[override]
        source = _peer(address)
        try:
            self.ingest.submit(data, source)
        except QueueClosed:
            log.warning("datagram from %s: karbon is stopping, %d bytes not taken", source, len(data))


def _peer(address) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return "%s:%s" % (address[0], address[1])
    return str(address)


class Karbon(Daemon):
    """One karbon process: the ingest pipeline and its TCP (and UDP) listeners."""

    def __init__(self, holder: ConfigHolder, tcp: Tuple[str, int], udp: Optional[Tuple[str, int]] = None,
                 reuse_port: bool = False, dead_letter: Optional[str] = None,
                 queue_bytes: int = DEFAULT_QUEUE_BYTES, expire_every: float = DEFAULT_PERIOD):
        super().__init__(holder)
        self.ingest = Ingest(holder, queue_bytes=queue_bytes, dead_letter=DeadLetter(dead_letter))
        self.retention = Retention(holder, expire_every)
        self.tcp = CarbonServer(_listener(socket.SOCK_STREAM, tcp, reuse_port), self.ingest)
        self.udp = None
        if udp is not None:
            self.udp = CarbonDatagramServer(_listener(socket.SOCK_DGRAM, udp, reuse_port), self.ingest)

    def addresses(self) -> List[str]:
        out = ["tcp %s" % format_address(self.tcp.socket.getsockname())]
        if self.udp is not None:
            out.append("udp %s" % format_address(self.udp.socket.getsockname()))
        return out

    def start_servers(self) -> None:
        self.ingest.start()
        self.retention.start()
        self.tcp.start()
        if self.udp is not None:
            self.udp.start()

    def stop_servers(self) -> None:
        """Stop accepting, read what clients sent, store everything queued."""
        if self.udp is not None:
            self.udp.stop(timeout=1)
        self.retention.stop()
        self.tcp.drain()
        self.ingest.close()
        counters = self.ingest.counters
        level = logging.WARNING if counters.failed or counters.bad or counters.rejected else logging.INFO
        log.log(level, "stopped: %s", " ".join("%s=%d" % kv for kv in counters.as_dict().items()))


def _set_title(text: str) -> None:
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(text)


def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    holder = ConfigHolder(args.config)
    setup_logging(holder.current.debug)
    karbon = Karbon(holder, args.tcp, args.udp, reuse_port=args.reuse_port,
                    dead_letter=args.dead_letter, queue_bytes=args.queue_size * 1024 * 1024,
                    expire_every=args.expire_every)
    where = ", ".join(karbon.addresses())
    _set_title("karbon %s --config %s" % (where, " ".join(args.config)))
    announce("karbon", __version__, where)
    karbon.serve()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``karbon [-h] [--tcp TCP] [--config CONFIG] ...``."""
    return console_main(_main, argv)
