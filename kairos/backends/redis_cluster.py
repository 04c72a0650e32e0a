"""The Redis engine on Redis Cluster: the same structures and scripts, keys spread by shard.

``Timeseries("redis+cluster://host:port,host:port/?socket_timeout=5", ...)`` (or
``rediss+cluster://``, or a ``redis.cluster.RedisCluster`` object) stores every
bucket as the single-Redis engine does (``redis_store``), under the key layout of
``redis_cluster_keys``: all keys of a stat share the hash slot of its shard. What
differs is how commands travel (``redis_cluster_pipeline``):

* a ``bulk_insert`` is grouped per shard, one Lua call of ``redis_bulk`` per shard
  (more when a shard's part is large), each with the batch's marker for that shard,
  so each call stays atomic and applied at most once; the calls go as one pipeline
  per primary, every primary at the same time;
* reads group their keys per node the same way; an MGET is split per slot;
* ``list``, ``delete_all`` and ``rebuild_index`` SCAN every primary; ``delete`` and
  ``properties`` of one stat scan only the primary of its shard;
* MOVED, ASK, TRYAGAIN, CLUSTERDOWN and lost connections are retried a bounded number
  of times (about 5 s: long enough for a replica to take over a failed primary). A
  batch sent again after a lost reply changes nothing, thanks to its markers; a batch
  without ``batch_id`` is never sent again after a lost reply (its fate is unknown).

Replication is asynchronous in Redis Cluster: a primary that dies before its replica
received its last writes loses them, acknowledged or not. A primary stopped with
SIGTERM first waits for its replicas (Redis 7's ``shutdown-timeout``).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (AskError, ClusterDownError, ConnectionError, MovedError,
                              RedisClusterException, RedisError, TimeoutError, TryAgainError)

from ..cooperative import sockets_patched
from ..exceptions import BackendError, ConfigError
from ..registry import redact_url
from . import redis_bulk
from .redis_cluster_keys import DEFAULT_SHARDS, ShardedHashKeyScheme, ShardedKeyScheme
from .redis_cluster_pipeline import RETRY_DELAYS, SlotPipeline, sleep
from .redis_keys import ParsedKey
from .redis_store import (CLIENT_DEFAULTS, DEFAULT_BATCH_TTL, DELETE_CHUNK, SCAN_COUNT,
                          RedisTimeseries)

log = logging.getLogger(__name__)

SCHEMES = ("redis+cluster", "rediss+cluster")


def parse_url(url: str) -> Tuple[str, List[ClusterNode]]:
    """``redis+cluster://[user:password@]host:port,host:port[/0][?options]`` -> the URL of
    its first node (credentials and options kept, for redis-py) and the other nodes."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in SCHEMES or not sep:
        raise ConfigError("a Redis Cluster URL starts with redis+cluster:// or rediss+cluster://, "
                          "not %s" % redact_url(url))
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0] or [len(rest)])
    netloc, tail = rest[:cut], rest[cut:]
    credentials, at, hosts = netloc.rpartition("@")
    nodes = []
    for address in hosts.split(","):
        try:
            parts = urlsplit("//" + address.strip())
            host, port = parts.hostname, parts.port or 6379
        except ValueError as err:
            raise ConfigError("bad node %r in %s: %s" % (address, redact_url(url), err)) from None
        if not host:
            raise ConfigError("a node without a host in %s" % redact_url(url))
        nodes.append(ClusterNode(host, port))
    first = "%s://%s%s:%d%s" % (scheme.lower().split("+")[0], credentials + at, nodes[0].host,
                                nodes[0].port, tail)
    return first, nodes[1:]


