"""A real torus answers broken, oversized and ambiguous HTTP with JSON errors, and serves chunked bodies.

Each case sends exact bytes over a socket and reads until torus closes: one answer,
``application/json`` ``{"error": ..., "status": N}``, ``Connection: close``.
"""
import socket

import gevent
import pytest

from tests.functional.raw_http import (FORM, assert_json_error, chunked, connect, exchange, parse_answers,
                                       read_all, request)
from tests.functional.torus_support import T0, serving

MIB = 1024 * 1024
INSERT = {"Host": "t", "Content-Type": FORM}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    for process in serving(tmp_path_factory, "torus_http"):
        yield process
    assert "Traceback" not in process.log, process.log


def only_answer(server, data):
    answers = parse_answers(exchange(server.address, data))
    assert len(answers) == 1, answers
    return answers[0]


CASES = [
    ("malformed request line", b"GARBAGE\r\n\r\n", 400, "request line"),
    ("no HTTP version", b"GET /list\r\n\r\n", 400, "request line"),
    ("bad HTTP version", b"GET /list HTTP/1\r\n\r\n", 400, "HTTP version"),
    ("HTTP/2 on an HTTP/1 port", b"GET /list HTTP/2.0\r\n\r\n", 400, "HTTP version"),
    ("control byte in the target", b"GET /li\x01st HTTP/1.1\r\n\r\n", 400, "request line"),
    ("request line too long", request("GET", "/list?x=" + "a" * 9000), 414, "8192"),
    ("header line too long", request("GET", "/list", {"X-Big": "a" * 40000}), 431, "header"),
    ("header section too large", request("GET", "/list", {"X-%d" % i: "a" * 1000 for i in range(40)}),
     431, "header"),
    ("too many header fields", request("GET", "/list", {"X-%d" % i: "a" for i in range(101)}), 431,
     "header fields"),
    ("folded header line", b"GET /list HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400, "fold"),
    ("space before the colon", b"GET /list HTTP/1.1\r\nHost : t\r\n\r\n", 400, "header"),
    ("header line without colon", b"GET /list HTTP/1.1\r\nHost\r\n\r\n", 400, "header"),
    ("declared body too large", request("POST", "/insert", dict(INSERT, **{"Content-Length": "2000000"})),
     413, "larger than 1048576"),
    ("duplicate Content-Length", b"POST /list HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     400, "Content-Length"),
    ("conflicting Content-Length", b"POST /list HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n"
     b"abcde", 400, "Content-Length"),
    ("Content-Length list", request("POST", "/list", {"Content-Length": "3, 5"}, b"abcde"), 400,
     "Content-Length"),
    ("signed Content-Length", request("POST", "/list", {"Content-Length": "+3"}, b"abc"), 400,
     "Content-Length"),
    ("Content-Length with an underscore", request("POST", "/list", {"Content-Length": "1_0"}, b"a" * 10),
     400, "Content-Length"),
    ("negative Content-Length", request("POST", "/list", {"Content-Length": "-1"}), 400, "Content-Length"),
    ("Content-Length with chunked", request("POST", "/list", {"Content-Length": "3", "Transfer-Encoding":
                                                              "chunked"}, chunked(b"abc")), 400,
     "Transfer-Encoding"),
    ("unsupported Transfer-Encoding", request("POST", "/list", {"Transfer-Encoding": "gzip, chunked"},
                                              chunked(b"abc")), 400, "Transfer-Encoding"),
    ("chunked twice", request("POST", "/list", {"Transfer-Encoding": "chunked, chunked"}, chunked(b"abc")),
     400, "Transfer-Encoding"),
    ("Transfer-Encoding in HTTP/1.0", request("POST", "/list", {"Transfer-Encoding": "chunked"},
                                              chunked(b"abc"), version="HTTP/1.0"), 400, "Transfer-Encoding"),
    ("bad chunk size", request("POST", "/list", {"Transfer-Encoding": "chunked"}, b"zz\r\nabc\r\n0\r\n\r\n"),
     400, "chunked"),
    ("chunked body too large", request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked"}),
                                       chunked(*[b"a" * 65536] * 17)), 413, "larger than 1048576"),
    ("body cut short", request("POST", "/insert", dict(INSERT, **{"Content-Length": "100"}), b"stat=c.a"),
     400, "ended"),
    ("chunked body cut short", request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked"}),
                                       b"10\r\nstat=c.a"), 400, "ended"),
    ("headers cut short", b"GET /list HTTP/1.1\r\nHost: t\r\n", 400, "ended"),
    ("request line cut short", b"GET /lis", 400, "ended"),
]


