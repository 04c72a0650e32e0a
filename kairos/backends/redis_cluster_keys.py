"""The key layout of kairos on Redis Cluster: the single-Redis layout behind a shard hash tag.

Every bucket key carries ``{shard}`` right after the prefix::

    {prefix}{{shard}}{name}:{interval}:{i_key}[:{r_key}]     stats:{17}hits:minute:29348160
    {prefix}{{shard}}!batch:{batch id}                       the exactly-once marker of a batch's
                                                             writes to that shard

``shard`` is ``CRC16(escaped name) % shards`` (the CRC Redis Cluster itself uses;
``shards`` defaults to 256 and is fixed for the life of the data). Redis hashes only
the text between the first braces, so every key of a stat, in every interval, lies
in the slot of its shard: a stat's reads go to one node, and a batch's writes are
one Lua call per shard touched, with one marker per shard in the same slot. Tagging
by shard rather than by stat name bounds what a batch costs: at most ``shards``
calls and markers, however many stats it carries (a 20,000-stat batch tagged per
name would leave 20,000 marker keys behind it). 256 shards spread over 3 primaries
give each 31-36 % of the shards.

The name index stays one sorted set ``{prefix}!names`` (no braces: Redis hashes
the whole key), so it lives on one node, as on a single Redis. Prefixes holding
"{" or "}" are refused: they would move every key's hash tag.
"""
from __future__ import annotations

from binascii import crc_hqx
from typing import Dict, List, Optional, Union

from redis.crc import key_slot

from ..exceptions import ConfigError, InvalidValue
from ..intervals import Interval
from .redis_keys import (HashKeyScheme, KeyScheme, ParsedKey, escape_name, glob_escape,
                         unescape_name)

DEFAULT_SHARDS = 256


def check_shards(shards: object) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 16384:
        raise ConfigError("shards must be a whole number from 1 to 16384, not %r" % (shards,))
    return shards


class ShardedKeyScheme(KeyScheme):
    """``KeyScheme`` with a ``{shard}`` hash tag after the prefix (see the module docstring)."""

    def __init__(self, prefix: Optional[str], intervals: Dict[str, Interval],
                 shards: int = DEFAULT_SHARDS):
        super().__init__(prefix, intervals)
        if "{" in self.prefix or "}" in self.prefix:
            raise ConfigError("a Redis Cluster prefix cannot hold '{' or '}' (they would change "
                              "the hash slot of every key): %r" % (self.prefix,))
        self.shards = check_shards(shards)
        self._tags = ["%s{%d}" % (self.prefix, shard) for shard in range(self.shards)]
        self.slots = [key_slot(b"%d" % shard) for shard in range(self.shards)]

    def shard(self, name: str) -> int:
        """The shard of a stat name."""
        return crc_hqx(escape_name(name).encode("utf-8"), 0) % self.shards

    def shard_of_key(self, key: str) -> int:
        """The shard of a key this scheme built (read back from its tag)."""
        start = len(self.prefix) + 1
        return int(key[start:key.index("}", start)])

    def key(self, name: str, interval: str, i_key: int, r_key: Optional[int] = None) -> str:
        escaped = escape_name(name)
        tag = self._tags[crc_hqx(escaped.encode("utf-8"), 0) % self.shards]
        if r_key is None:
            return "%s%s:%s:%d" % (tag, escaped, interval, i_key)
        return "%s%s:%s:%d:%d" % (tag, escaped, interval, i_key, r_key)

    def key_base(self, name: str, interval: str) -> str:
        return "%s%s:%s:" % (self._tags[self.shard(name)], escape_name(name), interval)

    def marker(self, batch_id: str, shard: int = 0) -> str:
        """The marker of a batch's writes to one shard (in that shard's slot)."""
        if not isinstance(batch_id, str) or not batch_id:
            raise InvalidValue("batch_id must be a non-empty string, not %r" % (batch_id,))
        return "%s!batch:%s" % (self._tags[shard], escape_name(batch_id))

    def all_pattern(self) -> str:
        return glob_escape(self.prefix) + "{*"

    def name_pattern(self, name: str) -> str:
        return glob_escape(self._tags[self.shard(name)] + escape_name(name)) + ":*"

    def pattern_slot(self, pattern: str) -> Optional[int]:
        """The one slot a ``name_pattern`` can match keys in (None: any slot)."""
        if not pattern.startswith(self.prefix + "{") or "}" not in pattern:
            return None
        try:
            return self.slots[self.shard_of_key(pattern)]
        except (ValueError, IndexError):
            return None

    def _own_parts(self, key: Union[str, bytes]) -> Optional[List[str]]:
        """The parts after the tag of a key this scheme writes: the prefix, then a tag that
        is the shard of the key's name; else None (``KeyScheme.parse`` reads the rest)."""
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                return None
        start = len(self.prefix) + 1
        if not key.startswith(self.prefix + "{"):
            return None
        end = key.find("}", start)
        digits = key[start:end]
        if end < 0 or not digits.isdigit() or str(int(digits)) != digits:
            return None
        parts = key[end + 1:].split(":")
        name = unescape_name(parts[0])
        if name is None or self.shard(name) != int(digits):
            return None
        return parts


class ShardedHashKeyScheme(ShardedKeyScheme, HashKeyScheme):
    """The hash layout (``HashKeyScheme``) on Redis Cluster: window hashes behind the shard
    tag of their stat, ``{prefix}{{shard}}{name}:{interval}:#{window}``, so a batch's
    writes to a stat's hashes stay in its shard's Lua call."""

    def hash_key(self, name: str, interval: str, window: int) -> str:
        escaped = escape_name(name)
        tag = self._tags[crc_hqx(escaped.encode("utf-8"), 0) % self.shards]
        return "%s%s:%s:#%d" % (tag, escaped, interval, window)

    def parse(self, key: Union[str, bytes]) -> Optional[ParsedKey]:
        return HashKeyScheme.parse(self, key)
