"""The dashboard page: ``GET /`` and ``/ui`` answer ``torus/ui/index.html``; ``/ui/static/<file>``
answers the files under ``torus/ui/static`` (its scripts, its style sheet and the vendored uPlot).

The page is served without a token even when ``TOKENS`` is set: it holds no data, and asks for a
token itself when an API call answers 401. Only the files found under ``static`` when the module
is imported can be answered (a fixed table: a path with ``..``, a backslash or anything else is
simply not in it, so nothing outside the folder can be read). Static files carry an ``ETag`` and
``Cache-Control: public, max-age=3600`` (the page names them with ``?v=<digest of them all>``,
so a new release is fetched at once); the page itself is ``no-cache``. GET and HEAD only.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, List, Optional, Tuple

from .encoding import RawAnswer
from .http_wire import HttpError

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui")
PAGE_PATHS = frozenset({"", "ui"})
STATIC_PREFIX = "ui/static/"
METHODS = "GET, HEAD"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
TEXT = "text/plain; charset=utf-8"  # LICENSE, VERSIONS
STATIC_CACHE = "public, max-age=3600"


def is_dashboard(command: str) -> bool:
    """True for the paths this module answers (``command``: the path without its slashes)."""
    return command in PAGE_PATHS or command.startswith(STATIC_PREFIX)


def _scan() -> Dict[str, Tuple[bytes, str, str]]:
    """``{relative path: (body, content type, etag)}`` of every file under ``ui/static``."""
    files = {}
    root = os.path.join(FOLDER, "static")
    for folder, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(folder, name)
            relative = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as handle:
                body = handle.read()
            kind = TYPES.get(os.path.splitext(name)[1].lower(), TEXT)
            files[relative] = (body, kind, '"%s"' % hashlib.sha256(body).hexdigest()[:20])
    return files


def _page(files: Dict[str, Tuple[bytes, str, str]]) -> bytes:
    digest = hashlib.sha256("".join(sorted(etag for _, _, etag in files.values())).encode())
    with open(os.path.join(FOLDER, "index.html"), "rb") as handle:
        return handle.read().replace(b"{{version}}", digest.hexdigest()[:12].encode())


STATIC = _scan()
PAGE = _page(STATIC)


def answer(command: str, method: str,
           environ: Dict[str, Any]) -> Tuple[int, RawAnswer, List[Tuple[str, str]]]:
    """``(status, body, headers)`` of a dashboard path; 404 for a file that is not there."""
    if method not in ("GET", "HEAD"):
        raise HttpError(405, "method %s is not allowed on the dashboard: use GET" % method,
                        METHODS)
    if command in PAGE_PATHS:
        return 200, RawAnswer(PAGE, TYPES[".html"]), [
            ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' "
                                        "'unsafe-inline'; frame-ancestors 'none'")]
    found: Optional[Tuple[bytes, str, str]] = STATIC.get(command[len(STATIC_PREFIX):])
    if found is None:
        raise HttpError(404, "no dashboard file %r" % ("/" + command))
    body, kind, etag = found
    headers = [("Cache-Control", STATIC_CACHE), ("ETag", etag), ("X-Content-Type-Options", "nosniff")]
    if etag in [tag.strip() for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
        return 304, RawAnswer(b"", kind), headers
    return 200, RawAnswer(body, kind), headers
