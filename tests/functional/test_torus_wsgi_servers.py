"""``torus.web`` under a plain WSGI server, and ``TorusHTTPServer`` around any WSGI application,
both in this process on real sockets.

The application reads bodies the way any WSGI server hands them over (a Content-Length,
or an input the server ends itself after de-chunking, as gunicorn does), and a body cut
short is the client's 400, not a 500 with a traceback.
"""
import logging
import uuid

import pytest
from gevent.pywsgi import WSGIServer

from tests.functional.raw_http import FORM, assert_json_error, chunked, exchange, parse_answers, request
from tests.functional.torus_support import POINTS, cleanup, load, write_config
from torus.config import ConfigHolder
from torus.http_server import TorusHTTPServer
from torus.web import make_app

INSERT = {"Host": "t", "Content-Type": FORM}


@pytest.fixture(scope="module")
def holder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torus_wsgi")
    path = write_config(folder / "torus_wsgi_conf.py", "sqlite", folder, "t" + uuid.uuid4().hex[:10])
    config = load([path], POINTS)
    yield ConfigHolder([path])
    cleanup(config)


@pytest.fixture
def plain_server(holder):
    server = WSGIServer(("127.0.0.1", 0), make_app(holder), log=None, error_log=None)
    server.start()
    yield server
    server.stop()


def test_a_chunked_form_under_plain_pywsgi(plain_server):
    data = request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked", "Connection": "close"}),
                   chunked(b"stat=c.plain&", b"value=4"))
    answer, = parse_answers(exchange(plain_server.address, data))
    assert answer.status == 200 and answer.json()["value"] == 4


def test_a_body_cut_short_under_plain_pywsgi_is_a_400(plain_server, caplog):
    data = request("POST", "/insert", dict(INSERT, **{"Content-Length": "100"}), b"stat=c.cut")
    with caplog.at_level(logging.INFO):
        answer, = parse_answers(exchange(plain_server.address, data))
    assert_json_error(answer, 400, "request body could not be read")
    assert not [record for record in caplog.records if record.exc_info]


def test_a_body_over_the_limit_under_plain_pywsgi_is_a_413(plain_server):
    data = request("POST", "/insert", dict(INSERT, **{"Transfer-Encoding": "chunked", "Connection": "close"}),
                   chunked(*[b"a" * 65536] * 17))
    answer, = parse_answers(exchange(plain_server.address, data))
    assert_json_error(answer, 413, "larger than 1048576")


def test_an_application_crash_is_a_json_500():
    def crash(environ, start_response):
        raise RuntimeError("boom")

    server = TorusHTTPServer(("127.0.0.1", 0), crash)
    server.start()
    try:
        answer, = parse_answers(exchange(server.address, request("GET", "/x", {"Host": "t"})))
    finally:
        server.stop()
    assert_json_error(answer, 500, "internal error")
    assert answer.headers["connection"] == "close"


def test_any_application_gets_chunked_bodies_plain():
    seen = {}

    def echo(environ, start_response):
        seen.update(length=environ.get("CONTENT_LENGTH"), chunked="HTTP_TRANSFER_ENCODING" in environ,
                    body=environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    server = TorusHTTPServer(("127.0.0.1", 0), echo)
    server.start()
    try:
        data = request("PUT", "/x", {"Host": "t", "Transfer-Encoding": "chunked", "Connection": "close"},
                       chunked(b"abc", b"defg"))
        answer, = parse_answers(exchange(server.address, data))
    finally:
        server.stop()
    assert answer.status == 200
    assert seen == {"length": "7", "chunked": False, "body": b"abcdefg"}
