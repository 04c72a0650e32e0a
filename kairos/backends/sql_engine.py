"""SQLAlchemy plumbing for the SQL engine: engines from URLs, safe table creation, upserts.

URL defaults pick drivers that cooperate with gevent: ``postgresql://`` means
psycopg 3 (gevent-aware since 3.1.14), ``mysql://``/``mariadb://`` mean PyMySQL
(pure Python, so monkey-patched sockets yield). An explicit ``+driver`` is kept.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from typing import Any, Callable, Dict, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                   "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
#: seconds a SQLite writer waits for another process' lock before failing
SQLITE_BUSY_TIMEOUT = 30
#: bytes per page of a SQLite file kairos creates. A batch of upserts sorted by key touches
#: a page per stat or so: with 16 KiB pages it writes fewer pages, and a WAL checkpoint (every
#: 1,000 pages) merges more rewrites of the same page, which cut SQLite's CPU per upserted row
#: by a fifth against the 4 KiB default (``sql_upsert_floor.py --page-size``)
SQLITE_PAGE_SIZE = 16384


def normalize_url(url: str) -> str:
    """Give driver-less PostgreSQL/MySQL URLs the gevent-friendly default driver."""
    scheme, rest = url.split("://", 1)
    return "%s://%s" % (DEFAULT_DRIVERS.get(scheme.lower(), scheme), rest)


def create(url: str, client_config: Dict[str, Any]) -> sa.engine.Engine:
    """An Engine for a kairos URL; ``client_config`` goes to ``create_engine`` as keywords."""
    options = dict(client_config)
    sa_url = sa.engine.make_url(normalize_url(url))
    if sa_url.get_backend_name() == "sqlite":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        if sa_url.database in (None, "", ":memory:"):
            # one shared connection: a :memory: database exists per connection, and greenlets
            # (thread-locals under gevent) would otherwise each see an empty database
            options.setdefault("poolclass", StaticPool)
        else:
            connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
    else:
        options.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(sa_url, **options)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        sa.event.listen(engine, "connect", _sqlite_wal)
    return engine


def shares_one_connection(engine: sa.engine.Engine) -> bool:
    """Whether every caller of ``engine`` uses the same connection (SQLite ``:memory:``, see
    ``create``): each then sees the others' rows before their transactions commit."""
    return isinstance(engine.pool, StaticPool)


#: parameters a SQLite statement takes where the library cannot say (the limit before 3.32)
SQLITE_OLD_PARAMETERS = 999


def sqlite_parameters(conn: sa.engine.Connection) -> int:
    """How many parameters one statement may take on this SQLite connection."""
    getlimit = getattr(conn.connection.dbapi_connection, "getlimit", None)  # Python 3.11
    if getlimit is None:
        return SQLITE_OLD_PARAMETERS
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets torus read while karbon writes the same file; NORMAL sync is safe in WAL mode.

    A new file gets ``SQLITE_PAGE_SIZE`` pages (set before WAL mode, which fixes it); a file
    that has pages keeps its size.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA page_size=%d" % SQLITE_PAGE_SIZE)
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


#: appended to a SQLite file's path: the file kairos' writers of that database take turns on
WRITER_LOCK_SUFFIX = "-kairos-writer"
#: seconds between two tries at a turn another writer holds
TURN_POLL = 0.001


@contextlib.contextmanager
def _flocked(path: str) -> Any:
    try:
        # read-only is enough for flock: a lock file another user created stays usable
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as err:  # a directory this process cannot write: no turn, SQLite's wait
        log.warning("no writer turn for %s (%s): writers wait as SQLite makes them", path, err)
        yield
        return
    try:
        _take_turn(fd, path)
        yield
    finally:
        os.close(fd)  # ends the turn


def _take_turn(fd: int, path: str) -> None:
    """Wait for the turn at most ``SQLITE_BUSY_TIMEOUT`` seconds, then go on without it (SQLite's
    busy wait decides): a holder that never lets go (a stopped process) must not hold the
    writer for ever, or a karbon could not even stop."""
    started = time.monotonic()
    # in gevent's loop the other greenlets run meanwhile; a thread of its own (karbon's
    # writers) sleeps for real, without a hub of its own
    pause = time.sleep if _in_event_loop() else _real_sleep()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() - started >= SQLITE_BUSY_TIMEOUT:
            break
        pause(TURN_POLL)
    log.warning("the writer turn of %s was held for %g s: writing without it", path,
                SQLITE_BUSY_TIMEOUT)


