"""Commands packed by hiredis, and a connection of a client's pool, for the engine's own wire.

redis-py encodes each argument of a command in Python before it packs it; hiredis packs
the same bytes in C (``hiredis.pack_command``), several times faster on the thousands
of arguments of a batch or a dashboard read. It writes text as UTF-8, so only a plain
``redis.Redis`` whose encoding is UTF-8 qualifies (``can_pack``); otherwise callers use
redis-py's own packing. Used by ``redis_stream`` (writes in flight) and ``redis_reads``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence, Tuple

import redis

pack_command: Optional[Callable[..., bytes]]
try:
    from hiredis import pack_command
except ImportError:  # pragma: no cover - hiredis is a requirement of kairos
    pack_command = None

#: redis-py before 5.3 wants a command name (later ones warn when given one)
_NAMED_GET = inspect.signature(redis.ConnectionPool.get_connection).parameters[
    "command_name"].default is inspect.Parameter.empty


def can_pack(client: Any) -> bool:
    """Whether ``pack`` writes exactly what this client's redis-py would."""
    if pack_command is None or type(client) is not redis.Redis:
        return False
    encoding = client.connection_pool.connection_kwargs.get("encoding", "utf-8")
    return str(encoding).lower().replace("-", "").replace("_", "") == "utf8"


def pack(commands: Sequence[Tuple[Any, ...]]) -> bytes:
    """``commands`` (argument tuples) as one RESP buffer; only where ``can_pack``."""
    assert pack_command is not None, "pack() without can_pack()"
    return b"".join([pack_command(command) for command in commands])


def checkout(pool: Any) -> Any:
    """A connection of ``pool`` (give it back with ``pool.release``)."""
    return pool.get_connection("EVAL") if _NAMED_GET else pool.get_connection()
