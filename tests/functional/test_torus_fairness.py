"""One keep-alive connection cannot hold a torus process: every request lets the others run.

On SQLite the driver never waits through gevent, so a request runs from start to end without
a switch; a client that sends its next request as soon as the answer leaves (wrk, a pipeline)
would otherwise keep the greenlet of its connection busy while every other connection waits
(issue 15: the 1-stat /series p99 on SQLite was hundreds of milliseconds under wrk).
"""
import select

import pytest

from tests.functional import raw_http
from tests.functional.torus_support import T0, serving

PIPELINED = 300


@pytest.fixture(scope="module")
def torus(tmp_path_factory):
    yield from serving(tmp_path_factory, "fairness", "sqlite")


def _request(path: str) -> bytes:
    return raw_http.request("GET", path, {"Host": "torus"})


def test_a_pipelined_connection_does_not_starve_another_one(torus):
    path = "/series?stat=c.a&interval=minute&start=%d&end=%d" % (T0, T0 + 120)
    busy = raw_http.connect(torus.address)
    other = raw_http.connect(torus.address)
    try:
        busy.sendall(_request(path) * PIPELINED)
        other.sendall(_request(path))
        busy_data, other_data = b"", b""
        answered_before_other = None
        while answered_before_other is None or busy_data.count(b"HTTP/1.1 200") < PIPELINED:
            ready, _, _ = select.select([busy, other], [], [], 20)
            assert ready, "torus stopped answering"
            if busy in ready:
                chunk = busy.recv(1 << 20)
                assert chunk, "torus closed the pipelined connection"
                busy_data += chunk
            if other in ready and answered_before_other is None:
                other_data += other.recv(1 << 20)
                if b"\r\n\r\n" in other_data:
                    answered_before_other = busy_data.count(b"HTTP/1.1 200")
        assert other_data.startswith(b"HTTP/1.1 200")
        # served among the pipelined requests, not after the last of them
        assert answered_before_other < PIPELINED / 2, answered_before_other
    finally:
        busy.close()
        other.close()
