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
import socket
import sys
from typing import Callable, List, Optional, Tuple

from . import __version__
from .cli import ArgumentParser, add_config_argument, add_tcp_argument, setup_logging
from .config import ConfigHolder
from .daemon import Daemon, announce, console_main, format_address
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
    add_tcp_argument(parser, DEFAULT_TCP)
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


class QueryServer(Daemon):
    """One torus process: the WSGI application under gevent's WSGIServer."""

    def __init__(self, holder: ConfigHolder, tcp: Tuple[str, int],
                 now: Optional[Callable[[], float]] = None):
        from gevent.pool import Pool

        from .web import make_app

        super().__init__(holder)
        self.app = make_app(holder, now=now)
        self.server = no_delay_server_class()(tcp, self.app, log=None, spawn=Pool(MAX_CONNECTIONS),
                                               error_log=logging.getLogger("torus.wsgi"))

    @property
    def address(self) -> str:
        return format_address(self.server.address)

    def start_servers(self) -> None:
        self.server.start()

    def stop_servers(self) -> None:
        """Stop accepting; requests in flight have ``STOP_TIMEOUT`` seconds to finish."""
        self.server.stop(timeout=STOP_TIMEOUT)
        log.info("stopped")


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
    announce("torus", __version__, "http://" + server.address)
    server.serve()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``torus [-h] [--tcp TCP] [--config CONFIG]``."""
    return console_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
