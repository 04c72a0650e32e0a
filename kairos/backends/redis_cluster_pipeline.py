"""A pipeline over a Redis Cluster: commands grouped per node, nodes sent to at once, bounded retries.

kairos queues commands on it as on a redis-py pipeline (``get``, ``mget``, ``lrange``,
``execute_command("EVALSHA", ...)``...). ``execute`` groups them by the primary
serving each command's slot, runs one ordinary pipeline per node, all nodes at the
same time (greenlets under gevent, threads otherwise), and gives back one reply per
queued command in queue order, a failed command as its exception. An MGET whose keys
lie in several slots is split per slot and its reply put back together.

Replies that say the cluster moved on are retried, at most ``len(delays)`` times:

============================  =========================================================
MOVED                         the topology is read again; sent to the node named
ASK                           sent to the node named, after ASKING (a slot migrating)
TRYAGAIN, CLUSTERDOWN         sent again after a delay (a migration or a failover);
                              an MGET or UNLINK answered TRYAGAIN (its slot is
                              migrating, its keys on both nodes) is sent again as one
                              GET or UNLINK per key, each following its own ASK, so
                              reads and deletes need not wait for the migration to end
NOSCRIPT                      sent again as EVAL (a node that never ran the script)
connection lost, timeout      only when the pipeline is ``idempotent`` (reads, and
                              writes that carry their exactly-once marker): the
                              topology is read again and the node's commands sent again
============================  =========================================================

A refused command was not run, so sending it again is always safe; a timed-out
one may have run, so only commands that are harmless twice are sent again.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import CoreCommands
from redis.crc import key_slot
from redis.exceptions import (AskError, ClusterDownError, ClusterError, ConnectionError,
                              MovedError, NoScriptError, RedisClusterException, RedisError,
                              TimeoutError, TryAgainError)

from ..cooperative import at_once, sockets_patched

sleep: Callable[[float], None]
try:
    from gevent import sleep
except ImportError:  # pragma: no cover - gevent is installed with torus
    sleep = time.sleep

log = logging.getLogger(__name__)

#: seconds between two attempts: about 5 s in all, enough for a replica to take over
#: (cluster-node-timeout plus an election) when the node timeout is 1-3 s
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 1.6)
_RETRYABLE_REPLIES = (AskError, TryAgainError, ClusterDownError, NoScriptError)
_LOST = (ConnectionError, TimeoutError)
#: multi-key commands sent again key by key after TRYAGAIN: the one-key command, and how
#: its replies make the multi-key reply
_SPLIT: Dict[str, Tuple[str, Callable[[List[Any]], Any]]] = {"MGET": ("GET", list),
                                                              "UNLINK": ("UNLINK", sum)}

Outcome = Tuple[Optional[List[Any]], Optional[BaseException]]


def run_at_once(calls: Sequence[Callable[[], List[Any]]], executor: Optional[Executor]) -> List[Outcome]:
    """``(replies, None)`` or ``(None, error)`` of each call, all run at the same time:
    greenlets when gevent patched the sockets, else the ``executor``'s threads."""
    def guarded(call: Callable[[], List[Any]]) -> Outcome:
        try:
            return call(), None
        except (RedisError, RedisClusterException, OSError) as err:
            return None, err

    if len(calls) == 1:
        return [guarded(calls[0])]
    if sockets_patched():
        # a call that returned holds what guarded returned
        return [cast(Outcome, result) if error is None else (None, error)
                for result, error in at_once([partial(guarded, call) for call in calls])]
    if executor is None:
        return [guarded(call) for call in calls]
    return list(executor.map(guarded, calls))


def slot_of(args: Sequence[Any]) -> int:
    """The slot of a command: its first key (EVAL/EVALSHA: after the key count).

    A command whose first argument is not its key lands on a wrong node, which
    answers MOVED: the retry sends it where it belongs.
    """
    name = args[0].upper() if isinstance(args[0], str) else args[0]
    if name in ("EVAL", "EVALSHA", b"EVAL", b"EVALSHA"):
        key = args[3] if int(args[2]) > 0 else args[1]
    else:
        key = args[1] if len(args) > 1 else args[0]
    if isinstance(key, str):
        key = key.encode("utf-8")
    elif not isinstance(key, bytes):
        key = str(key).encode("utf-8")
    return key_slot(key)


