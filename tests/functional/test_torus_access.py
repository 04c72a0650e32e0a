"""Access control and TLS on a real torus process: tokens (Bearer and Basic as Grafana sends it),
scopes on every endpoint, expiry, reload on SIGHUP, HTTPS with a self-signed certificate."""
import base64
import datetime as dt
import json
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from tests.functional.torus_support import (POINTS, T0, TorusProcess, cleanup, load, write_config)
from torus.access import token_digest

READER = "torus_reader-" + uuid.uuid4().hex
WRITER = "torus_writer-" + uuid.uuid4().hex
EXPIRED = "torus_expired-" + uuid.uuid4().hex
WRONG = "torus_wrong-" + uuid.uuid4().hex

TOKENS = '''
TOKENS = {
    'reader': {'sha256': %r, 'read': ['c.*', 'g.x']},
    'writer': {'sha256': %r, 'read': ['i.*'], 'write': ['i.a']},
    'expired': {'sha256': %r, 'read': ['*'], 'expires': '2020-01-01'},
}
''' % (token_digest(READER), token_digest(WRITER), token_digest(EXPIRED))

WINDOW = "start=%d&end=%d" % (T0, T0 + 120)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def grafana(token, user="grafana"):
    """What Grafana's Graphite data source sends with Basic auth on."""
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()}


@pytest.fixture(scope="module")
def torus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    path = write_config(folder / "access_conf.py", "sqlite", folder, "t" + uuid.uuid4().hex[:10],
                        TOKENS)
    config = load([path], POINTS)
    process = TorusProcess([path])
    yield process
    code = process.stop()
    cleanup(config)
    assert code == 0, process.log


def form(**fields):
    return "&".join("%s=%s" % item for item in fields.items()).encode()


#: (method, path, body, the token allowed, a token out of scope); the Graphite paths answer
#: only the names in scope (test_graphite_answers_only_the_names_in_scope)
ENDPOINTS = [
    ("GET", "/series?stat=c.a&" + WINDOW, None, READER, WRITER),
    ("GET", "/series?stat=sum(c.a,c.b)&" + WINDOW, None, READER, WRITER),
    ("GET", "/data?stat=c.a&" + WINDOW, None, READER, WRITER),
    ("POST", "/series", form(stat="g.x", start=T0, end=T0 + 60), READER, WRITER),
    ("GET", "/list", None, READER, None),
    ("GET", "/properties?stat=c.a", None, READER, WRITER),
    ("POST", "/insert", form(stat="i.a", value=1, timestamp=T0), WRITER, READER),
    ("DELETE", "/series?stat=i.a&dry_run=true", None, WRITER, READER),
    # Graphite paths: the token is checked here; names out of scope are left out of what /render
    # and /metrics/find answer (torus.access.readable), not refused
    ("GET", "/render?target=c.a&format=json&from=%d&until=%d" % (T0, T0 + 120), None, READER,
     None),
    ("POST", "/render", form(target="c.*", format="json", **{"from": T0}), READER, None),
    ("GET", "/metrics/find?query=*", None, READER, None),
    ("GET", "/metrics/expand?query=*", None, READER, None),
    ("GET", "/metrics/index.json", None, READER, None),
    ("GET", "/tags", None, READER, None),
    ("GET", "/tags/autoComplete/tags", None, READER, None),
    ("GET", "/metrics", None, READER, None),
    ("GET", "/functions", None, READER, None),
    ("GET", "/version", None, READER, None),
]
def _values(endpoint):
    return endpoint.values if hasattr(endpoint, "values") else endpoint


IDS = ["%s %s" % (_values(e)[0], _values(e)[1].split("&")[0]) for e in ENDPOINTS]
OUT_OF_SCOPE = [(e, i) for e, i in zip(ENDPOINTS, IDS) if _values(e)[4] is not None]


def call(torus, method, path, body, headers=None):
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return torus.request(path, method=method, data=body, headers=headers)


@pytest.mark.parametrize("method, path, body, allowed, outside", ENDPOINTS, ids=IDS)
def test_every_endpoint_needs_a_valid_token(torus, method, path, body, allowed, outside):
    for headers, why in [(None, "needs a token"), (bearer(WRONG), "not valid"),
                         (grafana(WRONG), "not valid"), (bearer(EXPIRED), "expired on 2020-01-02"),
                         ({"Authorization": "Digest abc"}, "use 'Bearer <token>'")]:
        status, answer_headers, raw = call(torus, method, path, body, headers)
        answer = json.loads(raw)
        assert (status, answer["status"]) == (401, 401), (headers, raw)
        assert why in answer["error"]
        assert 'Basic realm="torus"' in answer_headers.get_all("WWW-Authenticate")
        assert answer_headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("method, path, body, allowed, outside", ENDPOINTS, ids=IDS)
