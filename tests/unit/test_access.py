"""torus.access: patterns, the TOKENS setting, credentials and the checks (no I/O)."""
import base64
import datetime as dt

import pytest

from torus import access
from torus.access import (OPEN, OutOfScope, Scope, Tokens, Unauthorized, authorize, credential,
                          parse_expiry, readable, readable_branch, token_digest, writable)
from torus.errors import ConfigError
from torus.params import Params

READER = "torus_reader-token"
WRITER = "torus_writer-token"
OLD = "torus_old-token"
#: 2026-01-01 00:00:00 UTC
NOW = 1767225600.0


class Config:
    def __init__(self, setting):
        self.tokens = access.tokens_of(setting, "conf.py")


TOKENS = {
    "grafana": {"sha256": token_digest(READER), "read": ["stats.teamA.*", "g.{x,y}"]},
    "collector": {"sha256": token_digest(WRITER), "read": "*", "write": ["stats.teamA.*"]},
    "old": {"sha256": token_digest(OLD), "read": ["*"], "expires": "2025-12-31"},
}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# -- patterns ---------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, name, expected", [
    ("stats.teamA.*", "stats.teamA.x", True),
    ("stats.teamA.*", "stats.teamA.x.y.z", True),   # below a match
    ("stats.teamA.*", "stats.teamA", False),        # the pattern needs one component more
    ("stats.teamA.*", "stats.teamAB.x", False),
    ("stats.teamA.*", "stats.teamB.x", False),
    ("stats.teamA.*", "xstats.teamA.x", False),
    ("stats.teamA", "stats.teamA", True),
    ("stats.teamA", "stats.teamA.x", True),
    ("stats.teamA", "stats.teamAx", False),
    ("stats.team?.x", "stats.teamB.x", True),
    ("stats.team?.x", "stats.teamBC.x", False),
    ("stats.team[AB].x", "stats.teamB.x", True),
    ("stats.team[!AB].x", "stats.teamB.x", False),
    ("stats.team[!AB].x", "stats.teamC.x", True),
    ("stats.{a,b*}.x", "stats.bee.x", True),
    ("stats.{a,b*}.x", "stats.c.x", False),
    ("web*.cpu", "web12.cpu", True),
    ("web*.cpu", "web12.mem", False),
    ("*", "anything.at.all", True),
    ("a+b.c", "a+b.c", True),                       # regex characters are literal
    ("a+b.c", "aab.c", False),
    ("stats.teamA.*", "stats.teamA.x;host=a", True),   # tagged: judged by the path
    ("stats.teamA.*", "stats.teamB.x;team=teamA.x", False),
])
def test_a_pattern_covers_its_matches_and_the_names_below(pattern, name, expected):
    assert Scope([pattern]).covers(name) is expected


@pytest.mark.parametrize("pattern, branch, expected", [
    ("stats.teamA.*", "stats", True),
    ("stats.teamA.*", "stats.teamA", True),
    ("stats.teamA.*", "stats.teamB", False),
    ("stats.teamA.*", "stats.teamA.x.y", True),
    ("stats.teamA.*", "other", False),
    ("*", "other", True),
])
def test_a_branch_may_hold_readable_names(pattern, branch, expected):
    grant = access.Grant("t", Scope([pattern]), Scope([]))
    assert readable_branch(grant, branch) is expected


@pytest.mark.parametrize("pattern, message", [
    ("", "non-empty"), ("a..b", "empty component"), ("a.[b", "never closed"),
    ("a.{b", "never closed"), ("a.{b.c,d}", "dot inside"), ("a b", "whitespace"), ("a.b}", "closes nothing"),
])
def test_bad_patterns_are_refused(pattern, message):
    with pytest.raises(ConfigError, match=message):
        Scope([pattern])


def test_an_empty_scope_covers_nothing_and_open_covers_everything():
    assert not Scope([]).covers("a") and not Scope([])
    assert readable(OPEN, "x.y") and writable(OPEN, "x.y") and readable_branch(OPEN, "x")


# -- TOKENS ---------------------------------------------------------------------------
def test_tokens_find_each_grant_by_hash():
    tokens = Tokens(TOKENS)
    assert tokens.find(READER).name == "grafana"
    assert tokens.find(WRITER).name == "collector"
    assert tokens.find("torus_nope") is None
    assert tokens.find(token_digest(READER)) is None  # the hash is not a token


def test_find_compares_every_entry_in_constant_time(monkeypatch):
    calls = []
    real = access.hmac.compare_digest
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    Tokens(TOKENS).find(READER)  # the first entry matches: the others are compared all the same
    assert len(calls) == len(TOKENS)


@pytest.mark.parametrize("setting, message", [
    ([], "must be a dict"),
    ({"a": "secret"}, "must be a dict with 'sha256'"),
    ({"a": {"sha256": "torus_abc", "read": ["*"]}}, "looks like the token itself"),
    ({"a": {"sha256": "12ab", "read": ["*"]}}, "64 hex digits"),
    ({"a": {"sha256": "0" * 64}}, "grants nothing"),
    ({"a": {"sha256": "0" * 64, "reed": ["*"]}}, "did you mean 'read'"),
    ({"a": {"sha256": "0" * 64, "read": 5}}, "list of patterns"),
    ({"a": {"sha256": "0" * 64, "read": ["a..b"]}}, "empty component"),
    ({"a": {"sha256": "0" * 64, "read": ["*"], "expires": "soon"}}, "is not a date"),
    ({"a": {"sha256": "0" * 64, "read": ["*"]}, "b": {"sha256": "0" * 64, "read": ["*"]}},
     "same hash as 'a'"),
])
def test_bad_tokens_fail_the_load(setting, message):
    with pytest.raises(ConfigError, match=message):
        Tokens(setting)


