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
hold 190 MiB, against 130 with at most 13 sizes.
"""
from __future__ import annotations

from itertools import chain
from typing import Any, Dict, Iterator, Sequence, Tuple

#: rows per statement at most (fewer where SQLite takes fewer parameters, 999 before 3.32)
MOST_ROWS = 4096


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
        self._built: Dict[int, str] = {}

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
