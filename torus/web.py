"""The torus WSGI application: ``http://host:port/<command>?<parameters>`` answered in JSON.

``make_app(holder, now=None)`` builds the application over a ``ConfigHolder``
(each request uses the configuration current when it starts, so a reload never
splits a request, and the engines of a configuration a reload replaced are
closed only once the requests using it have answered); ``now`` is a clock
(seconds since the epoch) that tests may freeze. The application is a plain WSGI callable, served by the ``torus``
command (``torus.http_server``: gevent's WSGIServer with deadlines, a connection
cap and strict request parsing) or by any gevent-aware WSGI server::

    TORUS_CONFIG=/etc/torus/base.py:/etc/torus/local.py \\
        gunicorn -k gevent 'torus.web:application'

``torus.web:application`` is built on first access from the files listed in
``TORUS_CONFIG`` (separated by ``os.pathsep``); importing the module alone
loads nothing.

Commands: /series (and its deprecated alias /data), /list, /properties,
/insert; /metrics (Prometheus text), /health and /ready (``torus.ops``); the
dashboard page at / and /ui with its files under /ui/static/ (``torus.dashboard``:
HTML, JS and CSS, served without a token); a
trailing slash is tolerated. Each request is counted in ``torus.metrics``. GET, HEAD and POST (a form body is read
like the query string) are served; /insert, which writes, takes POST only.
DELETE /series deletes stats (``deletion``; parameters in the query string).
``access.is_write(method, command)`` tells the requests that change data.
OPTIONS answers a CORS pre-flight (see ``cors`` for the origins allowed). Every
answer is ``application/json``; errors are ``{"error": ..., "status": N}``
(plus ``"parameter"`` when one parameter is to blame): 400 bad parameter, 401
no valid token (when the configuration has ``TOKENS``: see ``access``, checked
after routing and before the body is read), 403 token out of scope or write
from a web page not allowed, 404 unknown command or schema, 405 method,
413 body too large, 503 storage unavailable, 500 anything unexpected (logged
with its traceback). A body is read with its Content-Length, or to its end when
the server ends the input itself (de-chunked); one that ends early is a 400.
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from kairos import BackendError, InvalidValue, KairosError, UnknownInterval

from . import access, cors, dashboard, deletion, endpoints, insert, metrics, queries, turns
from .cli import setup_logging
from .config import ConfigHolder, Configuration
from .encoding import RawAnswer, dumps
from .graphite import routes as graphite_routes
from .errors import ConfigError, TorusError
from .http_wire import MAX_BODY, HttpError
from .ops import PATHS as OPS_PATHS, Ops
from .params import ParameterError, Params

log = logging.getLogger(__name__)
access_log = logging.getLogger("torus.access")

Handler = Callable[[Configuration, Params, float], Any]
COMMANDS: Dict[str, Handler] = {
    "series": queries.series,
    "data": queries.series,  # deprecated name of /series (seed 000)
    "list": endpoints.list_stats,
    "properties": endpoints.properties,
    "insert": insert.insert,
}
METHODS = ("GET", "HEAD", "POST", "OPTIONS")
#: commands that write: POST only (a GET must never change data), with the write CORS policy
#: (one list with the scopes of ``access``, which also counts every DELETE as a write)
WRITES = access.WRITE_COMMANDS
WRITE_METHODS = ("POST", "OPTIONS")
#: (method, command) answered by a handler of its own, each a write (DELETE /series deletes)
METHOD_COMMANDS: Dict[Tuple[str, str], Handler] = {
    ("DELETE", "series"): deletion.delete_series,
}
CONFIG_ENV = "TORUS_CONFIG"
REASONS = {200: "OK", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


def allowed_methods(command: str) -> str:
    """The Allow header of a command: its read or write methods, plus its own (DELETE)."""
    own = [method for method, name in METHOD_COMMANDS if name == command]
    return ", ".join((WRITE_METHODS if command in WRITES else METHODS) + tuple(own))


def client_address(environ: Dict[str, Any]) -> str:
    """The first address of X-Forwarded-For, else the peer's address."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    first = forwarded.split(",", 1)[0].strip()
    return first or environ.get("REMOTE_ADDR", "-")