class _Command:
    __slots__ = ("slot", "args", "options", "target", "asking", "parts")

    def __init__(self, slot: int, args: Tuple, options: Dict[str, Any]):
        self.slot = slot
        self.args = args
        self.options = options
        self.target: Optional[ClusterNode] = None  # where a MOVED/ASK said to go
        self.asking = False
        #: an MGET split into GETs: their indices (its reply is put back together from theirs)
        self.parts: Optional[List[int]] = None


class SlotPipeline(CoreCommands):
    """Queue commands, then ``execute()`` them on every node at once (module docstring)."""

    #: declared by redis-py's CommandsProtocol; no command queued here dispatches events
    _event_dispatcher: Any = None

    def __init__(self, client: RedisCluster, idempotent: bool = True,
                 scripts: Optional[Dict[str, str]] = None, executor: Optional[Executor] = None,
                 delays: Sequence[float] = RETRY_DELAYS):
        self.client = client
        self.idempotent = idempotent
        self.scripts = scripts or {}  # sha -> body, for NOSCRIPT
        self.executor = executor
        self.delays = delays
        self._commands: List[_Command] = []
        #: per queued command: the index of its one internal command, or the parts of a split
        #: MGET as ``[(internal index, positions in the answer)]`` and the answer's length
        self._outputs: List[Any] = []

    def __len__(self) -> int:
        return len(self._outputs)

    # -- queueing ---------------------------------------------------------
    def queue(self, slot: int, args: Tuple, **options: Any) -> None:
        """Queue a command whose slot the caller knows already."""
        self._outputs.append(len(self._commands))
        self._commands.append(_Command(slot, args, options))

    def execute_command(self, *args: Any, **options: Any) -> "SlotPipeline":
        self.queue(slot_of(args), args, **options)
        return self

    # queues, so returns the pipeline where CoreCommands.mget returns the values
    def mget(self, keys: Any, *args: Any) -> "SlotPipeline":  # type: ignore[override]
        keys = list(keys) + list(args) if isinstance(keys, (list, tuple)) else [keys, *args]
        by_slot: Dict[int, List[int]] = {}
        for position, key in enumerate(keys):
            by_slot.setdefault(slot_of(("MGET", key)), []).append(position)
        if len(by_slot) <= 1:
            return self.execute_command("MGET", *keys)
        parts = []
        for slot, positions in by_slot.items():
            parts.append((len(self._commands), positions))
            self._commands.append(_Command(slot, ("MGET", *[keys[p] for p in positions]), {}))
        self._outputs.append((parts, len(keys)))
        return self

    # -- running ----------------------------------------------------------
    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """One reply per queued command (an exception for a failed one; raised instead when
        ``raise_on_error``). Raises a RedisError when a node stays unreachable."""
        replies = self._run()
        out: List[Any] = []
        for output in self._outputs:
            if isinstance(output, int):
                out.append(replies[output])
                continue
            parts, length = output
            merged: List[Any] = [None] * length
            failed = None
            for index, positions in parts:
                reply = replies[index]
                if isinstance(reply, Exception):
                    failed = reply
                    break
                for position, value in zip(positions, reply):
                    merged[position] = value
            out.append(failed if failed is not None else merged)
        self._commands, self._outputs = [], []
        if raise_on_error:
            for reply in out:
                if isinstance(reply, Exception):
                    raise reply
        return out

    def _run(self) -> List[Any]:
        replies: List[Any] = [None] * len(self._commands)
        pending = list(range(len(self._commands)))
        for delay in (*self.delays, None):
            retry, refresh = self._attempt(pending, replies)
            if not retry:
                break
            if delay is None:  # out of attempts: a lost node is an error, a refusal a reply
                for index in retry:
                    if isinstance(replies[index], _LOST + (RedisClusterException,)):
                        raise _as_redis_error(replies[index])
                break
            log.info("redis cluster: %d command(s) sent again in %.2fs (%s)", len(retry), delay,
                     replies[retry[-1]])
            sleep(delay)
            if refresh:
                self._refresh()
            pending = retry
        for command, index in zip(self._commands, range(len(replies))):
            if command.parts is not None:
                values = [replies[part] for part in command.parts]
                failed = [value for value in values if isinstance(value, Exception)]
                replies[index] = failed[0] if failed else _SPLIT[_name(command.args)][1](values)
        return replies

    def _attempt(self, pending: List[int], replies: List[Any]) -> Tuple[List[int], bool]:
        """Send ``pending`` once, storing each reply (or error) in ``replies``; returns what to
        send again and whether the topology must be read again first."""
        by_node: Dict[str, Tuple[ClusterNode, List[int]]] = {}
        retry: List[int] = []
        refresh = False
        for index in pending:
            command = self._commands[index]
            node = command.target
            if node is None:
                try:
                    node = self.client.nodes_manager.get_node_from_slot(command.slot)
                except (RedisClusterException, RedisError, IndexError) as err:
                    replies[index] = err if isinstance(err, Exception) else None
                    retry.append(index)
                    refresh = True
                    continue
            by_node.setdefault(node.name, (node, []))[1].append(index)
        groups = list(by_node.values())
        outcomes = run_at_once([partial(self._send, node, indices) for node, indices in groups],
                               self.executor)
        for (node, indices), (node_replies, error) in zip(groups, outcomes):
            if error is not None:
                if not (self.idempotent and isinstance(error, _LOST + (RedisClusterException,))):
                    raise _as_redis_error(error)
                retry.extend(indices)
                refresh = True
                for index in indices:
                    replies[index] = error
                    self._commands[index].target = None
                continue
            for index, reply in zip(indices, node_replies or ()):
                replies[index] = reply
                command = self._commands[index]
                if isinstance(reply, TryAgainError) and _name(command.args) in _SPLIT \
                        and len(command.args) > 2:
                    retry.extend(self._split(command, replies))
                elif isinstance(reply, _RETRYABLE_REPLIES):
                    refresh = self._redirect(command, reply) or refresh
                    retry.append(index)
        return retry, refresh

    def _split(self, command: _Command, replies: List[Any]) -> List[int]:
        """Replace an MGET (UNLINK) by one GET (UNLINK) per key, each free to follow its own
        ASK; returns their indices."""
        single = _SPLIT[_name(command.args)][0]
        command.parts = []
        for key in command.args[1:]:
            command.parts.append(len(self._commands))
            self._commands.append(_Command(command.slot, (single, key), {}))
            replies.append(None)
        return command.parts

    def _redirect(self, command: _Command, reply: Exception) -> bool:
        """Prepare a command refused by ``reply`` for its next attempt; True: read the topology."""
        if isinstance(reply, NoScriptError) and command.args[0] == "EVALSHA":
            # same node, same ASKING: a node importing a slot may not have the script yet
            command.args = ("EVAL", self.scripts[command.args[1]], *command.args[2:])
            return False
        command.asking = False
        if isinstance(reply, AskError):  # MOVED too (a subclass)
            node = self._node(reply.host, reply.port)
            command.target = node
            command.asking = not isinstance(reply, MovedError)
            return isinstance(reply, MovedError)
        command.target = None
        return isinstance(reply, ClusterDownError)

    def _node(self, host: str, port: int) -> ClusterNode:
        node = self.client.nodes_manager.get_node(host=host, port=port)
        if node is None:
            node = ClusterNode(host, port)
        return node

    def _send(self, node: ClusterNode, indices: List[int]) -> List[Any]:
        """The replies of one node's commands: one pipeline, one round trip."""
        pipe = self.client.get_redis_connection(node).pipeline(transaction=False)
        asking = []
        for index in indices:
            command = self._commands[index]
            if command.asking:
                pipe.execute_command("ASKING")
                asking.append(len(pipe) - 1)
            pipe.execute_command(*command.args, **command.options)
        replies = pipe.execute(raise_on_error=False)
        if asking:
            skip = set(asking)
            replies = [reply for position, reply in enumerate(replies) if position not in skip]
        return replies

    def _refresh(self) -> None:
        """Read the slot map again (from any node that answers)."""
        try:
            self.client.nodes_manager.initialize()
        except (RedisError, RedisClusterException) as err:
            log.info("redis cluster: the slot map could not be read again yet: %s", err)


def _name(args: Tuple) -> str:
    name = args[0]
    return (name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)).upper()


def _as_redis_error(error: BaseException) -> RedisError:
    if isinstance(error, RedisError):
        return error
    return ClusterError("%s: %s" % (type(error).__name__, error))
