"""Raw HTTP for the hostile-client tests: send exact bytes over a socket, parse the answers strictly.

``exchange`` sends bytes, closes its sending side and reads until torus closes the
connection; ``parse_answers`` cuts what came back into responses and fails on anything
that is not well-formed HTTP/1.1 (status line, one value per header, a Content-Length
body on every answer that may have one).
"""
import json
import re
import socket
from typing import Dict, List, NamedTuple, Optional, Tuple

STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) ([^\r\n]*)\r\n")
FORM = "application/x-www-form-urlencoded"


class Answer(NamedTuple):
    status: int
    reason: str
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def parse_answers(data: bytes) -> List[Answer]:
    """Every response in ``data``, in order; AssertionError on anything malformed or left over."""
    answers = []
    position = 0
    while position < len(data):
        end = data.find(b"\r\n\r\n", position)
        assert end >= 0, "unterminated head: %r" % data[position:position + 300]
        head = data[position:end + 2]
        match = STATUS_LINE.match(head)
        assert match, "bad status line: %r" % head[:300]
        headers: Dict[str, str] = {}
        for line in head[match.end():].split(b"\r\n")[:-1]:
            name, colon, value = line.partition(b":")
            assert colon and name and re.fullmatch(rb"[A-Za-z0-9-]+", name), "bad header %r" % line
            key = name.decode("ascii").lower()
            assert key not in headers, "header %s given twice in %r" % (key, head)
            headers[key] = value.strip().decode("latin-1")
        status = int(match.group(1))
        position = end + 4
        body = b""
        if status >= 200 and status not in (204, 304):
            assert re.fullmatch(r"[0-9]+", headers.get("content-length", "")), head
            length = int(headers["content-length"])
            body = data[position:position + length]
            assert len(body) == length, "body cut short: %r" % data[end:end + 300]
            position += length
        answers.append(Answer(status, match.group(2).decode("latin-1"), headers, body))
    return answers


def connect(address: Tuple[str, int], timeout: float = 10, rcvbuf: Optional[int] = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes (socket.timeout if it never does)."""
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def read_answer(sock: socket.socket) -> Answer:
    """Exactly one answer from a connection that stays open (keep-alive)."""
    data = b""
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            length = re.search(rb"\r\ncontent-length: *([0-9]+)", data[:head_end + 2], re.I)
            total = head_end + 4 + (int(length.group(1)) if length else 0)
            if len(data) >= total:
                assert len(data) == total, "more than one answer: %r" % data[:300]
                return parse_answers(data)[0]
        more = sock.recv(65536)
        assert more, "connection closed after %r" % data[:300]
        data += more


def exchange(address: Tuple[str, int], data: bytes, timeout: float = 10) -> bytes:
    """Send ``data``, close our sending side, and return all torus answers until it closes."""
    sock = connect(address, timeout)
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)
    finally:
        sock.close()


def request(method: str, target: str, headers: Dict[str, str] = None, body: bytes = b"",
            version: str = "HTTP/1.1") -> bytes:
    """The bytes of one request, exactly as given (no header added)."""
    lines = ["%s %s %s" % (method, target, version)]
    lines += ["%s: %s" % item for item in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces: bytes, trailer: bytes = b"") -> bytes:
    """``pieces`` in chunked transfer coding, ended by the last chunk (and ``trailer`` lines)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n" + trailer + b"\r\n"


def assert_json_error(answer: Answer, status: int, fragment: str = "") -> dict:
    """A JSON error answer ``{"error": ..., "status": status}`` whose message holds ``fragment``."""
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    body = answer.json()
    assert body["status"] == status and isinstance(body["error"], str), body
    assert fragment.lower() in body["error"].lower(), body
    return body
