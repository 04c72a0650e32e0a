"""torus_token: mint an access token for torus's HTTP API and print the TOKENS entry to paste.

The token (``torus_`` and 43 URL-safe characters: 256 random bits from ``secrets``) is
printed once, on the first line of standard output; the configuration keeps only its
SHA-256 (``torus.access`` says why that is enough), so a lost token cannot be recovered:
mint another. The patterns and the expiry are checked as a configuration load would check
them, so what is printed loads.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import secrets
import sys
from typing import List, Optional

from .access import TOKEN_PREFIX, Tokens, token_digest
from .cli import ArgumentParser, run
from .errors import ConfigError

DESCRIPTION = ("Mint an access token for torus's HTTP API: print the token (once) and the "
               "entry to add to TOKENS in the configuration.")
#: random bytes in a token
TOKEN_BYTES = 32


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="torus_token", description=DESCRIPTION)
    parser.add_argument("name", help="Name of the token in TOKENS (who or what uses it, e.g. "
                                     "grafana); torus logs it with each request it serves.")
    parser.add_argument("--read", metavar="PATTERN", action="append", default=[],
                        help="Stat names the token may read, as a Graphite-style pattern that "
                             "also grants every name below a match (stats.teamA.* or * for "
                             "all); repeat it or separate patterns with commas.")
    parser.add_argument("--write", metavar="PATTERN", action="append", default=[],
                        help="Stat names the token may write (/insert) and delete, in the same "
                             "form as --read.")
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument("--expires", metavar="DATE",
                        help="Last day (UTC) the token works, as 2026-12-31, or a date-time "
                             "such as 2026-12-31T18:00:00Z. Defaults to never.")
    expiry.add_argument("--days", metavar="N", type=int,
                        help="The token works for N days from today (UTC), today included.")
    return parser


def _patterns(values: List[str]) -> List[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def entry_line(name: str, digest: str, read: List[str], write: List[str],
               expires: Optional[str]) -> str:
    """The ``'name': {...},`` line of TOKENS."""
    fields = ["'sha256': %r" % digest]
    if read:
        fields.append("'read': %r" % read)
    if write:
        fields.append("'write': %r" % write)
    if expires:
        fields.append("'expires': %r" % expires)
    return "%r: {%s}," % (name, ", ".join(fields))


def _main(argv: Optional[List[str]] = None, today: Optional[_dt.date] = None) -> int:
    args = build_parser().parse_args(argv)
    read, write = _patterns(args.read), _patterns(args.write)
    if not read and not write:
        raise ConfigError("give the token --read and/or --write patterns (--read '*' reads everything)")
    expires = args.expires
    if args.days is not None:
        if args.days < 1:
            raise ConfigError("--days must be at least 1")
        today = today or _dt.datetime.now(_dt.timezone.utc).date()
        expires = (today + _dt.timedelta(days=args.days - 1)).isoformat()
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    digest = token_digest(token)
    entry = {"sha256": digest, "read": read, "write": write, "expires": expires}
    Tokens({args.name: entry}, "token")  # the same checks as a configuration load
    print(token)
    print("# the token above is shown only now; add this entry to TOKENS in the configuration "
          "(TOKENS = {...}), then send SIGHUP to torus:")
    print("    " + entry_line(args.name, digest, read, write, expires))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: ``torus_token NAME [--read PATTERN] [--write PATTERN] [--expires DATE]``."""
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
