"""redis_bulk writes with their groups spelt out, the reference a group is checked against."""
from kairos.backends import redis_bulk
from kairos.backends.redis_bulk import Writes


def one_by_one(writes):
    """The same writes one by one (``op, field, amount`` each): the reference of a group."""
    out, position = Writes(), 0
    for index, key in enumerate(writes.keys):
        size = writes.sizes[index]
        op = writes.args[position] if size else None  # None: a later write of a group
        if op in redis_bulk.GROUPS:  # this write opens a group: each of its keys alone
            field, n = writes.args[position + 1], writes.args[position + 2]
            for offset, amount in enumerate(writes.args[position + 3:position + 3 + n]):
                out.add(redis_bulk.GROUPS[op], writes.keys[index + offset], None, field, amount)
        elif op in redis_bulk.NO_EXPIRY:
            out.add(op, key, None, *writes.args[position + 1:position + size])
        elif op is not None:
            out.add(op, key, *writes.args[position + 1:position + size])
        position += size
    return out
