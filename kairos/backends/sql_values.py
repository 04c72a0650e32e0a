"""SQLite batches as INSERTs of up to 4,096 rows each, not one statement run per row.

Python's sqlite3 lets go of the GIL while SQLite runs a statement and takes it back
after, and ``executemany`` runs one per row. karbon writes SQLite from a thread while
its planner keeps the GIL busy: a thread taking the GIL back waits for the planner
to hand it over (``sys.getswitchinterval()``), so beside a busy thread
``executemany`` upserted about 3,300 rows/s, one statement of 6,000 rows about
550,000 (1.3 million alone, against 780,000). The statement is the batch's own insert
or upsert with its ``VALUES`` group repeated, so a refused value still fails it and
rolls the transaction back, as before.

Every statement has a power of two of rows: the rows_each-row statement as often as
it fits, then one per binary digit of what is left. SQLite compiles and keeps each
distinct statement (sqlite3's cache, 128 by default), and a compiled statement of
thousands of rows takes about a megabyte: a last statement of any length made karbon
hold 190 MiB, against 130 with at most 13 sizes (a count's or gauge's grouped statements,
below, add up to 43 more, at most 2,048 rows each).

A scalar type's batch (count, gauge) goes in statements of its own (``SlotGroups``):
the slots (interval, i_time, r_time) that hold the same names are written together,
name by name, each slot's three columns bound once per statement and each name's key
once for all its slots. Laid out by slice assignment, the rows need no tuple each and
no sort of tuples, and SQLite binds 1.25 to 2 parameters per row instead of 5. Rows
stay in key order: upserts out of key order cost SQLite more than three times as
much (``benchmarks/sql_upsert_floor.py --order sorted,random``).
"""
from __future__ import annotations

from bisect import bisect_left
from itertools import chain, islice
from operator import lt
from typing import Any, Dict, Iterable, Iterator, List, Sequence, Tuple

#: rows per statement at most (fewer where SQLite takes fewer parameters, 999 before 3.32)
MOST_ROWS = 4096
#: rows a statement more costs as much as grouping saves on: about 6.5 us against 0.2
ROWS_PER_STATEMENT = 32
#: rows of a scalar batch's statement at most: it is compiled for each number of slots (1 to
#: ``MOST_SLOTS``), and 4,096 made karbon 6 MiB larger for no more speed
GROUPED_ROWS = 2048
#: slots one statement of a scalar batch writes at most (more: another sweep of the keys),
#: which bounds the distinct statements SQLite keeps compiled
MOST_SLOTS = 4


