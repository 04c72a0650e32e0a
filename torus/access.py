"""Access control for torus's HTTP API: tokens from the ``TOKENS`` setting, scopes by stat name.

Without ``TOKENS`` (absent or ``None``) every request is served as before: the quick start
needs no token. With ``TOKENS`` (even an empty dict: then no token is valid), every request
but an OPTIONS pre-flight and the health probes (``OPEN_COMMANDS``) must carry a token,
``Authorization: Bearer <token>`` or HTTP Basic with the token as password (the user name
is not checked; a Basic credential with an empty password uses the user name as token, as
``curl -u TOKEN:`` sends it). No token, an unknown one or an expired one is a 401 with
``WWW-Authenticate: Basic realm="torus"`` (so browsers and Grafana ask; the dashboard page's
calls, marked ``X-Torus-Dashboard: 1``, get the Bearer challenge only); a token without the
scope the request needs is a 403::

    TOKENS = {
        'grafana': {'sha256': '<64 hex digits>', 'read': ['stats.teamA.*'],
                    'expires': '2026-12-31'},
        'collector': {'sha256': '<64 hex digits>', 'read': ['*'], 'write': ['stats.teamA.*']},
    }

Why SHA-256 and not a salted slow hash: tokens are minted by ``torus_token`` with 256 random
bits (``secrets``), so nobody can guess one from its hash, however fast the hash; slow
salted hashes (scrypt, PBKDF2) exist to protect human-chosen passwords, and would cost
tens of milliseconds on every request. The configuration therefore holds nothing a reader
could log in with. Comparison is ``hmac.compare_digest`` of the presented token's hash with
every configured hash, without stopping at a match, so the time taken says nothing about
which token came close.

Scopes: ``read`` and ``write`` are lists of Graphite-style patterns matched against the stat
name component by component (``*`` any run of characters but a dot, ``?`` one such
character, ``[a-z]`` a class, ``{a,b}`` alternatives). A pattern grants every name it matches
and every name below one (``stats.teamA.*`` grants ``stats.teamA.x`` and ``stats.teamA.x.y``,
not ``stats.teamA``; ``*`` grants everything). Tagged names are judged by their path (the part
before the first ``;``). A request that writes (POST /insert, any DELETE) needs write scope
over every stat it names; any other request needs read scope (over every stat it names).
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

from .errors import ConfigError, Forbidden, TorusError
from .name_patterns import PatternError, glob_regex
from .typos import unknown

log = logging.getLogger(__name__)

SETTING = "TOKENS"
#: what a minted token starts with (lets secret scanners and people recognise one)
TOKEN_PREFIX = "torus_"
#: commands answered without a token even when TOKENS is set (liveness/readiness probes)
OPEN_COMMANDS = frozenset({"health", "ready"})
#: commands that write data (with any method other than OPTIONS); DELETE always writes
WRITE_COMMANDS = frozenset({"insert"})
REALM = "torus"
CHALLENGES = [("WWW-Authenticate", 'Basic realm="%s"' % REALM),
              ("WWW-Authenticate", 'Bearer realm="%s"' % REALM)]
TOKEN_KEYS = ("sha256", "read", "write", "expires")
_HEX64 = re.compile(r"[0-9a-f]{64}")


#: the request header the dashboard page sends: its 401s carry no Basic challenge, which would
#: make the browser open its own password dialog instead of the page's token form
PAGE_HEADER = "HTTP_X_TORUS_DASHBOARD"


def challenges(environ: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The WWW-Authenticate headers of a 401: Bearer only for the dashboard page's calls."""
    if environ.get(PAGE_HEADER):
        return [header for header in CHALLENGES if header[1].startswith("Bearer")]
    return list(CHALLENGES)


class Unauthorized(TorusError):
    """No valid credentials (HTTP 401); the answer asks for them (``headers``)."""

    status = 401
    headers = CHALLENGES