@pytest.mark.parametrize("data,status,fragment", [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_requests_get_a_json_error_and_the_connection_closes(server, data, status, fragment):
    answer = only_answer(server, data)
    assert_json_error(answer, status, fragment)
    assert answer.headers["connection"] == "close"


def test_an_aborted_body_is_one_log_line_without_traceback(server):
    data = request("POST", "/insert", dict(INSERT, **{"Content-Length": "100"}), b"stat=c.aborted")
    assert_json_error(only_answer(server, data), 400, "ended after 14 of 100 bytes")
    server.wait_for_log(r"400 POST /insert: request body ended after 14 of 100 bytes")
    assert "Traceback" not in server.log


def test_a_chunked_form_is_read_like_a_normal_body(server):
    body = chunked(b"stat=c.ch", b"unked&value=", b"7&timestamp=%d" % (T0 + 1), trailer=b"X-Trailer: 1\r\n")
    data = request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked"}), body)
    data += request("GET", "/series?stat=c.chunked&start=%d&end=%d" % (T0, T0), {"Host": "t"})
    first, second = parse_answers(exchange(server.address, data))  # the same connection goes on
    assert first.status == 200, first
    assert {(s["stat"], s["value"]) for s in first.json()["stored"]} == {("c.chunked", 7), ("c.all", 7)}
    assert second.status == 200 and second.json()[0]["datapoints"] == [[7, T0]]


def test_chunk_extensions_are_accepted(server):
    body = b"5;name=value\r\nstat=\r\n8\r\nc.ext&va\r\n3\r\nlue\r\n2\r\n=1\r\n0\r\n\r\n"
    data = request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked"}), body)
    answer = only_answer(server, data)
    assert answer.status == 200 and answer.json()["value"] == 1, answer


def test_expect_100_continue(server):
    sock = connect(server.address)
    try:
        sock.sendall(request("POST", "/insert", dict(INSERT, **{"Content-Length": "18", "Expect":
                                                                "100-continue"})))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"stat=c.exp&value=2")
        sock.shutdown(socket.SHUT_WR)
        answer, = parse_answers(read_all(sock))
        assert answer.status == 200 and answer.json()["value"] == 2
    finally:
        sock.close()


def test_a_body_over_the_limit_is_refused_before_100_continue(server):
    data = request("POST", "/insert", dict(INSERT, **{"Content-Length": str(2 * 1024 * 1024),
                                                      "Expect": "100-continue"}))
    answer = only_answer(server, data)  # no "100 Continue" first: parse_answers sees one answer only
    assert_json_error(answer, 413, "larger than 1048576")


def test_pipelined_requests_and_leading_blank_lines(server):
    data = b"\r\n" + request("GET", "/list?schema=timers", {"Host": "t"}) * 2 + request(
        "GET", "/list?schema=timers", {"Host": "t", "Connection": "close"})
    answers = parse_answers(exchange(server.address, data))
    assert [(a.status, a.json()) for a in answers] == [(200, ["t.x"])] * 3


def test_absolute_form_target(server):
    answer = only_answer(server, request("GET", "http://torus.example:8080/list?schema=timers", {"Host": "t"}))
    assert (answer.status, answer.json()) == (200, ["t.x"])


def test_a_body_sent_slowly_in_pieces_is_read_in_full(server):
    sock = connect(server.address)
    try:
        sock.sendall(request("POST", "/insert", dict(INSERT, **{"Content-Length": "19"})))
        for piece in (b"stat=c.sl", b"ow&val", b"ue=3"):
            gevent.sleep(0.1)
            sock.sendall(piece)
        sock.shutdown(socket.SHUT_WR)
        answer, = parse_answers(read_all(sock))
        assert answer.status == 200 and answer.json()["value"] == 3
    finally:
        sock.close()