def split_values(sql: str) -> Tuple[str, str, str]:
    """``INSERT INTO t (cols) VALUES (...) [ON CONFLICT ...]`` as (everything before
    `` VALUES ``, the parenthesised group, everything after it)."""
    start = sql.index(" VALUES (")
    depth, end = 0, start + len(" VALUES ")
    for end in range(end, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            break
    return sql[:start], sql[start + len(" VALUES "):end + 1], sql[end + 1:]


class ManyRows:
    """The statements writing a batch's rows, a power of two of rows each."""

    def __init__(self, sql: str, width: int, most_parameters: int):
        self.head, self.group, self.tail = split_values(sql)
        if self.group.count("?") != width:
            raise ValueError("unexpected write statement: %s" % sql)
        fits = max(1, min(MOST_ROWS, most_parameters // width))
        #: rows of the largest statement (a power of two)
        self.rows_each = 1 << (fits.bit_length() - 1)
        self.most_parameters = most_parameters
        self._built: Dict[int, str] = {}
        #: the text around the group's placeholders: a scalar's statements (``SlotGroups``)
        #: put numbered ones in their places
        self._around = self.group.split("?")
        self._grouped: Dict[Tuple[int, int], str] = {}

    def statement(self, rows: int) -> str:
        """The statement inserting ``rows`` rows (a power of two), built once."""
        sql = self._built.get(rows)
        if sql is None:
            sql = self._built[rows] = "%s VALUES %s%s" % (
                self.head, ",".join([self.group] * rows), self.tail)
        return sql

    def statements(self, rows: Sequence[Sequence[Any]]) -> Iterator[Tuple[str, tuple]]:
        """(statement, its parameters) writing ``rows`` in order."""
        start, total = 0, len(rows)
        while start < total:
            size = min(self.rows_each, total - start)
            size = 1 << (size.bit_length() - 1)  # the largest power of two that fits
            chunk = rows[start:start + size]
            start += size
            yield self.statement(size), tuple(chain.from_iterable(chunk))

    def names_each(self, slots: int) -> int:
        """Names per statement of a group of ``slots`` slots (a power of two): at most
        ``GROUPED_ROWS`` rows and the connection's parameters."""
        fits = max(1, min(GROUPED_ROWS // slots,
                          (self.most_parameters - 3 * slots) // (slots + 1)))
        return 1 << (fits.bit_length() - 1)

    def grouped_statement(self, slots: int, names: int) -> str:
        """The statement writing ``names`` names in each of ``slots`` slots, built once:
        the slots' columns are ?1 to ?3*slots, then each name's key and its values."""
        sql = self._grouped.get((slots, names))
        if sql is None:
            if len(self._around) != 6:
                raise ValueError("a slot group needs (key, interval, i_time, r_time, value) rows")
            p0, p1, p2, p3, p4, p5 = self._around
            width, rows = slots + 1, []  # type: Tuple[int, List[str]]
            for name in range(names):
                key = 3 * slots + 1 + name * width
                rows.extend("%s?%d%s?%d%s?%d%s?%d%s?%d%s" % (
                    p0, key, p1, 3 * slot + 1, p2, 3 * slot + 2, p3, 3 * slot + 3, p4,
                    key + 1 + slot, p5) for slot in range(slots))
            sql = self._grouped[slots, names] = "%s VALUES %s%s" % (self.head, ",".join(rows),
                                                                    self.tail)
        return sql

    def pays_to_group(self, rows: "SlotGroups") -> bool:
        """Whether ``grouped_statements`` writes ``rows`` in not many more statements than
        ``statements`` would: a statement more costs about what grouping saves on
        ``ROWS_PER_STATEMENT`` rows. Slots holding scattered names, or short runs that
        overlap, cut a batch in many small groups."""
        grouped = sum(_statements(len(flat) // (slots + 1), self.names_each(slots))
                      for _, flat, slots in rows.groups)
        return (grouped - _statements(len(rows), self.rows_each)) * ROWS_PER_STATEMENT <= len(rows)

    def grouped_statements(self, rows: "SlotGroups") -> Iterator[Tuple[str, tuple]]:
        """(statement, its parameters) writing ``rows`` group by group, in key order."""
        for shared, flat, slots in rows.groups:
            width, names_each = slots + 1, self.names_each(slots)
            start, total = 0, len(flat) // width
            while start < total:
                size = min(names_each, total - start)
                size = 1 << (size.bit_length() - 1)
                parameters = (*shared, *flat[width * start:width * (start + size)])
                start += size
                yield self.grouped_statement(slots, size), parameters


class SlotGroups:
    """A scalar batch's rows, grouped for ``ManyRows.grouped_statements``: each group some
    slots (up to ``MOST_SLOTS``) and the keys (names or ids) all of them hold, as a flat
    list ``[key, value in slot 1, value in slot 2, ..., key, ...]`` in key order.

    A batch's slots are mostly runs of one list of keys: a flush's names in the order of
    their ids, whole in one 10 s slot and its minute, cut at the batch's ends in the
    others. The widest slot's keys are cut where such runs start and end, and each piece
    is written name by name in all the slots that hold it: one pass in key order over
    the table. A slot that is no run of it is written apart, with the slots holding
    exactly its keys. Iterating yields the rows ``(key, interval, i_time, r_time, value)``,
    group by group, for the paths that take rows one by one.
    """

    __slots__ = ("groups", "count")

    def __init__(self, slots: Iterable[Tuple[Tuple[Any, Any, Any], List[Any], List[Any]]]):
        """``slots``: ``((interval, i_time, r_time), keys, values)``, ``keys[k]`` holding
        ``values[k]``, the keys of a slot distinct."""
        ordered = [_in_key_order(slot, keys, values) for slot, keys, values in slots if keys]
        self.count = sum(len(keys) for _, keys, _ in ordered)
        #: (the slots' columns in a row, the flat list, how many slots) of each group
        self.groups: List[Tuple[tuple, List[Any], int]] = []
        if not ordered:
            return
        widest = max(ordered, key=lambda slot: len(slot[1]))[1]
        runs, apart = [], []
        for slot, keys, values in ordered:
            first = bisect_left(widest, keys[0])
            if widest[first:first + len(keys)] == keys:
                runs.append((first, first + len(keys), slot, values))
            else:
                apart.append((slot, keys, values))
        cuts = sorted({cut for first, last, _, _ in runs for cut in (first, last)})
        pieces: List[list] = [[] for _ in cuts[1:]]  # the runs holding each piece
        for first, last, slot, values in runs:
            for piece in range(bisect_left(cuts, first), bisect_left(cuts, last)):
                pieces[piece].append((slot, values, first))
        for start, end, held in zip(cuts, cuts[1:], pieces):
            self._add(widest[start:end], [(slot, values[start - first:end - first])
                                          for slot, values, first in held])
        same: Dict[tuple, Tuple[List[Any], list]] = {}
        for slot, keys, values in apart:
            same.setdefault(tuple(keys), (keys, []))[1].append((slot, values))
        for keys, held in same.values():
            self._add(keys, held)

    def _add(self, keys: List[Any], held: List[Tuple[tuple, List[Any]]]) -> None:
        """Groups of ``keys`` in the slots of ``held`` (``(slot, values)``), ``MOST_SLOTS``
        slots each."""
        for first in range(0, len(held), MOST_SLOTS):
            some = held[first:first + MOST_SLOTS]
            width = len(some) + 1
            flat: List[Any] = [None] * (width * len(keys))
            flat[0::width] = keys
            for k, (_, values) in enumerate(some, 1):
                flat[k::width] = values
            self.groups.append((tuple(chain.from_iterable(slot for slot, _ in some)), flat,
                                len(some)))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Tuple[Any, ...]]:
        for shared, flat, slots in self.groups:
            width = slots + 1
            for start in range(0, len(flat), width):
                for k in range(slots):
                    yield (flat[start],) + shared[3 * k:3 * k + 3] + (flat[start + 1 + k],)


def _in_key_order(slot: Any, keys: List[Any], values: List[Any]
                  ) -> Tuple[Any, List[Any], List[Any]]:
    """A slot's keys and values by key. Names that come in the order of their ids cost one
    look; others (names numbered on a server, or in another order) a sort."""
    if all(map(lt, keys, islice(keys, 1, None))):
        return slot, keys, values
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return slot, [keys[k] for k in order], [values[k] for k in order]


def _statements(rows: int, rows_each: int) -> int:
    """Statements of a power of two of rows writing ``rows``, ``rows_each`` at most."""
    return rows // rows_each + bin(rows % rows_each).count("1")