def test_every_endpoint_serves_a_token_in_scope(torus, method, path, body, allowed, outside):
    for headers in (bearer(allowed), grafana(allowed), grafana(allowed, user="anyone"),
                    grafana("", user=allowed)):  # curl -u TOKEN:
        status, _headers, raw = call(torus, method, path, body, headers)
        assert status == 200, (headers, raw)


@pytest.mark.parametrize("method, path, body, allowed, outside", [e for e, _ in OUT_OF_SCOPE],
                         ids=[i for _, i in OUT_OF_SCOPE])
def test_every_endpoint_refuses_a_token_out_of_scope(torus, method, path, body, allowed, outside):
    status, _headers, raw = call(torus, method, path, body, bearer(outside))
    answer = json.loads(raw)
    assert (status, answer["status"]) == (403, 403), raw
    assert "may not" in answer["error"]


def test_reads_out_of_scope_are_refused_name_by_name(torus):
    status, body = torus.get("/series?stat=t.x&" + WINDOW, headers=bearer(READER))
    assert status == 403 and body["parameter"] == "stat" and "'t.x'" in body["error"]
    status, body = torus.get("/series?stat=sum(c.a,t.x)&" + WINDOW, headers=bearer(READER))
    assert status == 403 and "'t.x'" in body["error"]
    status, body = torus.get("/properties?stat=c.a&stat=s.x", headers=bearer(READER))
    assert status == 403 and "'s.x'" in body["error"]


def test_series_answers_the_data_in_scope(torus):
    status, body = torus.get("/series?stat=c.a&" + WINDOW, headers=grafana(READER))
    assert status == 200 and body[0]["datapoints"][:2] == [[3, T0], [2, T0 + 60]]


def test_list_shows_only_the_names_in_scope(torus):
    assert torus.get("/list", headers=bearer(READER)) == (200, ["c.a", "c.all", "c.b", "g.x"])
    assert torus.get("/list?schema=timers", headers=bearer(READER)) == (200, [])
    status, names = torus.get("/list", headers=bearer(WRITER))
    assert status == 200 and all(name.startswith("i.") for name in names)


def test_insert_needs_write_scope_for_the_stat_written(torus):
    status, _headers, raw = call(torus, "POST", "/insert", form(stat="i.b", value=1, timestamp=T0),
                                 bearer(WRITER))
    assert status == 403 and "may not write 'i.b'" in json.loads(raw)["error"]
    status, _headers, raw = call(torus, "POST", "/insert", form(stat="i.a", value=2, timestamp=T0),
                                 bearer(WRITER))
    assert status == 200 and json.loads(raw)["stored"][0]["stat"] == "i.a"
    # the writer reads what it wrote (read i.*); the reader may not (read c.*, g.x)
    assert torus.get("/series?stat=i.a&start=%d&end=%d" % (T0, T0 + 60),
                     headers=bearer(WRITER))[0] == 200
    assert torus.get("/series?stat=i.a&start=%d&end=%d" % (T0, T0 + 60),
                     headers=bearer(READER))[0] == 403


def test_health_probes_need_no_token(torus):
    assert torus.get("/health")[0] == 200
    assert torus.get("/ready")[0] == 200
    assert torus.get("/health", headers=bearer(WRONG))[0] == 200  # credentials are not looked at


def test_delete_needs_write_scope_for_every_stat(torus):
    status, body = torus.get("/series?stat=i.a&stat=i.b&dry_run=true", method="DELETE",
                             headers=bearer(WRITER))
    assert status == 403 and "may not write 'i.b'" in body["error"]
    status, body = torus.get("/series?stat=c.a&dry_run=true", method="DELETE", headers=bearer(READER))
    assert status == 403 and "may not write" in body["error"]


def test_preflight_and_unknown_paths_need_no_token(torus):
    status, headers, _raw = torus.request("/series", method="OPTIONS")
    assert status == 204 and "Authorization" in headers["Access-Control-Allow-Headers"]
    assert torus.get("/nowhere")[0] == 404


def test_refusals_are_logged_with_the_client_and_served_requests_name_the_token(torus):
    torus.get("/list", headers=bearer(WRONG))
    torus.get("/list", headers=bearer(READER))
    torus.wait_for_log(r"127\.0\.0\.1 401 GET /list: the token is not valid")
    torus.wait_for_log(r"200 .* GET /list token=reader")
    assert WRONG not in torus.log and READER not in torus.log