def _real_sleep() -> Callable[[float], None]:
    """``time.sleep`` as it was before gevent patched it (it is unpatched without gevent)."""
    try:
        from gevent.monkey import get_original
    except ImportError:  # pragma: no cover - gevent comes with torus
        return time.sleep
    return get_original("time", "sleep")


def _in_event_loop() -> bool:
    """Whether this thread runs a gevent loop (torus' main thread): a wait there must let
    the other greenlets run. A thread of a gevent thread pool has none."""
    try:
        from gevent._hub_local import get_hub_if_exists
    except ImportError:  # pragma: no cover - gevent comes with torus
        return False
    return get_hub_if_exists() is not None


def writer_turn(engine: sa.engine.Engine) -> Any:
    """A context held around a write transaction on a SQLite file: one writer at a time,
    across processes, by an exclusive ``flock`` on ``<file>-kairos-writer``.

    SQLite lets one transaction write at a time and makes the others poll: its busy
    handler sleeps 1, 2, 5... up to 100 ms between tries, so two karbon workers writing
    one file left it idle while the waiting one slept. A writer in a thread of its own
    (karbon's) tries again every millisecond, sleeping; one in gevent's loop (torus
    ``/insert``) too, letting the other greenlets run. After ``SQLITE_BUSY_TIMEOUT`` seconds
    either writes without its turn (SQLite's own wait decides), and says so in the log.
    Each turn opens its own descriptor of the lock file (never of the database: closing a
    descriptor of it would drop SQLite's own locks), so the threads of one process take
    turns too. A lock file that cannot be opened means no turn. Other databases,
    ``:memory:``, URI file names and systems without ``flock``: no turn, SQLite's busy
    wait alone.
    """
    database = engine.url.database
    if (engine.dialect.name != "sqlite" or database in (None, "", ":memory:")
            or database.startswith("file:") or fcntl is None):
        return contextlib.nullcontext()
    return _flocked(os.path.realpath(database) + WRITER_LOCK_SUFFIX)


class Expired(Exception):
    """A database call outlived its ``deadline``."""


class _Deadline:
    """A gevent timer that interrupts a database call after ``seconds`` (see ``deadline``)."""

    def __init__(self, seconds: float):
        import gevent
        self.timer = gevent.Timeout(seconds)

    def __enter__(self) -> None:
        self.timer.start()

    def __exit__(self, kind: Any, value: Any, _traceback: Any) -> None:
        self.timer.close()
        if value is self.timer:  # ours: SQLAlchemy has invalidated the interrupted connection
            raise Expired() from None


def deadline(engine: sa.engine.Engine, seconds: float) -> Any:
    """A context that interrupts a call to a database server after ``seconds``.

    A server that stops answering (stopped, partitioned) would otherwise hold the
    caller for ever: the drivers have no read timeout. Works where the driver waits
    through gevent (psycopg, PyMySQL under ``monkey.patch_all()``); SQLite, local and
    with its own busy timeout, and callers without gevent get no deadline.
    """
    if not seconds or engine.dialect.name == "sqlite":
        return contextlib.nullcontext()
    try:
        import gevent  # noqa: F401
    except ImportError:  # pragma: no cover - gevent comes with torus
        return contextlib.nullcontext()
    return _Deadline(seconds)


#: attempts at creating a table while other processes change the same database
CREATE_ATTEMPTS = 5
#: attempts at a statement SQLite refused at once with "database is locked"
LOCKED_ATTEMPTS = 8


def is_locked(engine: sa.engine.Engine, err: Exception) -> bool:
    """Whether ``err`` is SQLite's immediate "database is locked" (safe to retry after rollback)."""
    return engine.dialect.name == "sqlite" and "database is locked" in str(getattr(err, "orig", err))


#: MySQL errors about a value (PyMySQL reports some of them as OperationalError): out of range
#: (1264, 1690), too long (1406), not of the column's type (1366, 1292)
_MYSQL_VALUE_ERRORS = (1264, 1690, 1406, 1366, 1292)


def is_refused_value(err: Exception) -> bool:
    """Whether the database refused a value of the statement (not a failure of the database)."""
    if isinstance(err, (sa_exc.DataError, sa_exc.IntegrityError)):
        return True
    code = getattr(getattr(err, "orig", None), "args", (None,))[:1]
    return isinstance(err, sa_exc.DBAPIError) and bool(code) and code[0] in _MYSQL_VALUE_ERRORS


