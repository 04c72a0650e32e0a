"""Run a batch of Redis write commands server-side, a few thousand per EVAL.

A ``bulk_insert`` of 100 000 points is several hundred thousand SET / INCRBY /
EXPIREAT commands; queued one by one on a redis-py pipeline, the client spends
tens of microseconds on each (building, packing, parsing its reply), far more
than Redis does. Here the commands travel as the arguments of one Lua script per
chunk, which runs them in order and answers once. The commands and their effects
are exactly those of the pipeline, INCRBY on a count holding a float included
(redone as INCRBYFLOAT). Like the pipeline it is not a transaction: an error
stops the chunk it occurs in.

Encoding (KEYS[c] is the key of entry c; ARGV holds each entry's op and arguments):

====  ==============================  ==================================================
op    arguments                       runs
====  ==============================  ==================================================
S     value, expiry or ""             SET key value [EXAT expiry] (EXPIREAT before 6.2)
I     amount, expiry or ""            INCRBY (INCRBYFLOAT on a float) [+ EXPIREAT]
F     amount, expiry or ""            INCRBYFLOAT [+ EXPIREAT]
C     command, n, n arguments         any other command, as given
====  ==============================  ==================================================
"""
from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

from redis.exceptions import RedisError

#: entries per script call: keeps each call (which blocks Redis) to a few milliseconds
CHUNK = 2000
_FOLDED = {"set": "S", "incrby": "I", "incrbyfloat": "F"}

_RUN = """
-- SET ... EXAT (Redis >= 6.2) sets a value and its expiry in one command
local exat = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 393728
local a = 1
for c = 1, #KEYS do
  local key = KEYS[c]
  local op = ARGV[a]
  if op == 'C' then
    local n = tonumber(ARGV[a + 2])
    local args = {}
    for j = 1, n do args[j] = ARGV[a + 2 + j] end
    redis.call(ARGV[a + 1], key, unpack(args))
    a = a + 3 + n
  else
    local value = ARGV[a + 1]
    local expiry = ARGV[a + 2]
    if op == 'S' and exat and expiry ~= '' then
      redis.call('set', key, value, 'exat', expiry)
      expiry = ''
    elseif op == 'S' then
      redis.call('set', key, value)
    elseif op == 'F' then
      redis.call('incrbyfloat', key, value)
    else
      local reply = redis.pcall('incrby', key, value)
      if type(reply) == 'table' and reply.err then
        if string.find(reply.err, 'not an integer', 1, true) then
          redis.call('incrbyfloat', key, value)
        else
          return redis.error_reply(reply.err)
        end
      end
    end
    if expiry ~= '' then redis.call('expireat', key, expiry) end
    a = a + 3
  end
end
return #KEYS
"""


def _encode(commands: Sequence[Tuple]) -> Tuple[List[Any], List[Any]]:
    """KEYS and ARGV for ``commands``; a write followed by EXPIREAT of its key becomes one entry."""
    keys: List[Any] = []
    args: List[Any] = []
    index, total = 0, len(commands)
    while index < total:
        command = commands[index]
        name, key = command[0], command[1]
        op = _FOLDED.get(name) if len(command) == 3 else None
        if op is None:
            keys.append(key)
            args.append("C")
            args.append(name)
            args.append(len(command) - 2)
            args.extend(command[2:])
            index += 1
            continue
        following = commands[index + 1] if index + 1 < total else None
        keys.append(key)
        args.append(op)
        args.append(command[2])
        if following is not None and following[0] == "expireat" and following[1] == key:
            args.append(following[2])
            index += 2
        else:
            args.append("")
            index += 1
    return keys, args


def run(client: Any, commands: Sequence[Tuple], error: Callable[[Exception], Exception]) -> None:
    """Execute ``(name, key, *args)`` commands in order, in one round trip."""
    if not commands:
        return
    keys, args = _encode(commands)
    pipe = client.pipeline(transaction=False)
    start = 0
    position = 0
    while start < len(keys):
        end = min(start + CHUNK, len(keys))
        # the ARGV slice of entries start..end: walk it (entries have 3 or 3+n values)
        first = position
        for _ in range(start, end):
            position += 3 + (args[position + 2] if args[position] == "C" else 0)
        # EVAL, not EVALSHA: no SCRIPT EXISTS round trip; Redis compiles the script once
        pipe.eval(_RUN, end - start, *keys[start:end], *args[first:position])
        start = end
    try:
        replies = pipe.execute(raise_on_error=False)
    except RedisError as err:
        raise error(err) from err
    for reply in replies:
        if isinstance(reply, Exception):
            raise error(reply) from reply
