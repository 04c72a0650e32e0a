"""karbon: the Carbon plaintext ingest daemon (TCP, optionally UDP) storing into kairos schemas.

One process serves one TCP listener (and optionally a UDP one) with gevent
(``carbon_tcp``, ``carbon_udp``): each connection is a greenlet that frames its reads into
whole lines and hands them to ``ingest.Ingest``, whose bounded queue makes
connections stop reading when storage falls behind.

Signals: SIGHUP reloads the configuration (the old one keeps serving when the new
one fails to load); SIGINT/SIGTERM stop accepting, keep reading connections that
still send (up to ``--drain-timeout`` seconds), store or dead-letter everything
read and exit 0. With ``--reuse-port`` several karbon processes can listen on the
same port (SO_REUSEPORT) and the kernel spreads connections over them.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import List, Optional, Tuple

import gevent

from . import __version__, balance, metrics
from .allow import SourceFilter, parse_networks
from .carbon_tcp import (DEFAULT_DRAIN_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
                         CarbonServer)
from .carbon_udp import DEFAULT_UDP_BUFFER, CarbonUdpServer
from .cli import (ArgumentParser, add_config_argument, add_tcp_argument, number_type, setup_logging,
                  tcp_type)
from .config import ConfigHolder
from .daemon import Daemon, announce, console_main, format_address, tune_gc, tune_threads
from .dead_letter import DeadLetter
from .errors import TorusError
from .fd_limit import fit_connection_cap
from .ingest import DEFAULT_QUEUE_BYTES, DEFAULT_RETRY_DELAYS, Ingest, RetryPolicy
from .retention import DEFAULT_PERIOD, Retention
from .self_metrics import SelfMetrics
from .unmatched import DEFAULT_FILE_BYTES, Unmatched
from .workers import watch_parent

#: set by ``karbon --workers N`` in each worker's environment: its number (self-metrics names)
WORKER_ENV = "KARBON_WORKER"

log = logging.getLogger(__name__)

DEFAULT_TCP = "localhost:2003"

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
                             "are appended as Carbon lines under a header naming their batch, "
                             "one file per schema (store them later with karbon_replay). "
                             "Defaults to logging them.")
    parser.add_argument("--unmatched-file", metavar="PATH", default=None,
                        help="Append the points that match no schema to this file as Carbon "
                             "lines (send them again once the schema exists). They are always "
                             "counted per top-level prefix and logged (rate-limited) as NOMATCH.")
    parser.add_argument("--unmatched-max-size", metavar="MiB",
                        type=number_type(int, 1, "a whole number of MiB, at least 1"),
                        default=DEFAULT_FILE_BYTES // (1024 * 1024),
                        help="Stop appending to --unmatched-file while it is this large (move "
                             "it away to record again). Defaults to %d."
                             % (DEFAULT_FILE_BYTES // (1024 * 1024)))
    parser.add_argument("--queue-size", metavar="MiB", type=number_type(int, 1, "a whole number of MiB, at least 1"),
                        default=DEFAULT_QUEUE_BYTES // (1024 * 1024),
                        help="Received data held in memory while storage catches up; when it "
                             "is full karbon stops reading its sockets. Defaults to %d."
                             % (DEFAULT_QUEUE_BYTES // (1024 * 1024)))
    parser.add_argument("--expire-every", metavar="SECONDS", type=number_type(float, 0, "0 (off) or a number of seconds"),
                        default=DEFAULT_PERIOD,
                        help="How often to delete buckets past their interval's steps in "
                             "schemas whose storage has no TTLs (SQL) and to bring every "
                             "schema's name index (Graphite's /metrics/find) in line with the "
                             "names stored; 0 turns it off. Defaults to %d." % DEFAULT_PERIOD)
    parser.add_argument("--retry-delays", metavar="SECONDS,...", type=delays_type,
                        default=DEFAULT_RETRY_DELAYS,
                        help="Seconds to wait before each retry of a batch storage failed, "
                             "comma-separated (\"\" for no retry); then the batch goes to the "
                             "dead letters. Defaults to %s."
                             % ",".join("%g" % d for d in DEFAULT_RETRY_DELAYS))
    parser.add_argument("--workers", metavar="N", type=number_type(int, 1, "a whole number, at least 1"),
                        default=1,
                        help="Processes that share the port(s), to use N cores: they accept "
                             "from the parent's TCP socket, each taking an equal share of the "
                             "open connections, and share the UDP port (SO_REUSEPORT); the "
                             "parent supervises them, passes SIGHUP/SIGTERM on and starts a "
                             "worker that died again. Defaults to 1 (no parent).")
    parser.add_argument("--max-connections", metavar="N", type=number_type(int, 1, "a whole number, at least 1"),
                        default=DEFAULT_MAX_CONNECTIONS,
                        help="TCP connections served at once; at the cap a new client is still "
                             "served by closing the connection idle the longest. Defaults to %d."
                             % DEFAULT_MAX_CONNECTIONS)
    parser.add_argument("--idle-timeout", metavar="SECONDS", type=number_type(float, 1, "a number of seconds, at least 1"),
                        default=DEFAULT_IDLE_TIMEOUT,
                        help="Close a TCP connection that sent nothing for this long. "
                             "Defaults to %d." % DEFAULT_IDLE_TIMEOUT)
    parser.add_argument("--drain-timeout", metavar="SECONDS", type=number_type(float, 0, "a number of seconds"),
                        default=DEFAULT_DRAIN_TIMEOUT,
                        help="On SIGTERM/SIGINT, keep reading connections that still send for "
                             "at most this long, then store or dead-letter everything read. "
                             "Defaults to %d." % DEFAULT_DRAIN_TIMEOUT)
    parser.add_argument("--udp-buffer", metavar="KiB", type=number_type(int, 0, "a whole number of KiB"),
                        default=DEFAULT_UDP_BUFFER // 1024,
                        help="UDP receive buffer asked of the kernel: datagrams wait there "
                             "while karbon is busy, the kernel drops (and karbon counts) the "
                             "rest; 0 keeps the system default. Defaults to %d."
                             % (DEFAULT_UDP_BUFFER // 1024))
    parser.add_argument("--metrics", metavar="HOST:PORT", type=tcp_type(), default=None,
                        help="Serve /metrics (Prometheus), /health and /ready over HTTP at this "
                             "address (same forms as --tcp). With --workers N, worker n listens "
                             "on PORT+n. Off by default.")
    parser.add_argument("--allow", metavar="NETWORK,...", type=parse_networks, action="append",
                        help="Take Carbon lines only from senders in these networks "
                             "(10.0.0.0/8, 192.0.2.7, 2001:db8::/32), comma-separated or "
                             "repeated: a TCP connection from elsewhere is closed at once, a "
                             "datagram from elsewhere dropped; both are counted and logged. "
                             "Defaults to every sender.")
    parser.add_argument("--version", action="version", version="karbon %s" % __version__)
    return parser


def delays_type(text: str) -> Tuple[float, ...]:
    """``--retry-delays``: comma-separated non-negative seconds ("" for none)."""
    parse = number_type(float, 0, "a number of seconds")
    return tuple(parse(part.strip()) for part in text.split(",") if part.strip())


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


class Karbon(Daemon):
    """One karbon process: the ingest pipeline and its TCP (and UDP) listeners."""

    def __init__(self, holder: ConfigHolder, tcp: Tuple[str, int], udp: Optional[Tuple[str, int]] = None,
                 reuse_port: bool = False, dead_letter: Optional[str] = None,
                 queue_bytes: int = DEFAULT_QUEUE_BYTES, expire_every: float = DEFAULT_PERIOD,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
                 udp_buffer: int = DEFAULT_UDP_BUFFER,
                 retry_delays: Tuple[float, ...] = DEFAULT_RETRY_DELAYS,
                 metrics_address: Optional[Tuple[str, int]] = None, worker: Optional[int] = None,
                 unmatched_file: Optional[str] = None,
                 unmatched_max_bytes: int = DEFAULT_FILE_BYTES,
                 allow: Optional[SourceFilter] = None):
        super().__init__(holder)
        self.ingest = Ingest(holder, queue_bytes=queue_bytes, dead_letter=DeadLetter(dead_letter),
                             retry=RetryPolicy(retry_delays),
                             unmatched=Unmatched(unmatched_file, unmatched_max_bytes))
        self.retention = Retention(holder, expire_every)
        self.drain_timeout = drain_timeout
        # a worker of karbon --workers accepts from its parent's socket, taking its share
        inherited = balance.inherited_listener()
        self.tcp = CarbonServer(inherited or _listener(socket.SOCK_STREAM, tcp, reuse_port),
                                self.ingest, max_connections=max_connections,
                                idle_timeout=idle_timeout, allow=allow,
                                shares=balance.Shares.from_environment(worker))
        self.udp = None
        if udp is not None:
            self.udp = CarbonUdpServer(_listener(socket.SOCK_DGRAM, udp, reuse_port), self.ingest,
                                       udp_buffer, allow=allow)
        metrics.bind_gauges(queue_bytes=lambda: self.ingest.queue.size,
                            queue_limit=lambda: self.ingest.queue.max_bytes,
                            blocked=lambda: self.ingest.queue.waiting,
                            connections=lambda: len(self.tcp.connections))
        self.self_metrics = SelfMetrics(holder, self.ingest.submit, worker=worker)
        self.metrics_server = None
        self.parent_watch: Optional[gevent.Greenlet] = None  # a worker's (torus.workers)
        if metrics_address is not None:
            from .http_server import TorusHTTPServer  # loads gevent.pywsgi: only when asked
            from .ops import Ops, ops_app
            self.metrics_server = TorusHTTPServer(
                _listener(socket.SOCK_STREAM, metrics_address, False),
                ops_app(Ops(holder, "karbon")))

    def addresses(self) -> List[str]:
        out = ["tcp %s" % format_address(self.tcp.socket.getsockname())]
        if self.udp is not None:
            out.append("udp %s" % format_address(self.udp.address))
        if self.metrics_server is not None:
            out.append("metrics http://%s" % format_address(self.metrics_server.socket.getsockname()))
        return out

    def reload(self) -> bool:
        reloaded = super().reload()
        if reloaded:
            self.self_metrics.check_routing()
        return reloaded

    def start_servers(self) -> None:
        self.ingest.start()
        self.retention.start()
        self.tcp.start()
        if self.udp is not None:
            self.udp.start()
        self.self_metrics.start()
        if self.metrics_server is not None:
            self.metrics_server.start()
        self.parent_watch = watch_parent(lambda why: self.request_stop(why=why))

    def stop_servers(self) -> None:
        """Stop accepting, read what clients still send (up to the drain deadline), then store
        or dead-letter everything read."""
        if self.parent_watch is not None:
            self.parent_watch.kill()
        self.retention.stop()
        self.self_metrics.stop()
        udp = gevent.spawn(self.udp.drain, self.drain_timeout) if self.udp is not None else None
        self.tcp.drain(self.drain_timeout)
        if udp is not None:
            udp.join()
        self.ingest.hurry = True  # past the deadline: a failing schema dead-letters at once
        self.ingest.close()
        if self.metrics_server is not None:  # answered until everything read was stored
            self.metrics_server.stop(timeout=1)
        counters = self.ingest.counters
        level = logging.WARNING if counters.failed or counters.bad or counters.rejected else logging.INFO
        log.log(level, "stopped: %s", " ".join("%s=%d" % kv for kv in counters.as_dict().items()))
        unmatched = self.ingest.unmatched
        if unmatched.total:
            log.warning("unmatched points by prefix: %s%s", " ".join(
                "%s=%d" % kv for kv in sorted(unmatched.counts().items(), key=lambda kv: -kv[1])),
                " (%d written to %s, %d not)" % (unmatched.written, unmatched.path,
                                                  unmatched.unwritten) if unmatched.path else "")


def _set_title(text: str) -> None:
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(text)


def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    holder = ConfigHolder(args.config)  # in a parent too: a broken configuration stops here
    setup_logging(holder.current.debug)
    if args.workers > 1:
        from .workers import run_workers
        return run_workers(sys.argv[1:] if argv is None else argv, args.workers, args.tcp, args.udp,
                           args.metrics)
    karbon = Karbon(holder, args.tcp, args.udp, reuse_port=args.reuse_port,
                    dead_letter=args.dead_letter, queue_bytes=args.queue_size * 1024 * 1024,
                    expire_every=args.expire_every,
                    max_connections=fit_connection_cap(args.max_connections),
                    idle_timeout=args.idle_timeout, drain_timeout=args.drain_timeout,
                    udp_buffer=args.udp_buffer * 1024, retry_delays=args.retry_delays,
                    metrics_address=args.metrics, worker=_worker_number(),
                    unmatched_file=args.unmatched_file,
                    unmatched_max_bytes=args.unmatched_max_size * 1024 * 1024,
                    allow=SourceFilter(n for group in args.allow for n in group) if args.allow else None)
    where = ", ".join(karbon.addresses())
    _set_title("karbon %s --config %s" % (where, " ".join(args.config)))
    tune_gc()
    tune_threads()
    announce("karbon", __version__, where)
    karbon.serve()
    return 0



def _worker_number() -> Optional[int]:
    text = os.environ.get(WORKER_ENV, "")
    return int(text) if text.isdigit() else None


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``karbon [-h] [--tcp TCP] [--config CONFIG] ...``."""
    return console_main(_main, argv)
