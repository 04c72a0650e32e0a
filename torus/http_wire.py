"""HTTP/1.1 requests read strictly from a byte stream, and the JSON answers torus gives by itself.

No sockets here: ``read_head`` and ``read_body`` take the ``readline``/``read`` of any
buffered stream, so they are tested on ``io.BytesIO``. They refuse, with an
``HttpError`` carrying the status to answer, what RFC 9112 says a server must refuse
and what would let a proxy in front of torus and torus disagree on where a request ends
(request smuggling): folded or malformed header lines, a repeated or non-numeric
Content-Length, Content-Length together with Transfer-Encoding, any coding but chunked.
Sizes are bounded before anything is buffered: 8 KiB request line (414), 32 KiB and
100 header fields (431), 1 MiB body, plain or chunked (413).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from .encoding import dumps
from .errors import TorusError

#: longest request line, its line end included (gevent's pywsgi uses the same)
MAX_REQUEST_LINE = 8192
#: all header field lines of a request together, and of a chunked body's trailer
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_FIELDS = 100
#: largest request body, plain or chunked
MAX_BODY = 1024 * 1024
#: empty lines skipped before a request line (RFC 9112 2.2: clients may send one after a body)
MAX_EMPTY_LINES = 4
#: longest chunk-size line (size and extensions)
MAX_CHUNK_LINE = 1024
#: bodies are read this much at a time: a buffered read(n) allocates n bytes at once, and a body
#: declared large but sent slowly must cost only what has arrived
READ_PIECE = 64 * 1024

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TARGET_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
VALUE_FORBIDDEN = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is allowed
ABSOLUTE_FORM = re.compile(r"https?://[^/?#]*", re.IGNORECASE)
DIGITS = re.compile(r"[0-9]{1,18}")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n")

Readline = Callable[[int], bytes]
Read = Callable[[int], bytes]


class HttpError(TorusError):
    """An error answered with its own HTTP status (400, 405, 413, 414, 431...); ``allow`` is
    the Allow header of a 405."""

    def __init__(self, status: int, message: str, allow: str = "GET, HEAD, POST, OPTIONS"):
        super().__init__(message)
        self.status = status
        self.allow = allow


@dataclass(frozen=True)
class HttpLimits:
    """How long torus waits for a client, and how many it serves at once (the ``torus`` flags)."""

    #: seconds for the request line and headers to arrive (from the connection, or the first byte)
    header_timeout: float = 10.0
    #: seconds for a declared body to arrive, from the end of the headers
    body_timeout: float = 30.0
    #: seconds a keep-alive connection may wait for its next request
    idle_timeout: float = 60.0
    #: seconds each write of an answer may wait for the client to read
    send_timeout: float = 30.0
    #: connections open at once; one more is answered 503 and closed
    max_connections: int = 5000
    #: the Retry-After of that 503, in seconds
    retry_after: int = 5
    max_body: int = MAX_BODY


class Head(NamedTuple):
    """A request line and its header fields, checked."""

    method: str
    target: str  # origin-form: /path?query (an absolute-form target is cut down to it)
    version: str  # HTTP/1.0 or HTTP/1.1
    fields: List[Tuple[str, str]]  # (name as sent, value), in order

    def values(self, name: str) -> List[str]:
        """Every value of the field ``name`` (case-insensitive), in order."""
        name = name.lower()
        return [value for field, value in self.fields if field.lower() == name]

    def tokens(self, name: str) -> List[str]:
        """The comma-separated members of every ``name`` field, lower-cased."""
        return [token.strip().lower() for value in self.values(name) for token in value.split(",")]


class Framing(NamedTuple):
    """How the body of a request is delimited."""

    length: int  # Content-Length (0 without one, and when chunked)
    chunked: bool


def printable(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, control characters escaped: safe in a log line."""
    cut = text[:limit] + ("..." if len(text) > limit else "")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in cut)


