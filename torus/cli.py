"""Pieces shared by every torus command line: --config, --tcp parsing, logging set-up, errors."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, List, NoReturn, Optional, Tuple

from .errors import TorusError

CONFIG_HELP = ("Configuration file to load. Can be called multiple times for multiple "
               "configuration files.")
LOG_FORMAT = "%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (``prog: error: why (see prog --help)``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def add_config_argument(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--config", action="append", default=[], required=required, help=CONFIG_HELP)


def add_tcp_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--tcp`` as seed 000 words it, parsed into ``(host, port)``."""
    parser.add_argument("--tcp", type=tcp_type(), default=default,
                        help='TCP binding, in the form of "host:port", ":port", or "port" '
                             '(port 0 picks a free one). Defaults to "%s".' % default)


def parse_tcp(value: str, default_host: str = "localhost") -> Tuple[str, int]:
    """``"host:port"``, ``":port"`` or ``"port"`` -> (host, port); IPv6 as ``[::1]:port``."""
    text = value.strip()
    host, port = default_host, text
    if text.startswith("["):
        closing = text.find("]")
        if closing < 0 or not text[closing + 1:].startswith(":"):
            raise argparse.ArgumentTypeError("%r: use [ipv6]:port" % value)
        host, port = text[1:closing], text[closing + 2:]
    elif ":" in text:
        host, port = text.rsplit(":", 1)
        host = host or default_host
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "%r is not a TCP binding: use host:port, :port or port" % value) from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("port %d is out of range 0-65535" % number)
    return host, number


def tcp_type(default_host: str = "localhost") -> Callable[[str], Tuple[str, int]]:
    return lambda value: parse_tcp(value, default_host)


def number_type(cast: Callable[[str], float], minimum: float, what: str,
                allow_minimum: bool = True) -> Callable[[str], float]:
    """An argparse type for a finite number of at least (or, without ``allow_minimum``, above)
    ``minimum``; ``what`` completes the error "'x' is not ...".
    """
    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not %s" % (text, what)) from None
        if value != value or value == float("inf") or value < minimum or \
                (value == minimum and not allow_minimum):
            raise argparse.ArgumentTypeError("%r is not %s" % (text, what))
        return value
    return parse


def setup_logging(debug: int) -> None:
    """Log to stderr: errors only at DEBUG 0, info at 1, debug at 2 (seed 000, "DEBUG").

    A configuration module that installs its own handlers on the root logger keeps them.
    """
    root = logging.getLogger()
    level = {0: logging.WARNING, 1: logging.INFO}.get(debug, logging.DEBUG)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)


def run(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> int:
    """Run a command's body, turning TorusError/KairosError into one line on stderr and exit 2."""
    from kairos import KairosError
    try:
        return main(argv)
    except (TorusError, KairosError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
