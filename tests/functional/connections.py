"""Counting the storage connections a process holds, as each server (or the kernel) sees them.

Each count is scoped to one test by a name the test gives its clients: Redis' client name
(``CLIENT LIST``), PostgreSQL's ``application_name`` (``pg_stat_activity``), or the SQLite
file a process has open (``/proc/<pid>/fd``), so tests running side by side on the same
servers do not see each other's connections.
"""
import os
import time

import redis
import sqlalchemy as sa

from tests.conftest import URLS

#: seconds a server may take to notice a closed connection
SETTLE = 10


def redis_clients(name):
    """Connections to the test Redis whose client name is ``name``."""
    handle = redis.Redis.from_url(URLS["redis"], decode_responses=True)
    try:
        return sum(1 for client in handle.client_list() if client.get("name") == name)
    finally:
        handle.close()


def postgres_backends(application_name):
    """PostgreSQL backends whose ``application_name`` is ``application_name``."""
    engine = sa.create_engine(URLS["postgresql"].replace("postgresql://", "postgresql+psycopg://"),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                        "WHERE application_name = :name"),
                                {"name": application_name}).scalar()
    finally:
        engine.dispose()


def open_files(pid, path):
    """Descriptors process ``pid`` holds on ``path`` (or its -wal/-shm companions)."""
    folder = "/proc/%d/fd" % pid
    count = 0
    for fd in os.listdir(folder):
        try:
            target = os.readlink(os.path.join(folder, fd))
        except OSError:  # closed meanwhile
            continue
        if target in (path, path + "-wal", path + "-shm"):
            count += 1
    return count


def settled(count, expected, timeout=SETTLE):
    """``count()`` once it equals ``expected``, or its last value when ``timeout`` passed
    (servers end a backend a moment after its client closed the connection)."""
    deadline = time.monotonic() + timeout
    while True:
        value = count()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
