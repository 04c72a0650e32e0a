"""Run a batch of bucket writes server-side, a few thousand per Lua call, at most once per batch.

A ``bulk_insert`` of 100,000 points is several hundred thousand writes; queued one
by one on a redis-py pipeline the client spends tens of microseconds on each, far
more than Redis does. Here the writes travel as the arguments of one Lua script per
chunk, all chunks in one round trip. Each script call is atomic (Redis runs nothing
else meanwhile) and, given a batch id, idempotent:

* the batch's marker is a hash ``{prefix}!batch:{batch id}`` with one field per
  chunk; a chunk whose field exists is not applied again, so a retry of a batch
  whose reply was lost (a timeout, a dropped connection) changes nothing;
* a write Redis refuses (a key of another type, a total that would not be a finite
  number) is skipped alone: the others of the chunk are applied, the refusals are
  recorded in the marker field and returned, every time the chunk is sent.

Encoding: KEYS[1] is the marker (when ARGV[1], the chunk's field, is not empty),
then one key per write; ARGV[2] is the marker's TTL in seconds, then each write as
``op, expiry or "", n, n arguments``:

====  ============  ==============================================================
op    arguments     runs
====  ============  ==============================================================
S     value         SET (with EXAT expiry when the server has it)
I     amount        INCRBY; on a float or a 64-bit overflow, the float path (F)
F     amount        INCRBYFLOAT, refused when the total would not be finite
H     field, count  HINCRBY
L     values        RPUSH, 1,000 values per call (no limit on a batch's values)
A     members       SADD, 1,000 members per call
====  ============  ==============================================================

A key's EXPIREAT runs once per call, after its writes, and only when one of them
succeeded (a refused key of another application keeps its own TTL).
"""
from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from redis.exceptions import RedisError

#: writes per script call: keeps each call (which blocks Redis) to a few milliseconds
CHUNK = 2000
#: ... and at most this many arguments (series and sets carry many values per write)
CHUNK_ARGS = 20000

_RUN = """
local exat = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 393728
local field = ARGV[1]
local first = 1
if field ~= '' then
  local done = redis.call('hget', KEYS[1], field)
  if done then return {1, done} end
  first = 2
end

local function add_float(key, amount)
  local current = redis.call('get', key)
  local total = tonumber(amount)
  if current then
    local stored = tonumber(current)
    if not stored then error('the stored value is not a number') end
    total = total + stored
  end
  if total ~= total or total == math.huge or total == -math.huge then
    error('the total would not be a finite number')
  end
  redis.call('incrbyfloat', key, amount)
end

local function push(command, key, from, n)
  local i = from
  local last = from + n - 1
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call(command, key, unpack(ARGV, i, j))
    i = j + 1
  end
end

-- returns true when the expiry was set with the write itself
local function apply(op, key, expiry, a, n)
  if op == 'S' then
    if exat and expiry ~= '' then
      redis.call('set', key, ARGV[a], 'exat', expiry)
      return true
    end
    redis.call('set', key, ARGV[a])
  elseif op == 'I' then
    local reply = redis.pcall('incrby', key, ARGV[a])
    if type(reply) == 'table' and reply.err then
      if string.find(reply.err, 'not an integer', 1, true)
          or string.find(reply.err, 'overflow', 1, true) then
        add_float(key, ARGV[a])
      else
        error(reply.err)
      end
    end
  elseif op == 'F' then
    add_float(key, ARGV[a])
  elseif op == 'H' then
    redis.call('hincrby', key, ARGV[a], ARGV[a + 1])
  elseif op == 'L' then
    push('rpush', key, a, n)
  elseif op == 'A' then
    push('sadd', key, a, n)
  else
    error('unknown write ' .. op)
  end
  return false
end

local refused = {}
local expiring = {}
local keys = {}
local a = 3
for c = first, #KEYS do
  local key = KEYS[c]
  local op, expiry, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local ok, result = pcall(apply, op, key, expiry, a + 3, n)
  if not ok then
    if type(result) == 'table' then result = result.err end
    refused[#refused + 1] = (c - first) .. ' ' .. tostring(result)
  elseif expiry ~= '' and not result and not expiring[key] then
    expiring[key] = expiry
    keys[#keys + 1] = key
  end
  a = a + 3 + n
end
for i = 1, #keys do
  redis.call('expireat', keys[i], expiring[keys[i]])
end
local record = table.concat(refused, '\\n')
if field ~= '' then
  redis.call('hset', KEYS[1], field, record)
  redis.call('expire', KEYS[1], ARGV[2])
end
return {0, record}
"""


class Write(NamedTuple):
    """One bucket write: ``op`` (S I F H L A), its key, expiry (or None) and arguments."""

    op: str
    key: str
    expiry: Optional[int]
    args: Tuple[Any, ...]


class Refusal(NamedTuple):
    """A write Redis refused: its index in the batch, and why."""

    index: int
    reason: str


def chunks(writes: Sequence[Write]) -> List[Tuple[int, int]]:
    """``(start, end)`` slices of ``writes``, each one script call (deterministic: a retry of
    the same writes is cut the same way, so each chunk keeps its marker field)."""
    out = []
    start = 0
    while start < len(writes):
        end = start
        args = 0
        while end < len(writes) and end - start < CHUNK and (end == start or args < CHUNK_ARGS):
            args += 3 + len(writes[end].args)
            end += 1
        out.append((start, end))
        start = end
    return out


def _arguments(writes: Sequence[Write]) -> Tuple[List[Any], List[Any]]:
    keys: List[Any] = []
    args: List[Any] = []
    for write in writes:
        keys.append(write.key)
        args.append(write.op)
        args.append("" if write.expiry is None else write.expiry)
        args.append(len(write.args))
        args.extend(write.args)
    return keys, args


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def run(client: Any, writes: Sequence[Write], error: Callable[[Exception], Exception],
        marker: Optional[str] = None, ttl: int = 86400, before: Sequence[Tuple] = ()) -> List[Refusal]:
    """Apply ``writes`` in order, in one round trip; returns the writes Redis refused.

    With a ``marker`` key, each chunk is applied at most once (see the module
    docstring) and the marker lives ``ttl`` seconds. ``before``: plain commands sent
    first in the same round trip (their replies are ignored). Connection and
    protocol failures raise ``error(exc)``; the batch may then be applied or not,
    and sending it again with the same marker is safe.
    """
    if not writes:
        return []
    pipe = client.pipeline(transaction=False)
    for command in before:
        pipe.execute_command(*command)
    slices = chunks(writes)
    for number, (start, end) in enumerate(slices):
        keys, args = _arguments(writes[start:end])
        if marker is None:
            head_keys, head_args = [], ["", ttl]
        else:
            head_keys, head_args = [marker], [str(number), ttl]
        # EVAL, not EVALSHA: no SCRIPT EXISTS round trip; Redis compiles the script once
        pipe.eval(_RUN, len(keys) + len(head_keys), *head_keys, *keys, *head_args, *args)
    try:
        replies = pipe.execute(raise_on_error=False)
    except RedisError as err:
        raise error(err) from err
    refused: List[Refusal] = []
    for (start, _), reply in zip(slices, replies[len(before):]):
        if isinstance(reply, Exception):
            raise error(reply) from reply
        record = _text(reply[1])
        for line in record.split("\n") if record else ():
            index, _, reason = line.partition(" ")
            refused.append(Refusal(start + int(index), reason))
    return refused
