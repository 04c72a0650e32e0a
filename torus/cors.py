"""Cross-origin policy: which web pages may read torus answers, and which may write through /insert.

Reads default to ``Access-Control-Allow-Origin: *`` (``CORS_ORIGIN``) so browser
dashboards anywhere can draw graphs. Writes default to no web page at all
(``CORS_INSERT_ORIGIN = None``): a form POST is a "simple" request that browsers
send cross-origin without asking first, so withholding the header is not enough;
an /insert whose ``Origin`` header names a page that is not allowed is refused
(403) before anything is stored. Clients that are not browsers send no ``Origin``
and are not affected.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from .config import Configuration
from .errors import Forbidden

#: configuration keys and their defaults
READ_SETTING, READ_DEFAULT = "CORS_ORIGIN", "*"
WRITE_SETTING, WRITE_DEFAULT = "CORS_INSERT_ORIGIN", None


def allowed_origin(config: Configuration, writes: bool) -> Optional[str]:
    """The Access-Control-Allow-Origin value for reads or writes (None: send no header)."""
    if writes:
        origin = config.setting(WRITE_SETTING, WRITE_DEFAULT)
    else:
        origin = config.setting(READ_SETTING, READ_DEFAULT)
    return str(origin) if origin else None


def check_write_origin(config: Configuration, environ: Dict[str, Any], what: str = "/insert") -> None:
    """403 when a browser page of an origin that may not write sends this write (``what``)."""
    origin = environ.get("HTTP_ORIGIN", "").strip()
    if not origin:
        return
    allowed = allowed_origin(config, writes=True)
    if allowed not in ("*", origin):
        raise Forbidden("%s from a web page of %s is not allowed (%s)" % (what, origin, WRITE_SETTING))
