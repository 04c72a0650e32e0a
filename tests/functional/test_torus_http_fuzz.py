"""Random raw HTTP against a real torus: every answer is well-formed HTTP with a JSON body and a status
below 500, and torus still serves a normal request afterwards.

Requests are built from parts that matter to the parser (methods, targets, versions,
framing headers, line ends, chunked and plain bodies), cut at random points and
pipelined, or are plain random bytes. HEAD is left out: its answers carry a
Content-Length without a body, so they cannot be framed without knowing the request.
"""
import socket

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.functional.raw_http import FORM, connect, parse_answers, read_all
from tests.functional.torus_support import serving

METHODS = st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE", "get", "P OST", "G\x00T", ""]) | \
    st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=8)
TARGETS = st.sampled_from(["/list", "/list?schema=timers", "/series?stat=c.a&start=1362096000&steps=2",
                           "/insert?stat=c.fuzz&value=1", "/insert", "/properties?stat=c.a", "/", "*",
                           "http://h/list", "/%FF", "/li\x7fst", "/" + "a" * 9000]) | \
    st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=20)
VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1", "http/1.1", "HTTP/1.1 x", ""])
NAMES = st.sampled_from(["Host", "Content-Length", "content-length", "Transfer-Encoding", "Content-Type",
                         "Connection", "Expect", "X-Forwarded-For", " Host", "Host ", "X_Y", ""]) | \
    st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=10)
VALUES = st.sampled_from(["0", "3", "10", "-1", "+3", "1_0", " 4 ", "3, 3", "99999999999999999999999",
                          "chunked", "gzip, chunked", "chunked, identity", "close", "keep-alive",
                          "100-continue", FORM, "a" * 40000]) | \
    st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=20)
EOLS = st.sampled_from(["\r\n", "\r\n", "\n", "\r", ""])
BODIES = st.binary(max_size=64) | st.sampled_from([
    b"stat=c.fuzz&value=2", b"3\r\nabc\r\n0\r\n\r\n", b"5;x=y\r\nstat=\r\n0\r\nT: 1\r\n\r\n", b"zz\r\n",
    b"ffffffffffffffffff\r\n", b"3\r\nabcdef", b"0\r\n", b"\r\n"])


@st.composite
def one_request(draw):
    eol = draw(EOLS)
    line = "%s%s%s%s%s" % (draw(METHODS), draw(st.sampled_from([" ", " ", "\t", "  "])), draw(TARGETS),
                           draw(st.sampled_from([" ", " ", ""])), draw(VERSIONS))
    fields = draw(st.lists(st.tuples(NAMES, st.sampled_from([": ", ":", " : ", ""]), VALUES), max_size=5))
    head = line + eol + "".join(name + colon + value + eol for name, colon, value in fields) + eol
    return head.encode("latin-1") + draw(BODIES)


@st.composite
def streams(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=1, max_size=200))
    data = b"".join(draw(st.lists(one_request(), min_size=1, max_size=3)))
    if draw(st.booleans()):
        data = data[:draw(st.integers(1, len(data)))]
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serving(tmp_path_factory, "torus_fuzz")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=streams())
def test_random_bytes_get_well_formed_json_answers(server, data):
    assume(b"HEAD" not in data)
    sock = connect(server.address, timeout=10)
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # torus answered and closed before reading it all
            pass
        answers = parse_answers(read_all(sock))
    finally:
        sock.close()
    if data.strip(b"\r\n"):
        assert answers, "no answer to %r" % data[:200]
    for answer in answers:
        assert answer.status < 500, (answer, data[:300])
        if answer.status < 200 or answer.status == 204:
            assert answer.body == b"", answer
            continue
        assert answer.headers["content-type"] == "application/json", answer
        answer.json()


def test_torus_still_answers_and_logged_no_traceback(server):
    """Runs after the fuzzing (pytest keeps the file's order) on the same torus."""
    assert server.get("/list?schema=timers") == (200, ["t.x"])
    assert "Traceback" not in server.log, server.log
