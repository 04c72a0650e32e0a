"""gevent's pywsgi server, hardened for hostile clients: deadlines, a connection cap, JSON refusals.

pywsgi alone waits for ever on a client that sends nothing, sends its headers a byte at
a time, never finishes its body or never reads its answer, and queues connections past
its pool in the listen backlog, so a few hundred cheap sockets freeze it. Here:

* each request is read whole before the application runs, under a header deadline (from
  the connection, or from the first byte of a keep-alive request), a body deadline (from
  the end of the headers) and, between requests, an idle deadline; each write of an
  answer has a send deadline. A late request or body is answered 408; a silent or idle
  connection is closed without an answer;
* past ``max_connections`` open connections, a new one is answered 503 with Retry-After
  at once and closed; the deadlines free the slots slow clients hold;
* requests are parsed strictly by ``http_wire`` and everything torus refuses by itself is
  a JSON ``{"error": ..., "status": N}``, logged as one INFO line (no traceback); chunked
  bodies reach the application de-chunked, with a Content-Length.

The application stays a plain WSGI callable: this module only replaces how bytes come in.
Importing it loads gevent.pywsgi (and ssl): import it after monkey-patching.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import logging
import socket
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, List, Literal, Optional, Set

import gevent
from gevent.pool import Pool
from gevent.pywsgi import Input, WSGIHandler, WSGIServer

from .daemon import format_address
from .encoding import dumps
from .fd_limit import fit_connection_cap
from .http_wire import (Head, HttpError, HttpLimits, body_framing, error_answer, parse_field_line,
                        parse_request_line, printable, read_body, read_fields, read_request_line)

if TYPE_CHECKING:
    from greenlet import greenlet

log = logging.getLogger(__name__)

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: a connection closed after an error answer is read (and the input dropped) this long, so that
#: the close does not reset it before the client has read the answer ...
LINGER_SECONDS = 2.0
#: ... and at most this much (the rest of a refused body)
LINGER_BYTES = 4 * 1024 * 1024
#: connections refused at the cap that may linger at once; more are closed straight away
MAX_LINGERING = 64
#: seconds between two log lines about the connection cap
CAP_LOG_EVERY = 10.0


class _Expired(Exception):
    """A deadline passed (raised by gevent.Timeout into the waiting greenlet)."""


class _SendExpired(OSError):
    """The client did not take an answer in time; an OSError so that pywsgi drops the connection."""


def set_no_delay(sock: socket.socket) -> None:
    """TCP_NODELAY: pywsgi writes headers and body separately, and with Nagle's algorithm the body
    would wait for the client's delayed ACK, ~40 ms on every keep-alive request."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not a TCP socket: nothing to tune
        pass


def close_gently(sock: socket.socket, answer: bytes, send_timeout: float, linger: float) -> None:
    """Send a last answer, then read and drop what the client still sends for up to ``linger``
    seconds: closing with unread input would reset the connection, and the reset can reach the
    client before it has read the answer."""
    try:
        with gevent.Timeout(send_timeout, _Expired()):
            sock.sendall(answer)
        sock.shutdown(socket.SHUT_WR)
        left = LINGER_BYTES
        with gevent.Timeout(linger, _Expired()):  # time up: caught below, like a failed send
            while left > 0:
                data = sock.recv(min(left, 65536))
                if not data:
                    break
                left -= len(data)
    except (OSError, _Expired):
        pass


