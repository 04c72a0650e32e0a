"""Read commands packed by hiredis and sent on one pooled connection, one round trip.

A dashboard read is a few thousand keys. Queued on a redis-py pipeline each argument
is encoded in Python and each reply parsed through the pipeline's machinery: for an
MGET of 2,400 keys the client spent about three times what packing the command in C
(``hiredis.pack_command``) and reading the replies off the connection costs.

Only for a plain ``redis.Redis`` client whose keys are UTF-8 (what hiredis writes);
anything else (a cluster, another encoding, no hiredis) returns None and the caller
uses its pipeline. A connection that fails is dropped and the caller's pipeline runs the
same reads again (reads are idempotent), with whatever retries the client has.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional, Sequence, Tuple

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

pack_command: Optional[Callable[..., bytes]]
try:
    from hiredis import pack_command
except ImportError:  # pragma: no cover - hiredis is a requirement of kairos
    pack_command = None

#: redis-py before 5.3 wants a command name (later ones warn when given one)
_NAMED_GET = inspect.signature(redis.ConnectionPool.get_connection).parameters[
    "command_name"].default is inspect.Parameter.empty
#: failures after which the pipeline tries the reads again (it reconnects)
_RETRIED = (RedisConnectionError, RedisTimeoutError, OSError)


def can_pack(client: Any) -> bool:
    """Whether ``run`` can serve this client (see the module docstring)."""
    if pack_command is None or type(client) is not redis.Redis:
        return False
    encoding = client.connection_pool.connection_kwargs.get("encoding", "utf-8")
    return str(encoding).lower().replace("-", "").replace("_", "") == "utf8"


def run(client: redis.Redis, commands: Sequence[Tuple[Any, ...]]) -> Optional[List[Any]]:
    """The replies of ``commands`` (argument tuples) in one round trip; None when the
    connection failed (the caller reads again through its pipeline). An error reply
    raises, as redis-py raises it, after the connection is dropped (its other replies
    are unread)."""
    assert pack_command is not None, "run() without can_pack()"
    pack = pack_command
    pool = client.connection_pool
    connection = pool.get_connection("MGET") if _NAMED_GET else pool.get_connection()
    try:
        connection.send_packed_command([pack(command) for command in commands],
                                       check_health=False)
        return [connection.read_response() for _ in commands]
    except _RETRIED:
        connection.disconnect()
        return None
    except BaseException:  # an error reply, a gevent Timeout: replies may be left unread
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