def _utf8(text: str, what: str) -> str:
    """WSGI hands URL parts over as latin-1; re-read them as UTF-8."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ParameterError(what, "is not valid UTF-8") from None


def error_body(status: int, err: BaseException) -> Dict[str, Any]:
    body: Dict[str, Any] = {"error": str(err), "status": status}
    parameter = getattr(err, "parameter", None)
    if parameter:
        body["parameter"] = parameter
    return body


class TorusApp:
    """The WSGI callable."""

    def __init__(self, holder: ConfigHolder, now: Optional[Callable[[], float]] = None):
        self.holder = holder
        self.now = now or time.time
        self.ops = Ops(holder, "torus")

    def __call__(self, environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # SQLite's reads never let the other connections in: take turns with them first
        # (``turns``); without gevent's patching there is nothing to share, and no wait
        turns.wait_for_turn()
        started = time.perf_counter()
        with self.holder.lease() as config:  # a reload closes this one's engines after the answer
            status, answer, headers = self.respond(environ, config)
        writes = access.is_write(environ.get("REQUEST_METHOD", "GET").upper(),
                                 environ.get("PATH_INFO", "").strip("/"))
        content_type = "application/json"
        try:
            if isinstance(answer, RawAnswer):
                body, content_type = answer.body, answer.content_type
            else:
                body = b"" if status == 204 else dumps(answer)
        except Exception as err:  # a value no encoder can write (e.g. a self-referencing structure)
            log.exception("cannot encode the answer to %s", environ.get("PATH_INFO"))
            status, headers, content_type = 500, [], "application/json"
            body = dumps({"error": "internal error: cannot encode the answer: %s: %s"
                          % (type(err).__name__, err), "status": 500})
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + headers
        origin = cors.allowed_origin(config, writes)
        if origin:
            headers.append(("Access-Control-Allow-Origin", origin))
        start_response("%d %s" % (status, REASONS.get(status, "")), headers)
        if config.debug:
            query = environ.get("QUERY_STRING", "")
            access_log.info("%s %d %.1fms %s %s%s%s", client_address(environ), status,
                            (time.perf_counter() - started) * 1000, environ.get("REQUEST_METHOD"),
                            environ.get("PATH_INFO", ""), "?" + query if query else "",
                            " token=%s" % environ["torus.token"] if "torus.token" in environ else "")
        metrics.observe_request(endpoint_label(environ.get("PATH_INFO", "").strip("/")), status,
                                time.perf_counter() - started,
                                metrics.datapoints(answer) if status == 200 else 0)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [body]

    def respond(self, environ: Dict[str, Any],
                config: Configuration) -> Tuple[int, Any, List[Tuple[str, str]]]:
        """``(status, JSON-able answer, extra headers)`` for one request; never raises."""
        try:
            method = environ.get("REQUEST_METHOD", "GET").upper()
            command = environ.get("PATH_INFO", "").strip("/")
            allowed = allowed_methods(command)
            if method == "OPTIONS":
                return 204, None, [("Allow", allowed), ("Access-Control-Allow-Methods", allowed),
                                   ("Access-Control-Allow-Headers", "Content-Type, Authorization")]
            own = METHOD_COMMANDS.get((method, command))
            if own is not None:  # DELETE /series: parameters in the query string only
                cors.check_write_origin(config, environ, "%s /%s" % (method, command))
                return self.run(own, config, environ, method, command)
            if dashboard.is_dashboard(command):  # the page and its files: no token needed
                return dashboard.answer(command, method, environ)
            if method not in METHODS:
                raise HttpError(405, "method %s is not allowed: use %s"
                                % (method, "POST" if command in WRITES else "GET or POST"), allowed)
            if command in OPS_PATHS:  # /metrics, /health, /ready (torus.ops)
                # with TOKENS, /metrics needs a read token; /health and /ready stay open
                access.authorize(config, environ, method, command, self.now())
                status, answer = self.ops.answer(command)
                return status, answer, []
            handler = COMMANDS.get(command) or graphite_routes.handler(command)
            if handler is None:
                raise HttpError(404, "unknown command %r: use /series, /list, /properties, /insert "
                                     "or graphite-web's /render, /metrics/find, /tags, /functions"
                                % ("/" + command))
            if command in WRITES:
                if method not in WRITE_METHODS:
                    raise HttpError(405, "method %s is not allowed on /%s, which writes data: use "
                                         "POST" % (method, command), allowed)
                cors.check_write_origin(config, environ)
            return self.run(handler, config, environ, method, command)
        except HttpError as err:
            extra = [("Allow", err.allow)] if err.status == 405 else []
            return err.status, error_body(err.status, err), extra
        except ConfigError as err:  # the configuration, not the client, is wrong
            log.error("configuration error answering %s: %s", environ.get("PATH_INFO"), err)
            return 500, error_body(500, err), []
        except TorusError as err:  # BadRequest, NotFound, Unauthorized (with its challenge)
            status = getattr(err, "status", 400)
            if status in (401, 403):
                log.info("%s %d %s %s: %s", client_address(environ), status,
                         environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), err)
            headers = access.challenges(environ) if status == 401 else []
            return status, error_body(status, err), headers or list(getattr(err, "headers", []))
        except BackendError as err:
            log.error("storage failed answering %s?%s: %s", environ.get("PATH_INFO"),
                      environ.get("QUERY_STRING", ""), err)
            return 503, error_body(503, err), []
        except (InvalidValue, UnknownInterval) as err:
            return 400, error_body(400, err), []
        except KairosError as err:
            log.error("kairos error answering %s: %s", environ.get("PATH_INFO"), err)
            return 500, error_body(500, err), []
        except Exception as err:
            log.exception("unexpected error answering %s?%s", environ.get("PATH_INFO"),
                          environ.get("QUERY_STRING", ""))
            return 500, {"error": "internal error: %s: %s" % (type(err).__name__, err),
                         "status": 500}, []

    def run(self, handler: Handler, config: Configuration, environ: Dict[str, Any], method: str,
            command: str) -> Tuple[int, Any, List[Tuple[str, str]]]:
        """Access control (``torus.access``: 401/403 before the body is read), then the command."""
        grant = access.authorize(config, environ, method, command, self.now())
        params = self.params(environ, method)
        access.check_request(grant, method, command, params)
        return 200, handler(config, params, self.now()), []

    @staticmethod
    def params(environ: Dict[str, Any], method: str) -> Params:
        queries_ = [_utf8(environ.get("QUERY_STRING", ""), "query string")]
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if method == "POST" and content_type == "application/x-www-form-urlencoded":
            raw = read_body(environ)
            if raw:
                try:
                    queries_.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise ParameterError("body", "is not valid UTF-8") from None
        return Params.from_query(*queries_)


def endpoint_label(command: str) -> str:
    """The ``endpoint`` label of a request: its command when torus has it, else "other" (a
    label value per unknown path would let any client grow the metrics without bound)."""
    if command in COMMANDS or command in OPS_PATHS or command in graphite_routes.ROUTES:
        return command
    if dashboard.is_dashboard(command):
        return "ui"
    for prefix in graphite_routes.NAMED:
        if command.startswith(prefix):
            return prefix + "*"
    return "other"


def read_body(environ: Dict[str, Any]) -> bytes:
    """The request body, up to ``MAX_BODY`` bytes (413 beyond), under any WSGI server.

    With a Content-Length, exactly that many bytes; without one, an input the server ends
    by itself (``wsgi.input_terminated``: a chunked body de-chunked by gunicorn) is read to
    its end. A body that ends early or cannot be read is the client's fault: 400, no traceback.
    """
    text = environ.get("CONTENT_LENGTH") or ""
    if text:
        if not re.fullmatch(r"[0-9]+", text):
            raise HttpError(400, "Content-Length %r is not a number of bytes" % text[:40])
        if len(text) > 18 or int(text) > MAX_BODY:
            raise HttpError(413, "request body of %s bytes is larger than %d" % (text[:40], MAX_BODY))
        length: Optional[int] = int(text)
        wanted = length
    elif environ.get("wsgi.input_terminated"):
        length, wanted = None, MAX_BODY + 1
    else:
        return b""
    try:
        raw = environ["wsgi.input"].read(wanted) if wanted else b""
    except (OSError, ValueError) as err:
        raise HttpError(400, "request body could not be read: %s" % err) from None
    if len(raw) > MAX_BODY:
        raise HttpError(413, "request body is larger than %d" % MAX_BODY)
    if length is not None and len(raw) < length:
        raise HttpError(400, "request body ended after %d of %d bytes" % (len(raw), length))
    return raw


def make_app(holder: ConfigHolder, now: Optional[Callable[[], float]] = None) -> TorusApp:
    """The WSGI application serving ``holder``'s configuration (``now``: injectable clock)."""
    return TorusApp(holder, now=now)


def app_from_env(environ: Optional[Mapping[str, str]] = None) -> TorusApp:
    """The application for the configuration files listed in ``$TORUS_CONFIG``."""
    environ = os.environ if environ is None else environ
    paths = [path for path in environ.get(CONFIG_ENV, "").split(os.pathsep) if path.strip()]
    if not paths:
        raise ConfigError("set %s to the configuration file(s) to serve, separated by %r"
                          % (CONFIG_ENV, os.pathsep))
    holder = ConfigHolder(paths)
    setup_logging(holder.current.debug)
    return make_app(holder)


_APPLICATION: Optional[TorusApp] = None


def __getattr__(name: str) -> Any:
    """``torus.web.application``: built from $TORUS_CONFIG on first access (PEP 562)."""
    global _APPLICATION
    if name == "application":
        if _APPLICATION is None:
            _APPLICATION = app_from_env()
        return _APPLICATION
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