class OutOfScope(Forbidden):
    """A valid token without the scope a request needs (HTTP 403); ``parameter`` names the culprit."""

    def __init__(self, message: str, parameter: Optional[str] = None):
        super().__init__(message)
        self.parameter = parameter


# -- patterns ------------------------------------------------------------------------
def _component_regex(component: str, pattern: str) -> str:
    """A regular expression for one dot-free component of a glob (``torus.name_patterns``)."""
    try:
        return glob_regex(component)[1:-1]  # without the anchors: components are joined
    except PatternError as err:
        raise ConfigError("pattern %r: %s" % (pattern, err)) from None


def _split(pattern: str) -> List[str]:
    """The components of a glob (dots inside ``{}`` or ``[]`` are refused)."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError("pattern %r: use a non-empty string such as 'stats.teamA.*'" % (pattern,))
    if pattern != pattern.strip() or any(char.isspace() for char in pattern):
        raise ConfigError("pattern %r holds whitespace" % pattern)
    if re.search(r"\{[^}]*\.|\[[^\]]*\.", pattern):
        raise ConfigError("pattern %r: a dot inside {} or [] would cross name components" % pattern)
    components = pattern.split(".")
    if "" in components:
        raise ConfigError("pattern %r has an empty component" % pattern)
    return components


class Scope:
    """The stat names one scope (read or write) of a token covers; see the module docstring."""

    __slots__ = ("patterns", "_whole", "_parts")

    def __init__(self, patterns: Sequence[str], everything: bool = False):
        self.patterns = tuple(patterns)
        self._parts: List[List[Pattern[str]]] = []
        alternatives: List[str] = []
        for pattern in self.patterns:
            components = _split(pattern)
            regexes = [_component_regex(component, pattern) for component in components]
            self._parts.append([re.compile(regex) for regex in regexes])
            alternatives.append(r"\.".join(regexes))
        if everything:
            self._whole: Optional[Pattern[str]] = re.compile("")
        elif alternatives:
            # a match ends at a component boundary: the name itself or a name below it
            self._whole = re.compile(r"(?:%s)(?:\.|\Z)" % "|".join(alternatives))
        else:
            self._whole = None

    def __bool__(self) -> bool:
        return self._whole is not None

    def covers(self, name: str) -> bool:
        """Whether ``name`` (a path, or a tagged name judged by its path) is in this scope."""
        whole = self._whole
        if whole is None:
            return False
        semicolon = name.find(";")
        return whole.match(name if semicolon < 0 else name[:semicolon]) is not None

    def may_hold(self, branch: str) -> bool:
        """Whether some name under the branch ``branch`` (a path prefix, as /metrics/find lists
        it) may be in this scope: browsing shows ``stats`` to a token for ``stats.teamA.*``."""
        if self._whole is None:
            return False
        if not self._parts:  # everything
            return True
        components = branch.split(".")
        for regexes in self._parts:
            if all(regex.fullmatch(component)
                   for regex, component in zip(regexes, components)):
                return True
        return False


EVERYTHING = Scope((), everything=True)
NOTHING = Scope(())


@dataclass(frozen=True)
class Grant:
    """What the credentials of one request allow: ``name`` of the token (None when open)."""

    name: Optional[str]
    read: Scope
    write: Scope
    expires: Optional[float] = None

    @property
    def enforced(self) -> bool:
        return self.name is not None


#: the grant of every request when no TOKENS are configured
OPEN = Grant(None, EVERYTHING, EVERYTHING)


def readable(grant: Grant, name: str) -> bool:
    """Whether the request holding ``grant`` may read (or list, or find) the stat ``name``."""
    return grant.read.covers(name)


def writable(grant: Grant, name: str) -> bool:
    """Whether the request holding ``grant`` may write (or delete) the stat ``name``."""
    return grant.write.covers(name)


def readable_branch(grant: Grant, branch: str) -> bool:
    """Whether a branch node (``stats``, ``stats.teamA``) may hold readable names."""
    return grant.read.may_hold(branch)


def filter_readable(grant: Grant, names: Iterable[str]) -> List[str]:
    """The names of ``names`` the request may read, in order."""
    if grant.read is EVERYTHING:
        return list(names)
    return [name for name in names if grant.read.covers(name)]


def readable_nodes(grant: Grant, nodes: Iterable[Any]) -> List[Any]:
    """The nodes of a Graphite find (``kairos.Node``) the request may see: a leaf it may
    read, a branch that may hold names it may read; a node that is both keeps what passes."""
    if grant.read is EVERYTHING:
        return list(nodes)
    out = []
    for node in nodes:
        leaf = node.is_leaf and grant.read.covers(node.path)
        branch = node.is_branch and grant.read.may_hold(node.path)
        if leaf or branch:
            out.append(node._replace(is_leaf=leaf, is_branch=branch))
    return out


# -- the TOKENS setting ---------------------------------------------------------------
def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as TOKENS stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(value: Any, where: str) -> Optional[float]:
    """Seconds since the epoch after which a token stops working: a date ('2026-12-31',
    valid through that day, UTC), a date-time (ISO text or ``datetime``; naive is UTC) or
    unix seconds; None for never."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError("%s: expires must be a date such as '2026-12-31', not %r" % (where, value))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = _dt.date.fromisoformat(text)
            else:
                value = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError("%s: expires %r is not a date (2026-12-31) or a date-time "
                              "(2026-12-31T18:00:00Z)" % (where, value)) from None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, _dt.date):
        following = value + _dt.timedelta(days=1)
        return _dt.datetime(following.year, following.month, following.day,
                            tzinfo=_dt.timezone.utc).timestamp()
    raise ConfigError("%s: expires must be a date such as '2026-12-31', not %r" % (where, value))


