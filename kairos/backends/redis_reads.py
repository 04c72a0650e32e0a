"""Read commands packed by hiredis and sent on one pooled connection, one round trip.

A dashboard read is a few thousand keys. Queued on a redis-py pipeline each argument
is encoded in Python and each reply parsed through the pipeline's machinery: for an
MGET of 2,400 keys the client spent about three times what packing the command in C
(``hiredis.pack_command``) and reading the replies off the connection costs.

Only where ``redis_wire.can_pack``: anything else (a cluster, another encoding, no
hiredis) uses its pipeline. A connection that fails is dropped and the caller's pipeline
runs the same reads again (reads are idempotent), with whatever retries the client has.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .redis_wire import can_pack, checkout, pack

__all__ = ["can_pack", "run"]

#: failures after which the pipeline tries the reads again (it reconnects)
_RETRIED = (RedisConnectionError, RedisTimeoutError, OSError)


def run(client: redis.Redis, commands: Sequence[Tuple[Any, ...]]) -> Optional[List[Any]]:
    """The replies of ``commands`` (argument tuples) in one round trip; None when the
    connection failed (the caller reads again through its pipeline). An error reply
    raises, as redis-py raises it, after the connection is dropped (its other replies
    are unread)."""
    pool = client.connection_pool
    connection = checkout(pool)
    try:
        connection.send_packed_command([pack(commands)], check_health=False)
        return [connection.read_response() for _ in commands]
    except _RETRIED:
        connection.disconnect()
        return None
    except BaseException:  # an error reply, a gevent Timeout: replies may be left unread
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
