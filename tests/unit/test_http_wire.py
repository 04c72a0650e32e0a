"""torus.http_wire on in-memory streams: request heads, body framing, chunked bodies, error answers."""
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.functional.raw_http import chunked, parse_answers
from torus.http_wire import (MAX_CHUNK_LINE, MAX_HEADER_BYTES, MAX_REQUEST_LINE, READ_PIECE, Framing, HttpError, body_framing,
                             error_answer, printable, read_body, read_chunked, read_head)


def head_of(data: bytes):
    return read_head(io.BytesIO(data).readline)


def refused(function, *args):
    with pytest.raises(HttpError) as caught:
        function(*args)
    return caught.value.status, str(caught.value)


def test_a_head_and_its_fields():
    head = head_of(b"\r\nPOST /insert?x=1 HTTP/1.1\r\nHost: t\nContent-Length:  3 \r\nX-A: 1\r\nx-a: 2\r\n\r\nabc")
    assert (head.method, head.target, head.version) == ("POST", "/insert?x=1", "HTTP/1.1")
    assert head.fields == [("Host", "t"), ("Content-Length", "3"), ("X-A", "1"), ("x-a", "2")]
    assert head.values("x-a") == ["1", "2"]
    assert head_of(b"") is None and head_of(b"\r\n\r\n") is None


@pytest.mark.parametrize("target,expected", [
    ("http://torus.example:8080/list?schema=x", "/list?schema=x"), ("HTTPS://h", "/"), ("http://h?x", "/?x"),
])
def test_absolute_form_targets_become_paths(target, expected):
    assert head_of(b"GET %s HTTP/1.1\r\n\r\n" % target.encode()).target == expected


def test_options_star_only():
    assert head_of(b"OPTIONS * HTTP/1.1\r\n\r\n").target == "*"
    assert refused(head_of, b"GET * HTTP/1.1\r\n\r\n")[0] == 400


def test_size_limits_are_exact_and_leave_line_ends_out():
    line = b"GET /" + b"a" * (MAX_REQUEST_LINE - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == MAX_REQUEST_LINE
    for end in (b"\r\n", b"\n"):
        assert head_of(line + end + b"\r\n") is not None
    assert refused(head_of, line[:5] + b"a" + line[5:] + b"\r\n\r\n")[0] == 414
    field = b"X: " + b"a" * (MAX_HEADER_BYTES - 5) + b"\r\n"  # exactly the budget, its CRLF in
    assert len(field) == MAX_HEADER_BYTES
    assert head_of(b"GET / HTTP/1.1\r\n" + field + b"\r\n") is not None  # the empty line is free
    assert refused(head_of, b"GET / HTTP/1.1\r\n" + b"X" + field + b"\r\n")[0] == 431
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(100))
    assert len(head_of(b"GET / HTTP/1.1\r\n" + many + b"\r\n").fields) == 100
    assert refused(head_of, b"GET / HTTP/1.1\r\n" + many + b"Y: 1\r\n\r\n") == (
        431, "request has more than 100 header fields")


@pytest.mark.parametrize("data", [
    b"GET  /list HTTP/1.1\r\n\r\n", b"GET\t/list HTTP/1.1\r\n\r\n", b"GET /list HTTP/1.1 \r\n\r\n",
    b"G(T /list HTTP/1.1\r\n\r\n", b"GET /a\x00b HTTP/1.1\r\n\r\n", b"GET list HTTP/1.1\r\n\r\n",
    b"GET /list HTTP/1.1\r\r\n\r\n", b"GET /list HTTP/1.1\r\nA: b\rc\r\n\r\n", b"GET /list HTTP/1.1\r\n: v\r\n\r\n",
    b"GET /list HTTP/1.1\r\nA\x00: v\r\n\r\n", b"\r\n" * 5 + b"GET / HTTP/1.1\r\n\r\n",
])
def test_malformed_heads_are_400(data):
    assert refused(head_of, data)[0] == 400


def framing(*fields, version="HTTP/1.1", max_body=100):
    lines = b"".join(b"%s: %s\r\n" % (name.encode(), value.encode()) for name, value in fields)
    return body_framing(head_of(b"POST / %s\r\n%s\r\n" % (version.encode(), lines)), max_body)


def test_framing():
    assert framing() == Framing(0, False)
    assert framing(("Content-Length", "100")) == Framing(100, False)
    assert framing(("Transfer-Encoding", "Chunked")) == Framing(0, True)
    assert refused(framing, ("Content-Length", "101"))[0] == 413
    assert refused(framing, ("Content-Length", "9" * 5000))[0] == 413  # no int() of 5000 digits