class RedisClusterTimeseries(RedisTimeseries):
    """A timeseries stored in a Redis Cluster (see the module docstring)."""

    options = "prefix, client_config, batch_ttl, layout, shards"
    #: a batch goes to many primaries at once (``redis_cluster_pipeline``): one stream would not do
    pipelined = False
    #: ``_apply`` splits a batch write by write between the shards: no groups
    groups_writes = False
    keys: ShardedKeyScheme  # set by RedisTimeseries._setup from _key_scheme

    def _setup(self, client: Any, prefix: Optional[str] = None,
               client_config: Optional[dict] = None, batch_ttl: int = DEFAULT_BATCH_TTL,
               layout: Optional[str] = None, shards: int = DEFAULT_SHARDS, **unknown: Any) -> None:
        # every option named here: torus.schema.engine_options reads the accepted keys off it
        self.shards = shards
        self._executor: Optional[ThreadPoolExecutor] = None
        super()._setup(client, prefix, client_config, batch_ttl, layout, **unknown)
        self.where = describe(self.client)

    def _connect(self, client: Any, client_config: Optional[dict]) -> Any:
        if isinstance(client, RedisCluster):
            if client_config:
                raise ConfigError("client_config only applies when the client is a URL")
            return client
        if not isinstance(client, str):
            raise ConfigError("the Redis Cluster engine takes a redis+cluster:// URL or a "
                              "redis.cluster.RedisCluster client, not %r" % (client,))
        first, others = parse_url(client)
        options = dict(CLIENT_DEFAULTS)
        options.update(client_config or {})
        try:
            return RedisCluster(url=first, startup_nodes=others,
                                connection_pool_class=redis.BlockingConnectionPool, **options)
        except (RedisError, RedisClusterException, ValueError, TypeError) as err:
            raise BackendError("cannot connect to the Redis Cluster %s: %s: %s"
                               % (redact_url(client), type(err).__name__, err)) from None

    def _key_scheme(self, prefix: Optional[str], hashed: bool) -> ShardedKeyScheme:
        if hashed:
            return ShardedHashKeyScheme(prefix, self.intervals, self.shards)
        return ShardedKeyScheme(prefix, self.intervals, self.shards)

    def __repr__(self) -> str:
        return "RedisClusterTimeseries(%s, type=%r, prefix=%r)" % (self.where, self.type,
                                                                  self.keys.prefix)

    def _release(self) -> None:
        """Close the connections of a client built from the URL (one passed in is its owner's)."""
        self.client.close()

    def close(self) -> None:
        """Close as every engine does, and stop the threads that send to the nodes."""
        super().close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # -- plumbing ---------------------------------------------------------
    def _pipeline(self, idempotent: bool = True) -> SlotPipeline:
        """A pipeline sending to every node at once: greenlets under gevent, else threads."""
        if self._executor is None and not sockets_patched():
            self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kairos-cluster")
        return SlotPipeline(self.client, idempotent=idempotent,
                            scripts={redis_bulk.SCRIPT_SHA: redis_bulk.SCRIPT},
                            executor=self._executor)

    def _primaries(self, pattern: str) -> List[ClusterNode]:
        """The primaries that can hold keys matching ``pattern``: every primary, or for a
        one-stat pattern the nodes holding its slot (``_slot_nodes``)."""
        slot = self.keys.pattern_slot(pattern)
        if slot is None:
            return self.client.get_primaries()
        return self._slot_nodes(slot)

    def _slot_nodes(self, slot: int) -> List[ClusterNode]:
        """The node serving ``slot`` now, and while the slot migrates the node importing it.

        SCAN names no key, so no node answers it MOVED or ASK: a client whose slot map is
        stale would scan the old owner and find nothing. A probe (EXISTS of a key of the
        slot that is never written) asks first: MOVED reads the map again, ASK names the
        node importing the slot. Keys only move from the migrating node to the importing
        one, so scanning them in that order meets every key at least once.
        """
        shard = self.keys.slots.index(slot)
        probe = "%s{%d}!probe" % (self.keys.prefix, shard)
        manager = self.client.nodes_manager
        last: Exception = BackendError("slot %d of %s kept moving" % (slot, self.where))
        for delay in (*RETRY_DELAYS, None):
            try:
                node = manager.get_node_from_slot(slot)
                self.client.get_redis_connection(node).exists(probe)
                return [node]
            except MovedError as err:
                last = err
            except AskError as err:
                return [node, manager.get_node(host=err.host, port=err.port)
                        or ClusterNode(err.host, err.port)]
            except (TryAgainError, ClusterDownError, ConnectionError, TimeoutError,
                    RedisClusterException) as err:
                last = err
            if delay is None:
                break
            sleep(delay)
            try:
                manager.initialize()
            except (RedisError, RedisClusterException) as err:
                log.info("redis cluster: the slot map could not be read again yet: %s", err)
        raise last

    def _scan(self, pattern: str, parse: Optional[Callable[[Any], Optional[ParsedKey]]] = None,
              count: int = SCAN_COUNT) -> Iterator[Tuple[Any, ParsedKey]]:
        """Keys of this timeseries matching ``pattern``, from every primary that can hold one
        (a key met on two nodes of a migrating slot is given once)."""
        parse = parse or self.keys.parse
        try:
            nodes = self._primaries(pattern)
            seen: Optional[set] = set() if len(nodes) > 1 and \
                self.keys.pattern_slot(pattern) is not None else None
            for node in nodes:
                for key in self.client.get_redis_connection(node).scan_iter(match=pattern,
                                                                           count=count):
                    if seen is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    parsed = parse(key)
                    if parsed is not None:
                        yield key, parsed
        except (RedisError, RedisClusterException) as err:
            raise self._error(err) from err

    def _unlink(self, keys: Iterator[Any]) -> int:
        """UNLINK per slot (a command may not span slots), ``DELETE_CHUNK`` keys per pipeline."""
        deleted = 0
        chunk: List[Any] = []

        def flush() -> int:
            by_slot: Dict[int, List[Any]] = {}
            for key in chunk:
                by_slot.setdefault(self.keys.slots[self.keys.shard_of_key(_text(key))], []).append(key)
            pipe = self._pipeline()
            for slot, slot_keys in by_slot.items():
                pipe.queue(slot, ("UNLINK", *slot_keys))
            replies = self._execute(pipe)
            self._raise_first(replies)
            chunk.clear()
            return sum(replies)

        for key in keys:
            chunk.append(key)
            if len(chunk) >= DELETE_CHUNK:
                deleted += flush()
        if chunk:
            deleted += flush()
        return deleted

    def _execute(self, pipe: Any) -> List[Any]:
        try:
            return pipe.execute(raise_on_error=False)
        except (RedisError, RedisClusterException) as err:
            raise self._error(err) from err

    def ping(self) -> None:
        """PING every primary (a readiness probe: every shard must be writable)."""
        pipe = self._pipeline()
        for node in self.client.get_primaries():
            pipe.queue(self.keys.slots[0], ("PING",))
            pipe._commands[-1].target = node
        self._raise_first(self._execute(pipe))

    # -- writing ----------------------------------------------------------
    def _apply(self, writes: "redis_bulk.Writes", batch_id: Optional[str], before: Sequence[Tuple],
               replies: List[Any]) -> Tuple[List["redis_bulk.Refusal"], List[str]]:
        """One script call per shard (``redis_bulk`` chunks), each with its shard's marker,
        pipelined per primary, every primary at once; ``before`` on the nodes of its keys."""
        if not writes:
            return [], []
        keys, args, sizes = writes.keys, writes.args, writes.sizes
        shard_of_key = self.keys.shard_of_key
        by_shard: Dict[int, List[int]] = {}
        starts: List[int] = []
        position = 0
        for index, key in enumerate(keys):
            by_shard.setdefault(shard_of_key(key), []).append(index)
            starts.append(position)
            position += sizes[index]
        markers = [] if batch_id is None else [self.keys.marker(batch_id, shard)
                                               for shard in sorted(by_shard)]
        pipe = self._pipeline(idempotent=batch_id is not None)
        for command in before:
            pipe.execute_command(*command)
        calls: List[Tuple[List[int], int]] = []  # (the shard's write indices, first of the call)
        for number, shard in enumerate(sorted(by_shard)):
            indices = by_shard[shard]
            shard_keys = [keys[i] for i in indices]
            shard_sizes = [sizes[i] for i in indices]
            shard_args: List[Any] = []
            for i in indices:
                shard_args.extend(args[starts[i]:starts[i] + sizes[i]])
            for part, (start, end, first_arg, end_arg) in enumerate(redis_bulk.chunks(shard_sizes)):
                if batch_id is None:
                    head_keys: Tuple = ()
                    head_args: Tuple = ("", self.batch_ttl)
                else:
                    head_keys, head_args = (markers[number],), (str(part), self.batch_ttl)
                pipe.queue(self.keys.slots[shard],
                           ("EVALSHA", redis_bulk.SCRIPT_SHA, end - start + len(head_keys),
                            *head_keys, *shard_keys[start:end], *head_args,
                            *shard_args[first_arg:end_arg]))
                calls.append((indices, start))
        answers = self._execute(pipe)
        replies.extend(answers[:len(before)])
        refused: List[redis_bulk.Refusal] = []
        for (indices, start), answer in zip(calls, answers[len(before):]):
            if isinstance(answer, Exception):
                raise self._error(answer) from answer
            refused.extend(redis_bulk.Refusal(indices[start + index], reason)
                           for index, reason in redis_bulk.refusals(answer))
        return sorted(refused), markers


def _text(key: Any) -> str:
    return key.decode("utf-8") if isinstance(key, bytes) else key


def describe(client: RedisCluster) -> str:
    """"redis cluster at 127.0.0.1:7000,127.0.0.1:7001,..." (its startup nodes), for messages."""
    try:
        names = [node.name for node in client.nodes_manager.startup_nodes.values()]
    except AttributeError:
        return "redis cluster %r" % (client,)
    return "redis cluster at %s" % ",".join(names[:6])
