"""torus: the HTTP query server, the ``torus.web`` application under a hardened gevent WSGIServer.

``http_server.TorusHTTPServer`` reads each request under header/body/idle/send
deadlines and answers over its connection cap with 503 (the flags below).

Signals: SIGHUP reloads the configuration files (a file that fails to load
leaves the previous configuration serving; logging follows the new DEBUG);
SIGINT/SIGTERM stop accepting connections, close idle ones, let requests in
flight finish (up to ``STOP_TIMEOUT`` seconds) and exit 0.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable, List, Optional, Tuple

from . import __version__
from .cli import ArgumentParser, add_config_argument, add_tcp_argument, number_type, setup_logging
from .config import ConfigHolder
from .daemon import Daemon, announce, console_main, format_address, tune_gc
from .errors import TorusError
from .http_wire import HttpLimits

log = logging.getLogger(__name__)

DEFAULT_TCP = "localhost:8080"
DESCRIPTION = "Torus, a web server for mining data out of kairos"
#: seconds requests in flight may take to finish after SIGINT/SIGTERM
STOP_TIMEOUT = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="torus", description=DESCRIPTION)  # one-line usage errors
    add_tcp_argument(parser, DEFAULT_TCP)
    add_config_argument(parser)
    defaults = HttpLimits()
    seconds = number_type(float, 0, "a number of seconds above 0", allow_minimum=False)
    count = number_type(int, 1, "a whole number, at least 1")
    parser.add_argument("--max-connections", metavar="N", type=count, default=defaults.max_connections,
                        help="Connections served at once; one more is answered 503 with "
                             "Retry-After and closed. Defaults to %d." % defaults.max_connections)
    parser.add_argument("--header-timeout", metavar="SECONDS", type=seconds,
                        default=defaults.header_timeout,
                        help="Time a client has to send its request line and headers, from the "
                             "connection (or the first byte of a keep-alive request); later is "
                             "answered 408. Defaults to %g." % defaults.header_timeout)
    parser.add_argument("--body-timeout", metavar="SECONDS", type=seconds, default=defaults.body_timeout,
                        help="Time a client has to send a request body, once its headers are in; "
                             "later is answered 408. Defaults to %g." % defaults.body_timeout)
    parser.add_argument("--idle-timeout", metavar="SECONDS", type=seconds, default=defaults.idle_timeout,
                        help="Time a keep-alive connection may wait for its next request before "
                             "it is closed. Defaults to %g." % defaults.idle_timeout)
    parser.add_argument("--send-timeout", metavar="SECONDS", type=seconds, default=defaults.send_timeout,
                        help="Time a client has to take each write of an answer before the "
                             "connection is closed. Defaults to %g." % defaults.send_timeout)
    parser.add_argument("--certfile", metavar="FILE",
                        help="Serve HTTPS with this PEM certificate (chain); the private key may "
                             "be in the same file or in --keyfile. Defaults to plain HTTP.")
    parser.add_argument("--keyfile", metavar="FILE",
                        help="The PEM private key of --certfile, when it is not in that file.")
    return parser


def limits_from(args: argparse.Namespace) -> HttpLimits:
    """The HTTP limits the command line asks for."""
    return HttpLimits(header_timeout=args.header_timeout, body_timeout=args.body_timeout,
                      idle_timeout=args.idle_timeout, send_timeout=args.send_timeout,
                      max_connections=args.max_connections)


class QueryServer(Daemon):
    """One torus process: the WSGI application under the hardened WSGIServer."""

    def __init__(self, holder: ConfigHolder, tcp: Tuple[str, int],
                 now: Optional[Callable[[], float]] = None, limits: HttpLimits = HttpLimits(),
                 tls: Any = None):
        # imported here, after main() monkey-patched: gevent.pywsgi loads ssl
        from .http_server import TorusHTTPServer
        from .web import make_app

        super().__init__(holder)
        self.app = make_app(holder, now=now)
        ssl_args = {} if tls is None else {"ssl_context": tls, "server_side": True}
        self.server = TorusHTTPServer(tcp, self.app, limits, **ssl_args)

    @property
    def address(self) -> str:
        return format_address(self.server.address)

    @property
    def url(self) -> str:
        return ("https://" if self.server.ssl_enabled else "http://") + self.address

    def start_servers(self) -> None:
        self.server.start()

    def stop_servers(self) -> None:
        """Stop accepting, close idle connections; requests in flight have ``STOP_TIMEOUT`` seconds."""
        self.server.stop(timeout=STOP_TIMEOUT)
        log.info("stopped")


def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    holder = ConfigHolder(args.config)
    setup_logging(holder.current.debug)
    from .http_server import fit_fd_limit, tls_context  # here: after console_main monkey-patched
    if args.keyfile and not args.certfile:
        raise TorusError("--keyfile needs --certfile")
    tls = tls_context(args.certfile, args.keyfile) if args.certfile else None
    server = QueryServer(holder, args.tcp, limits=fit_fd_limit(limits_from(args)), tls=tls)
    try:
        server.server.init_socket()
    except OSError as err:
        raise TorusError("cannot listen on %s:%d: %s" % (args.tcp[0], args.tcp[1],
                                                         err.strerror or err)) from None
    tune_gc()
    announce("torus", __version__, server.url)
    server.serve()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``torus [-h] [--tcp TCP] [--config CONFIG] [--max-connections N] ...``."""
    return console_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