def _strip_line_end(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


def parse_request_line(line: str) -> Tuple[str, str, str]:
    """``(method, origin-form target, version)`` of ``METHOD SP target SP HTTP/1.x``."""
    parts = line.split(" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0].encode("latin-1")) or not parts[1] \
            or TARGET_FORBIDDEN.search(parts[1]):
        raise HttpError(400, "bad request line '%s': send METHOD /path HTTP/1.1" % printable(line, 100))
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(400, "HTTP version '%s' is not served: use HTTP/1.1" % printable(version, 20))
    absolute = ABSOLUTE_FORM.match(target)
    if absolute:
        target = target[absolute.end():] or "/"
        if not target.startswith("/"):
            target = "/" + target
    elif not (target.startswith("/") or (target == "*" and method == "OPTIONS")):
        raise HttpError(400, "bad request target '%s': send a path such as /series?stat=..."
                        % printable(target, 100))
    return method, target, version


def parse_field_line(line: bytes) -> Tuple[str, str]:
    """``(name, value)`` of one header field line (line end already removed)."""
    if line[:1] in (b" ", b"\t"):
        raise HttpError(400, "folded header lines are not accepted (obs-fold): send each field "
                             "on one line")
    name, colon, value = line.partition(b":")
    if not colon or not TOKEN.fullmatch(name):
        raise HttpError(400, "bad header line '%s': send Name: value"
                        % printable(line.decode("latin-1"), 100))
    value = value.strip(b" \t")
    if VALUE_FORBIDDEN.search(value):
        raise HttpError(400, "header %s holds control characters" % name.decode("ascii"))
    return name.decode("ascii"), value.decode("latin-1")


def read_request_line(readline: Readline) -> Optional[str]:
    """The request line (without its line end), or None when the stream ends before one starts."""
    for _ in range(MAX_EMPTY_LINES + 1):
        line = readline(MAX_REQUEST_LINE + 3)  # the line, its CRLF, and a byte more to tell
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            continue
        if len(_strip_line_end(line)) > MAX_REQUEST_LINE:
            raise HttpError(414, "request line is longer than %d bytes" % MAX_REQUEST_LINE)
        if not line.endswith(b"\n"):
            raise HttpError(400, "request ended before its request line was complete")
        return _strip_line_end(line).decode("latin-1")
    raise HttpError(400, "more than %d empty lines before the request line" % MAX_EMPTY_LINES)


def read_fields(readline: Readline, what: str = "header fields") -> List[bytes]:
    """Field lines up to the empty line that ends them, within the size and count limits."""
    budget = MAX_HEADER_BYTES  # the field lines with their line ends; the empty line is free
    lines: List[bytes] = []
    while True:
        line = readline(budget + 3)
        if line in (b"\r\n", b"\n"):
            return lines
        if len(line) > budget:
            raise HttpError(431, "request %s are larger than %d bytes" % (what, MAX_HEADER_BYTES))
        if not line.endswith(b"\n"):
            raise HttpError(400, "request ended before its %s were complete" % what)
        budget -= len(line)
        line = _strip_line_end(line)
        if not line:
            return lines
        if len(lines) == MAX_HEADER_FIELDS:
            raise HttpError(431, "request has more than %d %s" % (MAX_HEADER_FIELDS, what))
        lines.append(line)


def read_head(readline: Readline) -> Optional[Head]:
    """The request line and header fields, or None when the stream ends before a request starts."""
    line = read_request_line(readline)
    if line is None:
        return None
    method, target, version = parse_request_line(line)
    return Head(method, target, version, [parse_field_line(field) for field in read_fields(readline)])


def body_framing(head: Head, max_body: int = MAX_BODY) -> Framing:
    """The body's length or chunking, refusing anything ambiguous (RFC 9112 6.1-6.3)."""
    lengths = head.values("content-length")
    codings = head.tokens("transfer-encoding")
    if codings:
        if head.version == "HTTP/1.0":
            raise HttpError(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request")
        if lengths:
            raise HttpError(400, "Content-Length and Transfer-Encoding together are ambiguous: "
                                 "send one of them")
        if codings != ["chunked"]:
            raise HttpError(400, "Transfer-Encoding '%s' is not supported: send the body with "
                                 "Content-Length, or chunked alone" % printable(", ".join(codings), 60))
        return Framing(0, True)
    if not lengths:
        return Framing(0, False)
    if len(lengths) > 1:
        raise HttpError(400, "Content-Length given %d times: send it once" % len(lengths))
    if not re.fullmatch(r"[0-9]+", lengths[0]):
        raise HttpError(400, "Content-Length '%s' is not a number of bytes" % printable(lengths[0], 40))
    if not DIGITS.fullmatch(lengths[0]) or int(lengths[0]) > max_body:
        raise HttpError(413, "request body of %s bytes is larger than %d" % (printable(lengths[0], 40),
                                                                              max_body))
    return Framing(int(lengths[0]), False)


def read_body(read: Read, readline: Readline, framing: Framing, max_body: int = MAX_BODY) -> bytes:
    """The whole body, de-chunked; HttpError when it ends early, is malformed or too large."""
    if framing.chunked:
        return read_chunked(read, readline, max_body)
    body = read_exactly(read, framing.length)
    if len(body) < framing.length:
        raise HttpError(400, "request body ended after %d of %d bytes" % (len(body), framing.length))
    return body


def read_exactly(read: Read, length: int) -> bytes:
    """``length`` bytes, or fewer if the stream ends first, read a piece at a time."""
    pieces = []
    while length > 0:
        piece = read(min(length, READ_PIECE))
        if not piece:
            break
        pieces.append(piece)
        length -= len(piece)
    return b"".join(pieces)


def read_chunked(read: Read, readline: Readline, max_body: int = MAX_BODY) -> bytes:
    """A chunked body (RFC 9112 7.1): extensions ignored, trailer fields checked and dropped."""
    pieces: List[bytes] = []
    size = 0
    while True:
        line = readline(MAX_CHUNK_LINE + 1)
        if len(line) > MAX_CHUNK_LINE:
            raise HttpError(400, "chunked body: chunk-size line longer than %d bytes" % MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise HttpError(400, "request body ended before its last chunk (chunked)")
        match = CHUNK_SIZE.fullmatch(line)
        if not match:
            raise HttpError(400, "chunked body: bad chunk-size line '%s'"
                            % printable(line.decode("latin-1"), 40))
        length = int(match.group(1), 16)
        if length == 0:
            for field in read_fields(readline, "trailer fields"):
                parse_field_line(field)
            return b"".join(pieces)
        size += length
        if size > max_body:
            raise HttpError(413, "chunked request body is larger than %d" % max_body)
        piece = read_exactly(read, length)
        if len(piece) < length:
            raise HttpError(400, "request body ended inside a chunk (chunked)")
        pieces.append(piece)
        end = readline(3)
        if end not in (b"\r\n", b"\n"):
            if not end.endswith(b"\n") and len(end) < 3:
                raise HttpError(400, "request body ended inside a chunk (chunked)")
            raise HttpError(400, "chunked body: chunk data not followed by CRLF")


def error_answer(status: int, message: str, headers: Sequence[Tuple[str, str]] = (),
                 now: Optional[float] = None) -> bytes:
    """A complete HTTP/1.1 answer with ``{"error": message, "status": status}`` that closes."""
    body = dumps({"error": message, "status": status})
    lines = ["HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase),
             "Content-Type: application/json",
             "Content-Length: %d" % len(body),
             "Connection: close",
             "Date: %s" % formatdate(now, usegmt=True)]
    lines += ["%s: %s" % header for header in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
