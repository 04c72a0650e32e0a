"""Run a batch of bucket writes server-side, a few thousand per Lua call, at most once per batch.

A ``bulk_insert`` of 100,000 points is several hundred thousand writes; queued one
by one on a redis-py pipeline the client spends tens of microseconds on each, far
more than Redis does. Here the writes travel as the arguments of one Lua script per
chunk, all chunks in one round trip. Each script call is atomic (Redis runs nothing
else meanwhile) and, given a batch id, idempotent:

* the batch's marker is a hash ``{prefix}!batch:{batch id}`` with one field per
  chunk; a chunk whose field exists is not applied again, so a retry of a batch
  whose reply was lost (a timeout, a dropped connection) changes nothing;
* a write Redis refuses for its value (a key of another type, a total that would
  not be a finite number) is skipped alone: the others of the chunk are applied,
  the refusals are recorded in the marker field and returned, every time the chunk
  is sent. Any other error (out of memory, a read-only replica: Redis refuses
  those at a call's first write) fails the call, for the caller to retry.

Encoding: KEYS[1] is the marker (when ARGV[1], the chunk's field, is not empty),
then one key per write; ARGV[2] is the marker's TTL in seconds (``ttl/n``: the last key is
then the marker of the batch sent before, which must hold its n chunks, see ``commands``),
then each write as ``op, expiry or "", arguments``:

====  ==================  ==============================================================
op    arguments           runs
====  ==================  ==============================================================
S     value               SET (with EXAT expiry when the server has it)
I     amount              INCRBY; on a float or a 64-bit overflow, the float path (F)
F     amount              INCRBYFLOAT, refused when the total would not be finite
H     field, count        HINCRBY
L     n, n values         RPUSH, 1,000 values per call (no limit on a bucket's values)
A     n, n members        SADD, 1,000 members per call
C     field, amount       HINCRBY of a window hash's field; on a float or overflow, D
D     field, amount       HINCRBYFLOAT, refused when the total would not be finite
G     field, value        HSET of a window hash's field
c d g field, argument      C, D, G without an expiry argument (written ``op, arguments``):
                          most window-hash writes, whose EXPIREAT is already set
*c    field, n, n amounts c of ``field`` in each of the next n keys, one amount each (a
*d                        group: written ``op, field, n, amounts``, no expiry); *d and *g
*g                        likewise: the writes of one bucket (one field) in many hashes
====  ==================  ==============================================================

A group sends each of its writes as two arguments (its key and its amount) instead of
four: packing and the script's own work per write are the cost of a steady-state batch.
``Writes.sizes`` gives a group's arguments to its first write and 0 to the others;
``chunks`` never cuts a batch inside a group.

A key's EXPIREAT runs once after its consecutive writes (a histogram's fields),
and only when one of them succeeded: a refused key of another application keeps
its own TTL. The window hashes of ``layout='hash'`` (ops C, D, G) get one EXPIREAT per
hash per call, at the end, whatever the order of their writes.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_left
from itertools import accumulate
from typing import Any, Callable, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from redis.exceptions import RedisError

#: writes per script call: keeps each call (which blocks Redis) to a few milliseconds
CHUNK = 2000
#: ... and at most this many arguments (series and sets carry many values per write)
CHUNK_ARGS = 20000
#: how many arguments each op takes after ``op, expiry`` (None: a count, then that many)
ARITY = {"S": 1, "I": 1, "F": 1, "H": 2, "L": None, "A": None, "C": 2, "D": 2, "G": 2,
         "c": 2, "d": 2, "g": 2}
#: the ops written without an expiry argument
NO_EXPIRY = frozenset("cdg")
#: the group ops (``*c``: the op ``c`` of many keys), and the most writes in one group: a
#: group never spans a multiple of ``GROUP`` writes in its batch, and ``GROUP`` divides
#: ``CHUNK``, so a batch is cut into calls at the same writes whether its writes go in
#: groups or alone (which depends on the expiries a process remembers, not on the batch):
#: a retry's call ``n`` holds the writes of the first attempt's call ``n``
GROUPS = {"*c": "c", "*d": "d", "*g": "g"}
GROUP = 1000

_RUN = """
local exat = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 393728
local field = ARGV[1]
local first = 1
if field ~= '' then
  local done = redis.call('hget', KEYS[1], field)
  if done then return {1, done} end
  first = 2