def test_expiry_forms():
    assert parse_expiry("2025-12-31", "x") == NOW  # valid through that day
    assert parse_expiry(dt.date(2025, 12, 31), "x") == NOW
    assert parse_expiry("2026-01-01T00:00:00Z", "x") == NOW
    assert parse_expiry("2026-01-01T01:00:00+01:00", "x") == NOW
    assert parse_expiry(dt.datetime(2026, 1, 1), "x") == NOW  # naive is UTC
    assert parse_expiry(NOW, "x") == NOW and parse_expiry(None, "x") is None


# -- credentials ------------------------------------------------------------------------
def test_credentials_from_bearer_and_basic():
    assert credential("") is None
    assert credential("Bearer abc") == "abc"
    assert credential("bearer   abc ") == "abc"
    assert credential(basic("grafana", "tok")) == "tok"
    assert credential(basic("", "tok")) == "tok"
    assert credential(basic("tok", "")) == "tok"  # curl -u TOKEN:
    assert credential(basic("user", "to:k")) == "to:k"  # only the first colon splits
    for bad in ("Digest x", "Bearer", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(Unauthorized):
            credential(bad)


def _authorize(header, method="GET", command="series", now=NOW, setting=TOKENS):
    environ = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    return authorize(Config(setting), environ, method, command, now)


def test_without_tokens_everything_is_open():
    assert _authorize(None, setting=None) is OPEN
    assert _authorize(None, "POST", "insert", setting=None) is OPEN


def test_an_empty_tokens_dict_closes_everything():
    with pytest.raises(Unauthorized):
        _authorize("Bearer " + READER, setting={})


def test_authorize_answers_401_403_or_the_grant():
    with pytest.raises(Unauthorized, match="needs a token") as caught:
        _authorize(None)
    assert ("WWW-Authenticate", 'Basic realm="torus"') in caught.value.headers
    with pytest.raises(Unauthorized, match="not valid"):
        _authorize("Bearer torus_wrong")
    with pytest.raises(Unauthorized, match="expired on 2026-01-01 00:00:00 UTC"):
        _authorize("Bearer " + OLD)
    assert _authorize("Bearer " + OLD, now=NOW - 1).name == "old"
    assert _authorize(basic("grafana", READER)).name == "grafana"
    with pytest.raises(OutOfScope, match="may not write"):
        _authorize("Bearer " + READER, "POST", "insert")
    with pytest.raises(OutOfScope, match="may not write"):
        _authorize("Bearer " + READER, "DELETE", "series")
    assert _authorize("Bearer " + WRITER, "DELETE", "series").name == "collector"
    for command in access.OPEN_COMMANDS:  # health probes need no token
        assert _authorize(None, command=command) is OPEN


def test_authorize_names_the_token_for_the_access_log():
    environ = {"HTTP_AUTHORIZATION": "Bearer " + READER}
    authorize(Config(TOKENS), environ, "GET", "list", NOW)
    assert environ["torus.token"] == "grafana"


def test_check_request_reads_the_names_inside_series_expressions():
    grant = _authorize("Bearer " + READER)
    params = Params.from_query("stat=sum(stats.teamA.x,g.x)&stat=stats.teamA.y")
    access.check_request(grant, "GET", "series", params)
    assert params.grant is grant
    params = Params.from_query("stat=sum(stats.teamA.x,stats.teamB.x)")
    with pytest.raises(OutOfScope, match="may not read 'stats.teamB.x'") as caught:
        access.check_request(grant, "GET", "series", params)
    assert caught.value.parameter == "stat"
    # elsewhere a stat is a name, parentheses and all
    with pytest.raises(OutOfScope, match=r"'sum\(stats.teamA.x\)'"):
        access.check_request(grant, "GET", "properties", Params.from_query("stat=sum(stats.teamA.x)"))


def test_check_request_needs_write_scope_for_every_stat_written():
    grant = _authorize("Bearer " + WRITER, "POST", "insert")
    access.check_request(grant, "POST", "insert", Params.from_query("stat=stats.teamA.x&value=1"))
    with pytest.raises(OutOfScope, match="may not write 'stats.teamB.x'"):
        access.check_request(grant, "POST", "insert", Params.from_query("stat=stats.teamB.x&value=1"))
    with pytest.raises(OutOfScope, match="may not write 'other'"):
        access.check_request(grant, "DELETE", "series", Params.from_query("stat=other"))


def test_filter_readable():
    grant = _authorize("Bearer " + READER)
    assert access.filter_readable(grant, ["g.x", "g.z", "stats.teamA.q", "stats.teamB.q"]) == \
        ["g.x", "stats.teamA.q"]
    assert access.filter_readable(OPEN, ["a", "b"]) == ["a", "b"]