def create_table(engine: sa.engine.Engine, table: sa.Table) -> None:
    """Create ``table`` unless it exists; losing a creation race to another process is fine.

    A failed attempt is retried when the table is still missing: SQLite in WAL mode
    refuses at once (no busy wait) to turn a read into a write after another process
    wrote, which is what "check, then create" does while karbon creates its own tables.
    """
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            table.create(engine, checkfirst=True)
            return
        except sa_exc.SQLAlchemyError:
            if sa.inspect(engine).has_table(table.name):
                log.debug("table %s was created concurrently", table.name)
                return
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


def dialect_insert(dialect: str, table: sa.Table):
    """The dialect's own INSERT construct (its upsert clauses), or the generic one."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.insert(table)
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql
        return mysql.insert(table)
    from sqlalchemy.dialects import sqlite
    return sqlite.insert(table)


#: ``merge(columns, new)``: what an upsert sets on a row that exists (``new``: the incoming
#: row's columns); each layout of ``sql_layouts`` has one
Merge = Callable[[Any, Any], Dict[str, Any]]


def upsert(dialect: str, table: sa.Table, merge: Merge, keep_existing: bool = False):
    """The insert-or-merge statement for a dialect with native upserts; with ``keep_existing``
    a row that exists is left alone (on MySQL, which cannot say so, ``merge`` must change
    nothing)."""
    stmt = dialect_insert(dialect, table)
    if dialect in ("mysql", "mariadb"):
        return stmt.on_duplicate_key_update(**merge(table.c, stmt.inserted))
    keys = [col.name for col in table.primary_key.columns]
    if keep_existing:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_=merge(table.c, stmt.excluded))


def claim_marker(conn: sa.engine.Connection, table: sa.Table, marker: str, at: int) -> bool:
    """Insert a batch marker unless it exists, in the caller's transaction; True when inserted.

    A concurrent transaction holding the same marker makes this wait for its outcome
    (the primary key's lock), so two copies of one batch never both apply.
    """
    dialect = conn.dialect.name
    row = {"marker": marker, "at": at}
    if dialect == "postgresql" or (dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)):
        # RETURNING tells whether the row went in (psycopg reports no rowcount here)
        statement = (dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=["marker"])
                     .returning(table.c.marker))
        return conn.execute(statement, row).first() is not None
    if dialect in ("mysql", "mariadb"):
        return conn.execute(table.insert().prefix_with("IGNORE"), row).rowcount == 1
    if conn.execute(sa.select(table.c.marker).where(table.c.marker == marker)).first():
        return False
    conn.execute(table.insert(), row)
    return True


def update_or_insert(conn: sa.engine.Connection, table: sa.Table, row: dict, merge: Merge,
                     keep_existing: bool = False) -> None:
    """Portable upsert for dialects without one: update the row, insert it if nothing matched
    (with ``keep_existing``: insert it unless it is there)."""
    c = table.c
    match = sa.and_(*[col == row[col.name] for col in table.primary_key.columns])
    if keep_existing:
        if conn.execute(sa.select(c.name).where(match).limit(1)).first() is None:
            conn.execute(table.insert(), row)
        return
    changes = merge(c, row)
    if conn.execute(table.update().where(match).values(**changes)).rowcount == 0:
        conn.execute(table.insert(), row)


def insert_ignore(conn: sa.engine.Connection, table: sa.Table, rows: list,
                  keys: Optional[Sequence[str]] = None) -> None:
    """Insert rows, leaving alone those whose key exists (in the caller's transaction):
    ``ON CONFLICT DO NOTHING`` (PostgreSQL, SQLite), ``INSERT IGNORE`` (MySQL/MariaDB), else
    a look-up before each insert. ``keys``: the unique columns the rows are told apart by
    (default: the primary key's)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        conn.execute(dialect_insert(dialect, table).on_conflict_do_nothing(), rows)
    elif dialect in ("mysql", "mariadb"):
        conn.execute(table.insert().prefix_with("IGNORE"), rows)
    else:
        columns = ([table.c[key] for key in keys] if keys
                   else list(table.primary_key.columns))
        for row in rows:
            match = sa.and_(*[col == row[col.name] for col in columns])
            if conn.execute(sa.select(columns[0]).where(match).limit(1)).first() is None:
                conn.execute(table.insert(), row)