def _patterns(value: Any, where: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigError("%s must be a list of patterns such as ['stats.teamA.*'], not %r"
                          % (where, value))
    return list(value)


class Tokens:
    """The parsed ``TOKENS`` setting: (hash, grant) pairs, checked when the configuration loads."""

    def __init__(self, setting: Any, origin: str = SETTING):
        if not isinstance(setting, dict):
            raise ConfigError("%s must be a dict of token names to {'sha256': ..., 'read': [...], "
                              "'write': [...], 'expires': ...}, not %r" % (origin, setting))
        self.entries: List[Tuple[bytes, Grant]] = []
        seen: Dict[str, str] = {}
        for name, entry in setting.items():
            where = "%s[%r]" % (origin, name)
            if not isinstance(name, str) or not name:
                raise ConfigError("%s: a token name must be a non-empty string" % where)
            if not isinstance(entry, dict):
                raise ConfigError("%s must be a dict with 'sha256' and 'read' and/or 'write' "
                                  "(paste what torus_token prints)" % where)
            extra = set(entry) - set(TOKEN_KEYS)
            if extra:
                raise ConfigError("%s: %s (known: %s)"
                                  % (where, unknown("key", extra, TOKEN_KEYS), ", ".join(TOKEN_KEYS)))
            digest = entry.get("sha256")
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
                hint = (": that looks like the token itself; store its hash (torus_token prints it)"
                        if isinstance(digest, str) and digest.startswith(TOKEN_PREFIX) else "")
                raise ConfigError("%s: 'sha256' must be the 64 hex digits of the token's SHA-256%s"
                                  % (where, hint))
            digest = digest.lower()
            if digest in seen:
                raise ConfigError("%s has the same hash as %r: one token, one entry" % (where, seen[digest]))
            seen[digest] = name
            try:
                read = Scope(_patterns(entry.get("read"), where + "['read']"))
                write = Scope(_patterns(entry.get("write"), where + "['write']"))
            except ConfigError as err:
                raise ConfigError("%s: %s" % (where, err)) from None
            if not read and not write:
                raise ConfigError("%s grants nothing: give it 'read' and/or 'write' patterns" % where)
            grant = Grant(name, read, write, parse_expiry(entry.get("expires"), where))
            self.entries.append((bytes.fromhex(digest), grant))

    def find(self, token: str) -> Optional[Grant]:
        """The grant of ``token``, or None: every entry is compared, in constant time each."""
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: Optional[Grant] = None
        for digest, grant in self.entries:
            if hmac.compare_digest(presented, digest):
                found = grant
        return found


def tokens_of(setting: Any, origin: str) -> Optional[Tokens]:
    """The parsed TOKENS of a configuration (None: access control is off)."""
    return None if setting is None else Tokens(setting, "%s: %s" % (origin, SETTING))


# -- requests -----------------------------------------------------------------------
def credential(header: str) -> Optional[str]:
    """The token an ``Authorization`` header carries (None when there is no header)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise Unauthorized("Authorization: Basic credentials are not base64 of user:token") from None
        user, colon, password = decoded.partition(":")
        if not colon:
            raise Unauthorized("Authorization: Basic credentials are not base64 of user:token")
        return password or user
    raise Unauthorized("Authorization: use 'Bearer <token>', or Basic with the token as password")


def is_write(method: str, command: str) -> bool:
    """Whether a request writes (and so needs write scope): DELETE, or a command that writes."""
    return method == "DELETE" or command in WRITE_COMMANDS


def authorize(config: Any, environ: Dict[str, Any], method: str, command: str,
              now: float) -> Grant:
    """The grant of one request (``OPEN`` when TOKENS is not set); 401 without valid
    credentials, 403 when the token has no scope of the kind the request needs."""
    tokens: Optional[Tokens] = getattr(config, "tokens", None)
    if tokens is None or command in OPEN_COMMANDS:
        return OPEN
    token = credential(environ.get("HTTP_AUTHORIZATION", ""))
    if token is None:
        raise Unauthorized("this torus needs a token: send 'Authorization: Bearer <token>', or "
                           "HTTP Basic with the token as password")
    grant = tokens.find(token)
    if grant is None:
        raise Unauthorized("the token is not valid")
    if grant.expires is not None and now >= grant.expires:
        raise Unauthorized("token %r expired on %s" % (grant.name, _dt.datetime.fromtimestamp(
            grant.expires, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")))
    environ["torus.token"] = grant.name
    writes = is_write(method, command)
    if not (grant.write if writes else grant.read):
        raise OutOfScope("token %r may not %s" % (grant.name, "write" if writes else "read"))
    return grant


def check_names(grant: Grant, method: str, command: str, names: Iterable[str],
                parameter: str = "stat") -> None:
    """403 naming the first of ``names`` outside the scope the request needs."""
    if not grant.enforced:
        return
    writes = is_write(method, command)
    scope = grant.write if writes else grant.read
    for name in names:
        if not scope.covers(name):
            raise OutOfScope("token %r may not %s %r" % (grant.name, "write" if writes else "read",
                                                          name), parameter)


#: commands whose ``stat`` parameters are expressions (``sum(a,b)``): the names are inside
EXPRESSION_COMMANDS = frozenset({"series", "data"})


def stat_names(command: str, params: Any) -> List[str]:
    """The stat names a request's ``stat`` parameters name (for /series, inside its functions)."""
    values = [value.strip() for value in params.all("stat")]
    if command not in EXPRESSION_COMMANDS or not any("(" in v or "," in v for v in values):
        return values  # a plain name (tags are not judged: no need to sort them)
    from .expressions import parse_stat  # here: expressions -> params -> access
    return [name for value in values for name in parse_stat(value).names]


def check_request(grant: Grant, method: str, command: str, params: Any) -> None:
    """Give the command its grant (``params.grant``, for the commands that list or find names)
    and refuse (403) a request naming a ``stat`` outside the scope it needs."""
    params.grant = grant
    if grant.enforced:
        check_names(grant, method, command, stat_names(command, params))
