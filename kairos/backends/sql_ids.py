"""Name ids of ``layout='id'``: rows keyed by an integer instead of the stat's name.

Each data table has a ``{table}_ids`` table numbering its names (``sql_tables``). A
writer keeps the ids it has seen (``NameIds``); a batch's unknown names are looked up,
and the ones still missing inserted, in the batch's own transaction, so a batch that
rolls back leaves no id behind that the memory would keep. Two writers numbering the
same new name at once both get the one id: the insert leaves an existing name alone
(``ON CONFLICT DO NOTHING`` / ``INSERT IGNORE``, the second waiting on the first's
unique-key lock), then both read it with a locking read (the latest committed rows, not
a snapshot). On a server, names are inserted in sorted order, so two writers lock them in
one order. SQLite writes one transaction at a time, so its names are numbered in the order
the batch holds them (``in_order``): a flush's names then come in the order of their ids,
so a batch's rows need only a check of their order, not a sort (``sql_values.SlotGroups``).

Reads go through ``view``: the data table joined to its ids, the name in place of its id,
so a read by name is the same query on either layout.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List

import sqlalchemy as sa

from . import sql_engine
from ..exceptions import InvalidValue

#: names looked up per statement (SQLite's default limit of bound variables is 32,766)
LOOKUP_CHUNK = 500
#: ids a writer remembers; past this the memory starts over (each holds a name: ~150 bytes)
MEMORY = 250_000


class NameIds:
    """The ids a writer has seen, and what a transaction found before it commits."""

    def __init__(self, ids: sa.Table, keep_reads: bool = True, in_order: bool = False):
        self.ids = ids
        self.known: Dict[str, int] = {}
        #: number new names in the order given, not sorted (one writer at a time: SQLite)
        self.in_order = in_order
        #: remember the ids reads find; not where every caller shares one connection (SQLite
        #: ``:memory:``): a read there sees other transactions' ids before they commit
        self.keep_reads = keep_reads

    def resolve(self, conn: sa.engine.Connection, names: Iterable[str]) -> Dict[str, int]:
        """Every name's id, numbering the new ones in the caller's transaction (in the order
        of ``names`` with ``in_order``, else sorted); call ``remember`` with the answer once
        that transaction committed."""
        known = self.known
        missing = [name for name in names if name not in known]
        if not missing:
            return known
        if not self.in_order:
            missing.sort()
        found = lookup(conn, self.ids, missing)
        new = [name for name in missing if name not in found]
        if new:
            insert(conn, self.ids, new)
            # a locking read: MySQL's REPEATABLE READ would otherwise answer from the snapshot
            # of the first lookup, blind to a name another writer numbered since
            found.update(lookup(conn, self.ids, new, latest=True))
        if len(found) < len(missing):
            # the database did not keep the name as given: MySQL's INSERT IGNORE cuts a name
            # longer than the column (a table made with a smaller string_length) to a prefix
            lost = [name for name in missing if name not in found]
            raise InvalidValue("%s did not store the name(s) %s as given (longer than its name "
                               "column?): nothing of the batch stored"
                               % (self.ids.name, ", ".join(repr(n[:60]) for n in lost[:3])))
        merged = dict(known)
        merged.update(found)
        return merged

    def existing(self, conn: sa.engine.Connection, names: Iterable[str]) -> Dict[str, int]:
        """The ids of the ``names`` that have one, for a read: from memory, else as committed
        (kept: an id never changes); a name without one has no rows."""
        known = self.known
        missing = [name for name in names if name not in known]
        if not missing:
            return known
        found = lookup(conn, self.ids, sorted(set(missing)))
        if not self.keep_reads:
            found.update((name, known[name]) for name in names if name in known)
            return found
        if len(known) + len(found) > MEMORY:  # start over, keeping the names of this read
            known = self.known = {name: known[name] for name in names if name in known}
        known.update(found)
        return known

    def remember(self, resolved: Dict[str, int]) -> None:
        """Keep the ids of a committed transaction (``resolve``'s answer)."""
        if resolved is self.known:
            return
        if len(resolved) > MEMORY:
            resolved = {}
        self.known = resolved


def lookup(conn: sa.engine.Connection, ids: sa.Table, names: List[str],
           latest: bool = False) -> Dict[str, int]:
    """The ids of the ``names`` that have one; ``latest``: as committed now, not as the
    transaction's snapshot saw them (``SELECT ... FOR SHARE``)."""
    found: Dict[str, int] = {}
    query = sa.select(ids.c.name, ids.c.id).where(
        ids.c.name.in_(sa.bindparam("names", expanding=True)))
    if latest:
        query = query.with_for_update(read=True)
    for start in range(0, len(names), LOOKUP_CHUNK):
        for name, ident in conn.execute(query, {"names": names[start:start + LOOKUP_CHUNK]}):
            found[name] = ident
    return found


def insert(conn: sa.engine.Connection, ids: sa.Table, names: List[str]) -> None:
    """Number ``names`` in their order, leaving alone those another writer numbered meanwhile."""
    sql_engine.insert_ignore(conn, ids, [{"name": name} for name in names], keys=("name",))


def view(table: sa.Table, ids: sa.Table) -> Any:
    """``table`` with each row's name in place of its id: what reads select from."""
    columns = [ids.c.name if column.name == "name" else column for column in table.c]
    return (sa.select(*columns).select_from(table.join(ids, ids.c.id == table.c.name))
            .subquery("%s_named" % table.name))


def id_of(table: sa.Table, ids: sa.Table, name: str) -> Any:
    """A condition on ``table``'s rows of ``name`` (for deletes, which cannot use the view)."""
    return table.c.name == sa.select(ids.c.id).where(ids.c.name == name).scalar_subquery()