end
-- "ttl/n": the last key is the marker of the batch sent before this one, which must hold
-- its n chunks: a batch never lands before the one sent ahead of it
local last = #KEYS
local ttl, need = string.match(ARGV[2], '^(%d+)/(%d+)$')
if need then
  last = last - 1
  if redis.call('hlen', KEYS[#KEYS]) < tonumber(need) then
    return redis.error_reply('KAIROSAFTER the batch sent before this one is not stored: send it first')
  end
else
  ttl = ARGV[2]
end

local function failed(reply)
  return type(reply) == 'table' and reply.err
end

-- INCRBYFLOAT (of a hash field when field is given, HINCRBYFLOAT) unless the total would
-- not be a finite number; returns an error or nil
local function add_float(key, field, amount)
  local current
  if field then current = redis.pcall('hget', key, field) else current = redis.pcall('get', key) end
  if failed(current) then return current.err end
  local total = tonumber(amount)
  if current then
    local stored = tonumber(current)
    if not stored then return 'the stored value is not a number' end
    total = total + stored
  end
  if total ~= total or total == math.huge or total == -math.huge then
    return 'the total would not be a finite number'
  end
  local reply
  if field then
    reply = redis.pcall('hincrbyfloat', key, field, amount)
  else
    reply = redis.pcall('incrbyfloat', key, amount)
  end
  if failed(reply) then return reply.err end
  return nil
end

-- RPUSH/SADD of ARGV[from .. from + n - 1], 1,000 at a time; returns an error or nil
local function push(command, key, from, n)
  local last = from + n - 1
  local i = from
  while i <= last do
    local j = math.min(i + 999, last)
    local reply = redis.pcall(command, key, unpack(ARGV, i, j))
    if failed(reply) then return reply.err end
    i = j + 1
  end
  return nil
end

-- after INCRBY (or HINCRBY of a hash field, when field is given) failed with err: the float
-- path (add_float) when the amount or the total is not a whole 64-bit number; an error or nil
local function increment_failed(key, field, amount, err)
  if string.find(err, 'not an integer', 1, true) or string.find(err, 'overflow', 1, true) then
    return add_float(key, field, amount)
  end
  return err
end

-- HINCRBY (op C), HINCRBYFLOAT (D) or HSET (G) of a window hash's field; an error or nil
local function hash_write(hop, key, field, amount)
  if hop == 'D' then return add_float(key, field, amount) end
  local reply = redis.pcall(hop == 'C' and 'hincrby' or 'hset', key, field, amount)
  if not failed(reply) then return nil end
  if hop == 'C' then return increment_failed(key, field, amount, reply.err) end
  return reply.err
end

-- a refusal of one value alone; any other error (out of memory, a read-only replica)
-- fails the call before it wrote anything: an error for the caller to retry
local function refusal(err)
  return string.find(err, 'WRONGTYPE', 1, true) or string.find(err, 'not an integer', 1, true)
      or string.find(err, 'overflow', 1, true) or string.find(err, 'not a valid float', 1, true)
      or string.find(err, 'finite', 1, true) or string.find(err, 'not a number', 1, true)
end

local refused = {}
local hashes = {}
local hash_ops = {C = 'C', D = 'D', G = 'G', c = 'C', d = 'D', g = 'G'}
local group_ops = {['*c'] = 'C', ['*d'] = 'D', ['*g'] = 'G'}
local run_key, run_expiry, run_written = nil, '', false
local a = 3
local c = first
while c <= last do
  local key = KEYS[c]
  local op, expiry = ARGV[a], ARGV[a + 1]
  local group = group_ops[op]
  if group then
    -- n writes of one field, a key and an amount each, with no expiry: the loop of a
    -- steady-state batch, kept to a command per write
    if run_written and run_expiry ~= '' then redis.call('expireat', run_key, run_expiry) end
    run_key, run_expiry, run_written = nil, '', false
    local hfield, n = expiry, tonumber(ARGV[a + 2])
    if not n or n < 1 then return redis.error_reply('KAIROS a group of no writes') end
    a = a + 3
    local command = group == 'G' and 'hset' or 'hincrby'
    for i = 0, n - 1 do
      local err
      if group == 'D' then
        err = add_float(KEYS[c + i], hfield, ARGV[a + i])
      else
        local reply = redis.pcall(command, KEYS[c + i], hfield, ARGV[a + i])
        if type(reply) == 'table' and reply.err then
          err = reply.err
          if group == 'C' then err = increment_failed(KEYS[c + i], hfield, ARGV[a + i], err) end
        end
      end
      if err then
        if not refusal(err) then return redis.error_reply(err) end
        refused[#refused + 1] = (c + i - first) .. ' ' .. err
      end
    end
    a = a + n
    c = c + n
  else
    if key ~= run_key then
      if run_written and run_expiry ~= '' then redis.call('expireat', run_key, run_expiry) end
      run_key, run_expiry, run_written = key, expiry, false
    end
    local err = nil
    local hop = hash_ops[op]
    if hop then
      local f = a + 2
      if hop ~= op then f, expiry = a + 1, '' end  -- c, d, g: no expiry argument
      err = hash_write(hop, key, ARGV[f], ARGV[f + 1])
      if not err and expiry ~= '' then hashes[key] = expiry end
      run_expiry = ''
      a = f + 2
    elseif op == 'S' then
      if exat and expiry ~= '' then
        redis.call('set', key, ARGV[a + 2], 'exat', expiry)
        run_expiry = ''
      else
        redis.call('set', key, ARGV[a + 2])
      end
      a = a + 3
    elseif op == 'I' then
      local reply = redis.pcall('incrby', key, ARGV[a + 2])
      if failed(reply) then err = increment_failed(key, nil, ARGV[a + 2], reply.err) end
      a = a + 3
    elseif op == 'F' then
      err = add_float(key, nil, ARGV[a + 2])
      a = a + 3
    elseif op == 'H' then
      local reply = redis.pcall('hincrby', key, ARGV[a + 2], ARGV[a + 3])
      if failed(reply) then err = reply.err end
      a = a + 4
    else
      local n = tonumber(ARGV[a + 2])
      err = push(op == 'L' and 'rpush' or 'sadd', key, a + 3, n)
      a = a + 3 + n
    end
    if err then
      if not refusal(err) then return redis.error_reply(err) end
      refused[#refused + 1] = (c - first) .. ' ' .. err
    else
      run_written = true
    end
    c = c + 1
  end
end
if run_written and run_expiry ~= '' then redis.call('expireat', run_key, run_expiry) end
for key, expiry in pairs(hashes) do redis.call('expireat', key, expiry) end
local record = table.concat(refused, '\\n')
if field ~= '' then
  redis.call('hset', KEYS[1], field, record)
  redis.call('expire', KEYS[1], ttl)
end
return {0, record}
"""


#: the script and its SHA1, for callers sending it with EVALSHA (``redis_cluster``: one call
#: per shard, where EVAL would send the script's text each time)
SCRIPT = _RUN
SCRIPT_SHA = hashlib.sha1(_RUN.encode("utf-8")).hexdigest()


class Writes:
    """A batch's writes, encoded as they travel: keys, flat arguments, each write's size.

    The hot loop of the Redis engine appends to the lists itself (no object per
    write); ``add`` is the readable way for everything else.
    """

    __slots__ = ("keys", "args", "sizes")

    def __init__(self) -> None:
        self.keys: List[Any] = []
        self.args: List[Any] = []
        self.sizes: List[int] = []  # arguments of each write, op and expiry included

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, op: str, key: Any, expiry: Optional[int], *values: Any) -> None:
        arity = ARITY[op]
        if op in NO_EXPIRY:
            if expiry is not None:
                raise ValueError("op %s takes no expiry" % op)
            head: List[Any] = [op]
        else:
            head = [op, "" if expiry is None else expiry]
        if arity is None:
            head.append(len(values))
        elif len(values) != arity:
            raise ValueError("op %s takes %d argument(s), not %d" % (op, arity, len(values)))
        self.keys.append(key)
        self.args.extend(head)
        self.args.extend(values)
        self.sizes.append(len(head) + len(values))

    def add_group(self, op: str, field: Any, keys: Sequence[Any], amounts: Sequence[Any]) -> None:
        """Writes of one op (``c``, ``d`` or ``g``) and one ``field`` in each of ``keys``, in
        groups (``*c`` etc.: two arguments per write) cut at each multiple of ``GROUP``
        writes of the batch (see ``GROUP``)."""
        if op not in NO_EXPIRY or len(keys) != len(amounts):
            raise ValueError("a group takes op c, d or g and one amount per key")
        group = "*" + op
        args, sizes = self.args, self.sizes
        first = 0
        position = len(self.keys)
        self.keys.extend(keys)
        while first < len(keys):
            end = min(len(keys), first + GROUP - (position + first) % GROUP)
            part = amounts[first:end]
            args.extend((group, field, len(part)))
            args.extend(part)
            sizes.append(3 + len(part))
            sizes.extend([0] * (len(part) - 1))
            first = end

    @classmethod
    def of(cls, writes: Iterable[Tuple]) -> "Writes":
        """From ``(op, key, expiry, *arguments)`` tuples."""
        out = cls()
        for op, key, expiry, *values in writes:
            out.add(op, key, expiry, *values)
        return out


class Refusal(NamedTuple):
    """A write Redis refused: its position in the batch, and why.

    Not ``index``: a field of that name would hide ``tuple.index``."""

    position: int
    reason: str


def chunks(sizes: Sequence[int]) -> List[Tuple[int, int, int, int]]:
    """``(first write, end write, first argument, end argument)`` of each script call.

    A call takes writes while it holds fewer than ``CHUNK`` and its arguments so far are
    under ``CHUNK_ARGS`` (its first write always goes), and never ends inside a group (a
    write of size 0 belongs to the group before it: the call ends before the group, or
    after it when the group is the call's first write). Deterministic: a retry of the same
    writes is cut the same way, so each chunk keeps its marker field. Runs once per batch
    over every write: each call's span is summed in C (``accumulate``), not write by write.
    """
    out = []
    start = arg = 0
    total = len(sizes)
    limit = CHUNK_ARGS
    while start < total:
        end = min(start + CHUNK, total)
        running = list(accumulate(sizes[start:end]))
        # the arguments before the last write are under the budget: every write goes
        if end - start == 1 or running[-2] < limit:
            taken = end - start
        else:  # the first write whose arguments bring the call to the budget is its last
            taken = bisect_left(running, limit) + 1
        if start + taken < total and not sizes[start + taken]:  # inside a group
            inside = start + taken
            while not sizes[inside]:
                inside -= 1  # the group's first write
            if inside > start:
                taken = inside - start
            else:  # the call starts with this group (longer than a call): all of it goes
                taken += 1
                while start + taken < total and not sizes[start + taken]:
                    taken += 1
                running = list(accumulate(sizes[start:start + taken]))
        out.append((start, start + taken, arg, arg + running[taken - 1]))
        start, arg = start + taken, arg + running[taken - 1]
    return out


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def commands(writes: Writes, marker: Optional[str] = None, ttl: int = 86400,
             after: Optional[Tuple[str, int]] = None
             ) -> Tuple[List[Tuple], List[Tuple[int, int, int, int]]]:
    """The script calls that apply ``writes`` (see ``run``), and the slice of each.

    ``after``: the marker and the number of calls of a batch sent before this one whose
    answer is not known yet: each call then refuses to run (an error reply, nothing
    written) unless every call of that batch was applied, so a batch Redis refused (out
    of memory, a read-only replica) cannot be overtaken by the next one.
    """
    tail_keys: Tuple[str, ...] = () if after is None else (after[0],)
    ttl_arg: Any = ttl if after is None else "%d/%d" % (ttl, after[1])
    slices = chunks(writes.sizes)
    keys, args = writes.keys, writes.args
    head_keys: Tuple[str, ...]
    head_args: Tuple[Any, ...]
    calls: List[Tuple] = []
    for number, (start, end, first_arg, end_arg) in enumerate(slices):
        if marker is None:
            head_keys, head_args = (), ("", ttl_arg)
        else:
            head_keys, head_args = (marker,), (str(number), ttl_arg)
        # EVAL, not EVALSHA: no SCRIPT EXISTS round trip; Redis compiles the script once
        calls.append(("EVAL", _RUN, end - start + len(head_keys) + len(tail_keys), *head_keys,
                      *keys[start:end], *tail_keys, *head_args, *args[first_arg:end_arg]))
    return calls, slices


def results(replies: Sequence[Any], slices: Sequence[Tuple[int, int, int, int]],
            error: Callable[[Exception], Exception]) -> List[Refusal]:
    """The refusals the replies of ``commands`` report; a failed call raises ``error(reply)``."""
    refused: List[Refusal] = []
    for (start, _, _, _), reply in zip(slices, replies):
        if isinstance(reply, Exception):
            raise error(reply) from reply
        refused.extend(Refusal(start + index, reason) for index, reason in refusals(reply))
    return refused


def run(client: Any, writes: Writes, error: Callable[[Exception], Exception],
        marker: Optional[str] = None, ttl: int = 86400, before: Sequence[Tuple] = (),
        before_replies: Optional[List[Any]] = None) -> List[Refusal]:
    """Apply ``writes`` in order, in one round trip; returns the writes Redis refused.

    With a ``marker`` key, each chunk is applied at most once (see the module
    docstring) and the marker lives ``ttl`` seconds. ``before``: plain commands sent
    first in the same round trip; their replies (an error as its exception) are appended
    to ``before_replies`` when given, else ignored. Connection and
    protocol failures raise ``error(exc)``; the batch may then be applied or not,
    and sending it again with the same marker is safe.
    """
    if not writes:
        return []
    pipe = client.pipeline(transaction=False)
    for command in before:
        pipe.execute_command(*command)
    calls, slices = commands(writes, marker, ttl)
    for call in calls:
        pipe.execute_command(*call)
    try:
        replies = pipe.execute(raise_on_error=False)
    except RedisError as err:
        raise error(err) from err
    if before_replies is not None:
        before_replies.extend(replies[:len(before)])
    return results(replies[len(before):], slices, error)


def refusals(reply: Any) -> List[Tuple[int, str]]:
    """``(index of the write in its call, reason)`` of each refusal a script call reports."""
    record = _text(reply[1])
    out = []
    for line in record.split("\n") if record else ():
        index, _, reason = line.partition(" ")
        out.append((int(index), reason))
    return out
