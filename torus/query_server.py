"""torus: the HTTP query server, the ``torus.web`` application under gevent's WSGIServer.

Signals: SIGHUP reloads the configuration files (a file that fails to load
leaves the previous configuration serving; logging follows the new DEBUG);
SIGINT/SIGTERM stop accepting connections, let requests in flight finish (up to
``STOP_TIMEOUT`` seconds) and exit 0.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import socket
import sys
from typing import Callable, List, Optional, Tuple

from . import __version__
from .cli import ArgumentParser, add_config_argument, run, setup_logging, tcp_type
from .config import ConfigHolder
from .errors import TorusError

log = logging.getLogger(__name__)

DEFAULT_TCP = "localhost:8080"
DESCRIPTION = "Torus, a web server for mining data out of kairos"
#: connections served at once; more wait in the listen backlog
MAX_CONNECTIONS = 1000
#: seconds requests in flight may take to finish after SIGINT/SIGTERM
STOP_TIMEOUT = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="torus", description=DESCRIPTION)  # one-line usage errors
    parser.add_argument("--tcp", type=tcp_type(), default=DEFAULT_TCP,
                        help='TCP binding, in the form of "host:port", ":port", or "port" '
                             '(port 0 picks a free one). Defaults to "%s".' % DEFAULT_TCP)
    add_config_argument(parser)
    return parser


@functools.lru_cache(maxsize=None)
def no_delay_server_class() -> type:
    """gevent's WSGIServer with TCP_NODELAY on every connection.

    pywsgi writes the headers and the body separately; with Nagle's algorithm the body
    waits for the client's delayed ACK, ~40 ms on every keep-alive request. Built on first
    use so that ``main`` monkey-patches before gevent.pywsgi (which imports ssl) is loaded.
    """
    from gevent.pywsgi import WSGIServer

    class NoDelayWSGIServer(WSGIServer):
        def handle(self, sock, address):  # type: ignore[override]
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not a TCP socket: nothing to tune
                pass
            super().handle(sock, address)

    return NoDelayWSGIServer


class QueryServer:
    """One torus process: configuration holder, WSGI server and signal handling."""

    def __init__(self, holder: ConfigHolder, tcp: Tuple[str, int],
                 now: Optional[Callable[[], float]] = None):
        from gevent.event import Event
        from gevent.pool import Pool

        from .web import make_app

        self.holder = holder
        self.app = make_app(holder, now=now)
        self.server = no_delay_server_class()(tcp, self.app, log=None, spawn=Pool(MAX_CONNECTIONS),
                                               error_log=logging.getLogger("torus.wsgi"))
        self.stopped = Event()
        self._stopping = False

    @property
    def address(self) -> str:
        host, port = self.server.address[0], self.server.address[1]
        return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)

    def start(self) -> None:
        import gevent
        self.server.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self.request_stop, signum)
        gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(self.reload))

    def reload(self) -> bool:
        """Reload every configuration file (SIGHUP); the old one serves on when that fails."""
        log.info("SIGHUP: reloading %s", ", ".join(self.holder.paths))
        if self.holder.reload():
            setup_logging(self.holder.current.debug)
            return True
        return False

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        import gevent
        if self._stopping:
            return
        self._stopping = True
        log.info("%s: stopping", signal.Signals(signum).name)
        gevent.spawn(self.stop)

    def stop(self) -> None:
        try:
            self.server.stop(timeout=STOP_TIMEOUT)
            log.info("stopped")
        finally:
            self.stopped.set()

    def serve(self) -> None:
        self.start()
        self.stopped.wait()


def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    holder = ConfigHolder(args.config)
    setup_logging(holder.current.debug)
    server = QueryServer(holder, args.tcp)
    try:
        server.server.init_socket()
    except OSError as err:
        raise TorusError("cannot listen on %s:%d: %s" % (args.tcp[0], args.tcp[1],
                                                         err.strerror or err)) from None
    # one line on stderr whatever the log level: where torus listens (port 0 picks one)
    print("torus %s listening on http://%s (pid %d)" % (__version__, server.address, os.getpid()),
          file=sys.stderr, flush=True)
    server.serve()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``torus [-h] [--tcp TCP] [--config CONFIG]``."""
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
