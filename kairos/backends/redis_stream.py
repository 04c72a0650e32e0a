"""Commands sent on one Redis connection ahead of their replies, the replies read in order.

A pipeline sends its commands and then waits for every reply before its caller can
do anything else: while Redis runs a batch of writes, the writer that sent it sits
idle, and while the writer builds its next batch, Redis does. A ``CommandStream``
lets a writer send batch N+1 before it reads batch N's replies, so building one
batch and running the other overlap. Because the stream is one connection, Redis
runs the batches in the order they were sent: a gauge's later value still wins.

``send(commands)`` writes the packed commands and returns a ``Ticket``;
``ticket.replies()`` returns that send's replies (a refused command as its
``ResponseError``, as a pipeline with ``raise_on_error=False`` gives them), reading
first the replies of every earlier send that nobody asked for yet. The connection
comes from the client's pool at the first send and goes back when no reply is
outstanding. When the connection fails (a timeout, a reset, a protocol error),
every ticket not read yet fails with that error: Redis may or may not have run its
commands, so callers send them again under the same batch marker (``redis_bulk``),
which makes the copies no-ops. Until every failed ticket was read, later sends fail
at once without being sent: a batch sent after a failed one must not reach Redis on
a fresh connection before the failed one is sent again (a gauge would end with an
older value).

Calls from several greenlets or threads serialise on a lock; the stream is meant
for one writer keeping one or two batches in flight, which waits for every ticket
it gets (an unread failed ticket keeps the stream refusing sends).
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple

from redis.exceptions import RedisError, ResponseError

from . import redis_wire


#: commands packed and sent at a time (a batch's script calls are a few hundred kB each)
SEND_COMMANDS = 4


class Ticket:
    """One ``send``: how many replies it waits for, and them once read (or the failure)."""

    __slots__ = ("stream", "count", "_replies", "_failure", "_reported")

    def __init__(self, stream: "CommandStream", count: int):
        self.stream = stream
        self.count = count
        self._replies: Optional[List[Any]] = None
        self._failure: Optional[Exception] = None
        self._reported = False

    @property
    def lost(self) -> bool:
        """Whether this send's replies are known to be lost (``replies()`` raises at once)."""
        return self._failure is not None

    @property
    def settled(self) -> bool:
        return self._replies is not None or self._failure is not None

    def replies(self) -> List[Any]:
        """This send's replies, in order; raises the stream's error when they were lost."""
        if not self.settled:
            self.stream._read_until(self)
        if self._failure is not None:
            if not self._reported:
                self._reported = True
                self.stream._unreported -= 1
            raise self._failure
        assert self._replies is not None
        return self._replies


class CommandStream:
    """Sends on one pooled connection of ``client``; ``error`` wraps connection failures."""

    def __init__(self, client: Any, error: Callable[[Exception], Exception]):
        self.client = client
        self.error = error
        self._connection: Any = None
        self._waiting: Deque[Ticket] = deque()  # sent, replies not read yet, oldest first
        self._lock = threading.Lock()
        self._packs = redis_wire.can_pack(client)  # hiredis packs the commands (else redis-py)
        self._unreported = 0  # failed tickets whose failure nobody read yet
        self._failure: Optional[Exception] = None  # ... and the failure

    @property
    def idle(self) -> bool:
        """Whether no send awaits its replies and no failure awaits its reader."""
        return not self._waiting and not self._unreported

    def send(self, commands: Sequence[Tuple]) -> Ticket:
        """Write ``commands`` (argument tuples) without waiting for their replies."""
        with self._lock:
            ticket = Ticket(self, len(commands))
            if self._unreported:  # see the module docstring: nothing overtakes a failed send
                ticket._failure = self._failure
                self._unreported += 1
                return ticket
            if not commands:
                ticket._replies = []
                return ticket
            try:
                if self._connection is None:
                    self._connection = redis_wire.checkout(self.client.connection_pool)
                connection = self._connection
                # no health check (a PING) while replies are unread: it would read one of them
                check = not self._waiting
                for start in range(0, len(commands), SEND_COMMANDS):
                    # a few commands at a time: a batch's packed bytes are never all in memory
                    chunk = commands[start:start + SEND_COMMANDS]
                    packed = ([redis_wire.pack(chunk)] if self._packs
                              else connection.pack_commands(chunk))
                    connection.send_packed_command(packed, check_health=check)
                    check = False
            except (RedisError, OSError) as err:
                self._waiting.append(ticket)
                self._fail(self.error(err))
                return ticket
            except BaseException as err:  # killed mid-send: what reached Redis is unknown
                self._waiting.append(ticket)
                self._fail(self.error(ConnectionError("interrupted: %r" % (err,))))
                raise
            self._waiting.append(ticket)
            return ticket

    def _read_until(self, target: Ticket) -> None:
        with self._lock:
            while not target.settled:
                ticket = self._waiting[0]
                replies: List[Any] = []
                try:
                    for _ in range(ticket.count):
                        try:
                            replies.append(self._connection.read_response())
                        except ResponseError as refused:
                            replies.append(refused)
                except (RedisError, OSError) as err:
                    self._fail(self.error(err))
                    return
                except BaseException as err:  # killed mid-read: the rest of the replies are unread
                    self._fail(self.error(ConnectionError("interrupted: %r" % (err,))))
                    raise
                ticket._replies = replies
                self._waiting.popleft()
            if not self._waiting:
                self._give_back()

    def _fail(self, failure: Exception) -> None:
        """The connection broke: every unread ticket fails; the connection is dropped."""
        for ticket in self._waiting:
            ticket._failure = failure
        self._unreported += len(self._waiting)
        self._failure = failure
        self._waiting.clear()
        if self._connection is not None:
            self._connection.disconnect()
        self._give_back()

    def _give_back(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self.client.connection_pool.release(connection)

    def close(self) -> None:
        """Drop the connection (unread tickets fail): for the engine's ``close``."""
        with self._lock:
            if self._waiting:
                self._fail(self.error(ConnectionError("the stream was closed")))
            self._give_back()