# -- reload -----------------------------------------------------------------------------
def test_sighup_swaps_the_tokens(tmp_path):
    first, second = "torus_first-" + uuid.uuid4().hex, "torus_second-" + uuid.uuid4().hex
    storage = "t" + uuid.uuid4().hex[:10]
    path = tmp_path / "reload_conf.py"

    def configure(extra):
        write_config(path, "sqlite", tmp_path, storage, extra)

    configure("TOKENS = {'first': {'sha256': %r, 'read': ['*']}}\n" % token_digest(first))
    config = load([str(path)], POINTS)
    server = TorusProcess([str(path)])
    try:
        assert server.get("/list", headers=bearer(first))[0] == 200
        assert server.get("/list", headers=bearer(second))[0] == 401
        configure("TOKENS = {'second': {'sha256': %r, 'read': ['c.*']}}\n" % token_digest(second))
        server.send(signal.SIGHUP)
        server.wait_for_log(r"configuration reloaded \(generation 2")
        assert server.get("/list", headers=bearer(first))[0] == 401
        assert server.get("/list", headers=bearer(second)) == (200, ["c.a", "c.all", "c.b"])

        configure("TOKENS = {'second': {'sha256': 'not a hash', 'read': ['*']}}\n")
        server.send(signal.SIGHUP)
        server.wait_for_log(r"reload failed.*'sha256' must be the 64 hex digits")
        assert server.get("/list", headers=bearer(second))[0] == 200  # the previous tokens serve
        assert server.get("/list")[0] == 401

        configure("")  # no TOKENS: open again
        server.send(signal.SIGHUP)
        server.wait_for_log(r"configuration reloaded \(generation 3")  # the failed one did not count
        assert server.get("/list")[0] == 200
    finally:
        code = server.stop()
        cleanup(config)
    assert code == 0, server.log


def test_a_bad_tokens_setting_stops_torus_at_start(tmp_path):
    path = write_config(tmp_path / "bad_conf.py", "sqlite", tmp_path, "tbad",
                        "TOKENS = {'x': {'sha256': 'torus_plaintext', 'read': ['*']}}\n")
    with pytest.raises(AssertionError, match="looks like the token itself"):
        TorusProcess([path])


# -- TLS --------------------------------------------------------------------------------
def self_signed(folder):
    """``(certificate, key)`` PEM files for 127.0.0.1, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key
    import ipaddress
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


def test_https_with_a_self_signed_certificate_and_a_token(tmp_path):
    cert, key = self_signed(tmp_path)
    path = write_config(tmp_path / "tls_conf.py", "sqlite", tmp_path, "t" + uuid.uuid4().hex[:10],
                        TOKENS)
    config = load([path], POINTS)
    server = TorusProcess([path], args=["--certfile", cert, "--keyfile", key, "--header-timeout", 2])
    try:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))

        def get(headers, ctx=context):
            request = urllib.request.Request(server.url + "/list", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10, context=ctx) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        # a client that connects and never starts the handshake does not hold torus up
        silent = socket.create_connection(server.address)
        assert get(grafana(READER)) == (200, ["c.a", "c.all", "c.b", "g.x"])
        assert get({})[0] == 401
        # a client that does not trust the certificate refuses the connection
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            get({}, ssl.create_default_context())
        # plain HTTP on the HTTPS port gets no answer, and torus goes on serving
        plain = socket.create_connection(server.address, timeout=5)
        plain.sendall(b"GET /list HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            reply = plain.recv(1024)
        except ConnectionResetError:
            reply = b""
        assert not reply.startswith(b"HTTP/1.1 200")
        plain.close()
        server.wait_for_log(r"TLS handshake failed")
        assert silent.recv(1) == b""  # closed at the header deadline
        server.wait_for_log(r"no TLS handshake within 2s")
        assert get(bearer(READER))[0] == 200
    finally:
        code = server.stop()
        cleanup(config)
    assert code == 0, server.log
    assert "Traceback" not in server.log


def test_a_certificate_that_cannot_be_loaded_stops_torus(tmp_path):
    path = write_config(tmp_path / "conf.py", "sqlite", tmp_path, "tcert")
    with pytest.raises(AssertionError, match="cannot load the TLS certificate"):
        TorusProcess([path], args=["--certfile", tmp_path / "missing.pem"])


def test_graphite_answers_only_the_names_in_scope(torus):
    """/render, /metrics/* and /tags/* leave out the names a token may not read, as if they
    were not stored (the reader reads c.* and g.x)."""
    window = "from=%d&until=%d&format=json" % (T0 - 1, T0 + 120)
    status, answer = torus.get("/render?target=*.*&" + window, headers=bearer(READER))
    assert status == 200
    assert [entry["target"] for entry in answer] == ["c.a", "c.all", "c.b", "g.x"]
    status, answer = torus.get("/render?target=t.x&" + window, headers=bearer(READER))
    assert (status, answer) == (200, [])
    status, nodes = torus.get("/metrics/find?query=*", headers=bearer(READER))
    assert status == 200 and sorted(node["text"] for node in nodes) == ["c", "g"]
    status, nodes = torus.get("/metrics/find?query=*", headers=bearer(WRITER))
    assert status == 200 and sorted(node["text"] for node in nodes) == ["i"]
    status, expanded = torus.get("/metrics/expand?query=*.*&leavesOnly=1", headers=bearer(READER))
    assert expanded["results"] == ["c.a", "c.all", "c.b", "g.x"]
    status, names = torus.get("/metrics/index.json", headers=bearer(READER))
    assert names == ["c.a", "c.all", "c.b", "g.x"]