def tls_context(certfile: str, keyfile: Optional[str] = None) -> Any:
    """A server-side TLS context (gevent's, TLS 1.2 at least) for a certificate chain and key;
    TorusError naming the file when either cannot be loaded."""
    from gevent import ssl as gssl

    from .errors import TorusError
    context = gssl.create_default_context(gssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
        raise TorusError("cannot load the TLS certificate %s%s: %s" % (
            certfile, " with key %s" % keyfile if keyfile else "",
            getattr(err, "strerror", None) or err)) from None
    return context


def fit_fd_limit(limits: HttpLimits) -> HttpLimits:
    """``limits`` with a connection cap the open-file limit can hold (see ``fd_limit``)."""
    return dataclasses.replace(limits, max_connections=fit_connection_cap(limits.max_connections))


class HeaderView:
    """What pywsgi reads of a request's headers (``get``, ``getheader``, ``typeheader``,
    ``headers``), served from fields ``http_wire`` already checked: pywsgi's own parse
    through the email package costs more than all the rest of reading a request."""

    def __init__(self, head: Head):
        self._head = head

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self._head.values(name)
        return values[0] if values else default

    getheader = get

    @property
    def typeheader(self) -> Optional[str]:
        return self.get("content-type")

    @property
    def headers(self) -> List[str]:
        return ["%s: %s\r\n" % field for field in self._head.fields]


class TorusHandler(WSGIHandler):
    """One connection: each request read whole under its deadlines, then handed to pywsgi."""

    #: ETIMEDOUT is how a send deadline ends an answer: the client is gone, nothing to log
    ignored_socket_errors = WSGIHandler.ignored_socket_errors + (errno.ETIMEDOUT,)
    server: "TorusHTTPServer"
    served = 0  # requests answered on this connection
    body = b""

    def handle_one_request(self) -> Optional[Literal[True]]:
        """Wait for a request, read it under the deadlines, let pywsgi run the application.

        Replaces pywsgi's version, which reads without deadlines and answers its own errors in
        plain text. True: the connection waits for another request; None: it closes.
        """
        if self.rfile.closed or self.server.closed:
            return None
        limits = self.server.limits
        self.command = self.path = self.requestline = None
        self.body = b""
        started = time.monotonic()
        if not self._wait_for_bytes(limits.idle_timeout if self.served else limits.header_timeout):
            return None
        header_time = limits.header_timeout - (time.monotonic() - started if not self.served else 0)
        try:
            with gevent.Timeout(max(header_time, 0.0), _Expired(
                    "request headers not received within %gs" % limits.header_timeout)):
                head = self._read_head()
            if head is None:
                return None
            self._read_request_body(head)
        except HttpError as err:
            self._refuse(err.status, str(err))
            return None
        except _Expired as err:
            self._refuse(408, str(err))
            return None
        except OSError:  # reset by the client, or it did not take our 100 Continue: nobody to answer
            return None
        self.served += 1
        self.response_length = 0
        self.environ = self.get_environ()
        self.application = self.server.application
        # the send deadline as a socket timeout: free unless a write has to wait (see _sendall)
        self.socket.settimeout(limits.send_timeout)
        try:
            self.handle_one_response()
        finally:
            self.socket.settimeout(None)
        if self.close_connection or self.rfile.closed or self.server.closed:
            return None
        return True

    def _wait_for_bytes(self, seconds: float) -> bool:
        """True once the client has sent something; False when it closed or stayed silent
        ``seconds``. Idle connections wait here, so a stopping server cuts them short here."""
        waiting = self.server.waiting
        current = gevent.getcurrent()
        waiting.add(current)
        self.socket.settimeout(seconds)  # one wait for one byte: a socket timeout is enough, and free
        try:
            return bool(self.rfile.peek(1))
        except socket.timeout:
            log.debug("%s: nothing received within %gs: closed", self._peer(), seconds)
            return False
        except OSError:
            return False
        finally:
            self.socket.settimeout(None)
            waiting.discard(current)

    def _read_head(self) -> Optional[Head]:
        """The request line and header fields, checked (``http_wire.read_head``, with the request
        line known as soon as it is in, for the log line of a late header)."""
        line = read_request_line(self.rfile.readline)
        if line is None:
            return None
        self.requestline = line
        self.command, self.path, self.request_version = parse_request_line(line)
        head = Head(self.command, self.path, self.request_version,
                    [parse_field_line(field) for field in read_fields(self.rfile.readline)])
        # pywsgi reads headers through get/getheader/typeheader/headers only, which HeaderView has
        self.headers = HeaderView(head)  # type: ignore[assignment]
        connection = head.tokens("connection")
        if head.version == "HTTP/1.1":
            self.close_connection = "close" in connection
        else:
            self.close_connection = "keep-alive" not in connection
        return head

    def _read_request_body(self, head: Head) -> None:
        """The whole body into ``self.body`` under the body deadline (after 100 Continue if asked)."""
        limits = self.server.limits
        framing = body_framing(head, limits.max_body)
        if framing.length or framing.chunked:
            if head.version == "HTTP/1.1" and "100-continue" in head.tokens("expect"):
                self._send(CONTINUE)
            with gevent.Timeout(limits.body_timeout, _Expired(
                    "request body not received within %gs" % limits.body_timeout)):
                self.body = read_body(self.rfile.read, self.rfile.readline, framing, limits.max_body)
        self.content_length = len(self.body)

    def get_environ(self) -> Any:
        """pywsgi's environ, reading the body already received: plain, with its Content-Length."""
        environ = super().get_environ()
        # Input only calls read and readline on its file, which BytesIO has
        self.wsgi_input = Input(io.BytesIO(self.body), len(self.body))  # type: ignore[arg-type]
        environ["wsgi.input"] = self.wsgi_input
        environ["wsgi.input_terminated"] = True
        if self.body or "HTTP_TRANSFER_ENCODING" in environ:
            environ["CONTENT_LENGTH"] = str(len(self.body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # de-chunked already
        return environ

    def _send(self, data: bytes) -> None:
        """An interim answer (100 Continue) under the send deadline."""
        self.socket.settimeout(self.server.limits.send_timeout)
        try:
            self.socket.sendall(data)
        finally:
            self.socket.settimeout(None)

    def _sendall(self, data: bytes) -> None:
        """pywsgi's writes of an answer; one the client does not take within the send deadline
        (the socket timeout set around the answer) ends the connection with one log line."""
        try:
            # pywsgi's own writer: private, so its stubs leave it out
            super()._sendall(data)  # type: ignore[misc]
        except socket.timeout:
            log.info("%s %s %s: did not take the answer within %gs: closed", self._peer(), self.command,
                     printable(self.path or ""), self.server.limits.send_timeout)
            raise _SendExpired(errno.ETIMEDOUT, "answer not taken in time") from None

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request torus will not serve, log it in one line, close the connection."""
        request = "%s %s: " % (self.command, printable(self.path or "")) if self.command else ""
        log.info("%s %d %s%s", self._peer(), status, request, message)
        self.close_connection = True
        answer = error_answer(status, message)
        if self.command == "HEAD":  # the answer to HEAD has headers only
            answer = answer[:answer.index(b"\r\n\r\n") + 4]
        close_gently(self.socket, answer, self.server.limits.send_timeout, LINGER_SECONDS)

    def _send_error_response_if_possible(self, error_code: int) -> None:
        """pywsgi's last-resort answer (500 when the application failed), in JSON."""
        if self.response_length:
            self.close_connection = True
            return
        message = "internal error: see the torus log" if error_code >= 500 else "bad request"
        body = dumps({"error": message, "status": error_code})
        try:
            self.start_response("%d %s" % (error_code, HTTPStatus(error_code).phrase),
                                [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                 ("Connection", "close")])
            self.write(body)
        except OSError:
            self.close_connection = True

    def _peer(self) -> str:
        address = self.client_address
        return format_address(address) if isinstance(address, tuple) else str(address or "-")


class TorusHTTPServer(WSGIServer):
    """pywsgi's WSGIServer with ``TorusHandler``, a connection cap answered 503, and a stop that
    closes idle connections at once instead of waiting for them."""

    handler_class = TorusHandler

    def __init__(self, listener: Any, application: Any, limits: HttpLimits = HttpLimits(), **kwargs: Any):
        kwargs.setdefault("log", None)  # torus.web writes the access log
        kwargs.setdefault("error_log", logging.getLogger("torus.wsgi"))
        # an unbounded pool: it only tracks the greenlets for stop(); the cap is counted in handle(),
        # because a full pool would stop accepting and leave new connections waiting unanswered
        super().__init__(listener, application, spawn=Pool(), **kwargs)
        self.limits = limits
        self.connections = 0
        self.lingering = 0
        self.waiting: Set[greenlet] = set()
        self._refused = 0
        self._cap_logged = -CAP_LOG_EVERY

    def wrap_socket_and_handle(self, client_socket: socket.socket, address: Any) -> None:
        """TLS (``--certfile``): the handshake under the header deadline, so that a client that
        connects and says nothing cannot hold a greenlet; a failed one is one INFO line."""
        set_no_delay(client_socket)
        try:
            with gevent.Timeout(self.limits.header_timeout, _Expired("no TLS handshake within %gs"
                                                                     % self.limits.header_timeout)):
                # as gevent's own wrap_socket_and_handle: the stubs declare wrap_socket as a method
                # (it is a plain function) and ssl_args as optional (it is set when TLS is on)
                ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)  # type: ignore[misc, arg-type]
        except (OSError, ValueError, _Expired) as err:  # ssl.SSLError is an OSError
            log.info("%s: TLS handshake failed: %s", format_address(address)
                     if isinstance(address, tuple) else address, err)
            client_socket.close()
            return
        try:
            self.handle(ssl_socket, address)
        finally:
            ssl_socket.close()

    def handle(self, sock: socket.socket, address: Any) -> None:
        set_no_delay(sock)
        if self.connections >= self.limits.max_connections:
            self._refuse(sock)
            return
        self.connections += 1
        try:
            super().handle(sock, address)
        finally:
            self.connections -= 1

    def _refuse(self, sock: socket.socket) -> None:
        """At the cap: 503 with Retry-After at once, then close."""
        self._refused += 1
        now = time.monotonic()
        if now - self._cap_logged >= CAP_LOG_EVERY:
            log.warning("connection cap of %d reached (--max-connections): %d new connection(s) "
                        "answered 503 since the last message", self.limits.max_connections, self._refused)
            self._cap_logged, self._refused = now, 0
        answer = error_answer(503, "torus is serving its limit of %d connections: retry after %ds"
                              % (self.limits.max_connections, self.limits.retry_after),
                              [("Retry-After", str(self.limits.retry_after))])
        linger = LINGER_SECONDS if self.lingering < MAX_LINGERING else 0.0
        self.lingering += 1
        try:
            close_gently(sock, answer, self.limits.send_timeout, linger)
        finally:
            self.lingering -= 1

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop accepting, close the connections waiting for a request, let answers in flight end."""
        self.close()
        for waiter in list(self.waiting):
            gevent.kill(waiter)  # Greenlet.kill(block=False), for any greenlet
        super().stop(timeout=timeout)