@pytest.mark.parametrize("fields", [
    [("Content-Length", "1"), ("Content-Length", "1")], [("Content-Length", "1,1")], [("Content-Length", "")],
    [("Content-Length", "0x1")], [("Content-Length", "\u0661")], [("Transfer-Encoding", "chunked"),
                                                                  ("Content-Length", "1")],
    [("Transfer-Encoding", "identity")], [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "")],
])
def test_ambiguous_framing_is_400(fields):
    assert refused(framing, *fields)[0] == 400


def test_transfer_encoding_is_refused_in_http_1_0():
    status, message = refused(lambda: framing(("Transfer-Encoding", "chunked"), version="HTTP/1.0"))
    assert status == 400 and "HTTP/1.0" in message


def decode(data: bytes, max_body=1000):
    stream = io.BytesIO(data)
    return read_chunked(stream.read, stream.readline, max_body), stream.read()


@given(body=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_chunked_round_trip(body, cuts):
    edges = sorted({0, len(body), *[c for c in cuts if c <= len(body)]})
    pieces = [body[a:b] for a, b in zip(edges, edges[1:]) if b > a]
    assert decode(chunked(*pieces) + b"NEXT") == (body, b"NEXT")  # stops at the end of its body


def test_chunked_extensions_trailers_and_lf_only():
    assert decode(b"3;a=b \r\nabc\r\n2 ;x\r\nde\r\n0\r\nT: 1\r\nU: 2\r\n\r\n") == (b"abcde", b"")
    assert decode(b"3\nabc\n0\n\n") == (b"abc", b"")


def test_chunked_size_limit_is_exact():
    assert decode(chunked(b"a" * 600, b"b" * 400))[0] == b"a" * 600 + b"b" * 400
    assert refused(decode, chunked(b"a" * 600, b"b" * 401))[0] == 413
    assert refused(decode, b"fffffffffffffffff\r\n")[0] == 400  # 17 hex digits
    extension = b"1;" + b"x" * (MAX_CHUNK_LINE - 4) + b"\r\n"  # exactly the longest chunk-size line
    assert decode(extension + b"a\r\n0\r\n\r\n")[0] == b"a"
    assert "longer than" in refused(decode, b"1;x" + extension[2:] + b"a\r\n0\r\n\r\n")[1]


@pytest.mark.parametrize("data,message", [
    (b"", "ended before its last chunk"), (b"3\r\nab", "ended inside a chunk"),
    (b"3\r\nabc", "ended inside a chunk"), (b"3\r\nabc\r", "ended inside a chunk"),
    (b"3\r\nabcX\r\n", "not followed by CRLF"), (b"x\r\n", "bad chunk-size"), (b"-1\r\n", "bad chunk-size"),
    (b"0\r\nT: 1\r\n", "ended before its trailer fields"), (b"0\r\n bad\r\n\r\n", "folded"),
])
def test_broken_chunked_bodies_are_400(data, message):
    status, text = refused(decode, data)
    assert status == 400 and message in text


def test_read_body_with_a_length():
    stream = io.BytesIO(b"abcdef")
    assert read_body(stream.read, stream.readline, Framing(4, False)) == b"abcd"
    stream = io.BytesIO(b"ab")
    assert refused(read_body, stream.read, stream.readline, Framing(4, False)) == (
        400, "request body ended after 2 of 4 bytes")


def test_bodies_are_read_a_piece_at_a_time():
    """A buffered read(n) allocates n bytes at once: a body declared large costs only what arrived."""
    asked = []
    stream = io.BytesIO(b"a" * 300000 + b"%x\r\n" % 200000 + b"b" * 200000 + b"\r\n0\r\n\r\n")

    def read(size):
        asked.append(size)
        return stream.read(size)

    assert read_body(read, stream.readline, Framing(300000, False), max_body=10 ** 6) == b"a" * 300000
    assert read_body(read, stream.readline, Framing(0, True), max_body=10 ** 6) == b"b" * 200000
    assert max(asked) == READ_PIECE


def test_error_answer_is_well_formed_json():
    answer, = parse_answers(error_answer(503, "busy \u00e9\n", [("Retry-After", "5")], now=0))
    assert (answer.status, answer.reason) == (503, "Service Unavailable")
    assert answer.headers == {"content-type": "application/json", "content-length": str(len(answer.body)),
                              "connection": "close", "date": "Thu, 01 Jan 1970 00:00:00 GMT",
                              "retry-after": "5"}
    assert json.loads(answer.body) == {"error": "busy \u00e9\n", "status": 503}


def test_printable_escapes_control_characters_and_cuts():
    assert printable("a\r\nb\x00\u00e9") == "a\\r\\nb\\x00\u00e9"
    assert printable("x" * 300) == "x" * 200 + "..."
