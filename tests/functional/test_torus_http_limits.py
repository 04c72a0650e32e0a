"""A real torus drops clients that stall it and answers over its connection cap at once.

Header, body, keep-alive idle and send timeouts are shortened to 1 s so each test is
quick; the slowloris test runs torus with its defaults.
"""
import resource
import time
import uuid

import gevent
import pytest

from tests.functional.raw_http import (FORM, assert_json_error, connect, parse_answers, read_all, read_answer,
                                       request)
from tests.functional.torus_support import POINTS, T0, TorusProcess, cleanup, load, write_config

HOST = {"Host": "t"}
QUICK = ["--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "1", "--send-timeout", "1"]
HUGE = 30 * 1000 * 1000
EXTRA = "TRANSFORMS['huge'] = lambda row: 'x' * %d\n" % HUGE
#: slow clients of the slowloris test
SLOW = 1100


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torus_limits")
    path = write_config(folder / "torus_limits_conf.py", "sqlite", folder, "t" + uuid.uuid4().hex[:10], EXTRA)
    config = load([path], POINTS)
    yield path
    cleanup(config)


@pytest.fixture(scope="module")
def quick(config_path):
    process = TorusProcess([config_path], args=QUICK)
    yield process
    assert process.stop() == 0, process.log
    assert "Traceback" not in process.log, process.log


def drip(sock, data, every=0.2):
    """Send ``data`` a byte at a time until it is all sent or torus stops taking it."""
    try:
        for byte in data:
            sock.sendall(bytes([byte]))
            gevent.sleep(every)
    except OSError:
        pass


def answers_until_closed(sock):
    """The answers torus sends before it closes the connection, and how long it took to close."""
    started = time.monotonic()
    data = read_all(sock)
    return parse_answers(data), time.monotonic() - started


def test_header_timeout_answers_408_to_a_slow_sender(quick):
    sock = connect(quick.address, timeout=5)
    try:
        sock.sendall(b"GET /list HTTP/1.1\r\n")
        dripper = gevent.spawn(drip, sock, b"X-Slow: " + b"a" * 1000)
        answers, elapsed = answers_until_closed(sock)
        dripper.kill()
    finally:
        sock.close()
    assert len(answers) == 1
    assert_json_error(answers[0], 408, "header")
    assert answers[0].headers["connection"] == "close"
    assert elapsed >= 0.8
    quick.wait_for_log(r"408 GET /list: request headers not received within 1s")


def test_a_silent_connection_is_closed_after_the_header_timeout(quick):
    sock = connect(quick.address, timeout=5)
    try:
        answers, elapsed = answers_until_closed(sock)
    finally:
        sock.close()
    assert answers == [] and elapsed >= 0.8  # nothing was asked, nothing is answered


def test_body_timeout_answers_408_to_a_slow_body(quick):
    sock = connect(quick.address, timeout=5)
    try:
        sock.sendall(request("POST", "/insert", dict(HOST, **{"Content-Type": FORM, "Content-Length": "100"}),
                             b"stat=c.a&value=1"))
        dripper = gevent.spawn(drip, sock, b"0" * 84)
        answers, elapsed = answers_until_closed(sock)
        dripper.kill()
    finally:
        sock.close()
    assert len(answers) == 1
    assert_json_error(answers[0], 408, "body")
    assert elapsed >= 0.8


def test_idle_keep_alive_connections_are_closed(quick):
    sock = connect(quick.address, timeout=5)
    try:
        for _ in range(2):  # a request within the idle timeout keeps the connection
            sock.sendall(request("GET", "/list?schema=timers", HOST))
            answer = read_answer(sock)
            assert (answer.status, answer.json()) == (200, ["t.x"])
            gevent.sleep(0.3)
        answers, elapsed = answers_until_closed(sock)
    finally:
        sock.close()
    assert answers == [] and elapsed >= 0.5  # closed quietly, no 408 to a request never started


def test_a_client_that_does_not_read_its_answer_is_dropped(quick):
    sock = connect(quick.address, timeout=10, rcvbuf=4096)
    try:
        sock.sendall(request("GET", "/series?stat=huge(c.a)&start=%d&end=%d" % (T0, T0), HOST))
        quick.wait_for_log(r"did not take the answer within 1s", timeout=20)
        received = len(read_all(sock))  # what the kernel buffers held, then the end
    finally:
        sock.close()
    assert received < HUGE


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip("needs %d file descriptors, the hard limit is %d" % (needed, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_a_thousand_slow_clients_do_not_starve_normal_ones(config_path):
    raise_fd_limit(2 * SLOW + 1000)  # torus inherits the limit
    process = TorusProcess([config_path])  # default timeouts and cap
    slow = []
    try:
        for number in range(SLOW):  # half send nothing, half start a request and drip it
            sock = connect(process.address)
            if number % 2:
                sock.sendall(b"GET /list HTTP/1.1\r\nX-Slow: ")
            slow.append(sock)
        drippers = [gevent.spawn(drip, sock, b"a" * 100, every=1.0) for sock in slow[1::2]]
        with gevent.Timeout(5, AssertionError("a normal request waited behind the slow clients")):
            assert process.get("/list?schema=timers") == (200, ["t.x"])
            status, body = process.get("/series?stat=c.a&start=%d&end=%d" % (T0, T0))
            assert (status, body[0]["datapoints"]) == (200, [[3, T0]])
        for sock in slow:  # still hanging on: torus neither answered nor closed them
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
        gevent.killall(drippers)
    finally:
        for sock in slow:
            sock.close()
        code = process.stop()
    assert code == 0, process.log
    assert "Traceback" not in process.log


def test_over_the_cap_503_at_once_then_timeouts_free_the_slots(config_path):
    process = TorusProcess([config_path], args=["--max-connections", "20", "--header-timeout", "3"])
    idle = [connect(process.address) for _ in range(20)]
    try:
        with gevent.Timeout(2, AssertionError("the connection over the cap was not answered at once")):
            sock = connect(process.address)
            sock.sendall(request("GET", "/list?schema=timers", HOST))
            answers = parse_answers(read_all(sock))
            sock.close()
        assert len(answers) == 1
        assert_json_error(answers[0], 503, "20 connections")
        assert answers[0].headers["retry-after"].isdigit()
        assert answers[0].headers["connection"] == "close"
        process.wait_for_log(r"connection cap of 20 reached")

        for sock in idle:  # the header timeout closes the silent connections...
            assert read_all(sock) == b""
        # ... and their slots serve again
        assert process.get("/list?schema=timers") == (200, ["t.x"])
    finally:
        for sock in idle:
            sock.close()
        code = process.stop()
    assert code == 0, process.log
    assert "Traceback" not in process.log


def test_stop_does_not_wait_for_idle_keep_alive_connections(config_path):
    process = TorusProcess([config_path])  # idle timeout 60 s, stop timeout 10 s
    sock = connect(process.address)
    try:
        sock.sendall(request("GET", "/list?schema=timers", HOST))
        assert read_answer(sock).status == 200
        started = time.monotonic()
        assert process.stop() == 0, process.log
        assert time.monotonic() - started < 5  # not the 10 s given to requests in flight
        assert read_all(sock) == b""
    finally:
        sock.close()


def test_a_cap_the_open_file_limit_cannot_hold_is_lowered(config_path):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (600, 600))

    process = TorusProcess([config_path], args=["--max-connections", "5000"], preexec_fn=low_limit)
    try:
        process.wait_for_log(r"the limit of 600 open files allows 344 connections: --max-connections "
                             r"lowered from 5000")
        assert process.get("/list?schema=timers") == (200, ["t.x"])
    finally:
        assert process.stop() == 0, process.log
