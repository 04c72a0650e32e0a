"""The floor of kairos' SQL write path: the upsert alone, with the drivers, no kairos, no karbon.

Rows as kairos writes counts (``name, interval, i_time, r_time, value``, primary key
on the first four, ``value = value + excluded.value`` on conflict), for ``--names``
statsd-shaped names flushed every 10 s into a 10 s and a 1 min interval, time-major as
statsd sends them. A first pass of ``--stamps`` flushes fills the table (not timed),
then the next ``--stamps`` flushes are timed: that is karbon's steady state, series that
exist already. Each variant prints the CPU microseconds per row of this process (the
driver) and of the database server (PostgreSQL's processes; SQLite runs in this process),
and the wall time per row:

* ``--per-tx``: flushes per transaction. The rows are ordered by name and statsd sends
  one flush at a time, so a transaction of one flush rewrites nearly every page; karbon
  gets several flushes into one transaction when its writer is behind.
* ``--fillfactor`` (PostgreSQL): how full the table's pages are filled; below 100, an
  update can stay on its row's page (kairos creates updated tables at 80).
* ``--page-size`` (SQLite): bytes per page of the new file; a transaction rewrites about
  a page per stat, and each checkpoint copies the pages the WAL holds back into the file
  (kairos creates files with 16,384-byte pages, SQLite's default is 4,096).
* ``--layout``: rows keyed by the stat's ``name`` (kairos' default) or by an integer
  ``id`` standing for it (kairos' ``layout='id'``).
* ``--order``: a transaction's rows ``sorted`` by key, as kairos sends them, or in a
  ``random`` order: SQLite's upserts cost more than three times as much out of key order,
  which is why kairos keeps a batch's rows in key order (``sql_values.SlotGroups``).

    python3 benchmarks/sql_upsert_floor.py --backend sqlite --per-tx 1,3,6
    python3 benchmarks/sql_upsert_floor.py --backend postgresql --fillfactor 100,80
    python3 benchmarks/sql_upsert_floor.py --backend sqlite --layout name,id
    python3 benchmarks/sql_upsert_floor.py --backend sqlite --layout id --page-size 4096,16384
    python3 benchmarks/sql_upsert_floor.py --backend sqlite --layout id --order sorted,random
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from typing import Any, Callable, List, Tuple

from bench_support import ProcWatch, postgres_pids

TABLE = "floor_counts"
COLUMNS = ("name %s NOT NULL, interval VARCHAR(64) NOT NULL, i_time BIGINT NOT NULL, "
           "r_time BIGINT NOT NULL, value DOUBLE PRECISION, "
           "PRIMARY KEY (name, interval, i_time, r_time)")
MERGE = "ON CONFLICT (name, interval, i_time, r_time) DO UPDATE SET value = %s.value + excluded.value"


def statsd_names(count: int) -> List[str]:
    """``count`` names shaped like statsd's, in a fixed shuffled order (as a flush sends them)."""
    names = ["stats.host%03d.service%02d.metric%d" % (i % 500, i // 500 % 40, i)
             for i in range(count)]
    random.Random(1).shuffle(names)
    return names


def flushes(names: List[Any], first: int, count: int, order: str = "sorted") -> List[Tuple]:
    """The rows of ``count`` flushes from ``first`` (seconds), sorted as kairos sends them
    (``order``: "sorted", or "random", shuffled)."""
    rows = []
    for stamp in range(first, first + 10 * count, 10):
        for name in names:
            rows.append((name, "10s", stamp, -1, 1.0))
            rows.append((name, "1m", stamp // 60 * 60, -1, 1.0))
    rows.sort()
    if order == "random":
        random.Random(first).shuffle(rows)
    return rows


Writer = Tuple[Callable[[List[Tuple]], None], Callable[[], None]]


def sqlite_writer(fillfactor: int, page_size: int, url: str, name_type: str) -> Writer:
    """(write a transaction of rows, close) on a new SQLite file; ``fillfactor``: unused."""
    directory = tempfile.mkdtemp(prefix="sql_floor_")
    db = sqlite3.connect(os.path.join(directory, "floor.db"), isolation_level=None)
    db.execute("PRAGMA page_size=%d" % page_size)
    db.execute("PRAGMA journal_mode=WAL")  # as kairos opens a SQLite file
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE %s (%s) WITHOUT ROWID" % (TABLE, COLUMNS % name_type))
    sql = "INSERT INTO %s VALUES (?, ?, ?, ?, ?) %s" % (TABLE, MERGE % TABLE)

    def write(rows: List[Tuple]) -> None:
        db.execute("BEGIN")
        db.executemany(sql, rows)
        db.execute("COMMIT")
    return write, db.close


def postgres_writer(fillfactor: int, page_size: int, url: str, name_type: str) -> Writer:
    """(write a transaction of rows, close) on a new PostgreSQL table at ``url``;
    ``page_size``: unused (PostgreSQL's is fixed when it is built)."""
    import psycopg
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("DROP TABLE IF EXISTS %s" % TABLE)
    conn.execute("CREATE TABLE %s (%s) WITH (fillfactor = %d)"
                 % (TABLE, COLUMNS % name_type, fillfactor))
    conn.autocommit = False
    cursor = conn.cursor()
    cursor.execute("CREATE TEMPORARY TABLE floor_stage AS SELECT * FROM %s WITH NO DATA" % TABLE)
    move = "INSERT INTO %s SELECT * FROM floor_stage %s" % (TABLE, MERGE % TABLE)

    def write(rows: List[Tuple]) -> None:  # kairos' path on psycopg: COPY to a stage, then move
        with cursor.copy("COPY floor_stage FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(move)
        cursor.execute("TRUNCATE floor_stage")
        conn.commit()

    def close() -> None:
        conn.rollback()
        conn.autocommit = True
        conn.execute("DROP TABLE IF EXISTS %s" % TABLE)
        conn.close()
    return write, close


def run(backend: str, names: List[str], stamps: int, per_tx: int, fillfactor: int,
        page_size: int, url: str, layout: str, order: str = "sorted") -> Tuple[float, float, float]:
    """(client, server, wall) microseconds per row of the timed flushes."""
    make = sqlite_writer if backend == "sqlite" else postgres_writer
    if layout == "id":
        name_type, keys = "INTEGER", list(range(1, len(names) + 1))
    else:
        name_type = "VARCHAR(255)" + (' COLLATE "C"' if backend == "postgresql" else "")
        keys = names
    write, close = make(fillfactor, page_size, url, name_type)
    try:
        def load(first: int) -> int:
            rows = 0
            for start in range(0, stamps, per_tx):
                batch = flushes(keys, first + 10 * start, min(per_tx, stamps - start), order)
                write(batch)
                rows += len(batch)
            return rows
        load(1_000_000)  # the series exist
        server = ProcWatch(postgres_pids() if backend == "postgresql" else [])
        wall, cpu = time.perf_counter(), time.process_time()
        rows = load(1_000_000 + 10 * stamps)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        time.sleep(0.3)  # let the server's bookkeeping of the last commit show in /proc
        server.sample()
    finally:
        close()
    return cpu / rows * 1e6, server.cpu_s() / rows * 1e6, wall / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--names", type=int, default=20000, help="stats per flush")
    parser.add_argument("--stamps", type=int, default=30, help="flushes filled, then timed")
    parser.add_argument("--per-tx", default="1", help="comma-separated flushes per transaction")
    parser.add_argument("--fillfactor", default="100",
                        help="comma-separated PostgreSQL table fillfactors")
    parser.add_argument("--page-size", default="16384",
                        help="comma-separated SQLite page sizes (bytes) of the new file")
    parser.add_argument("--layout", default="name", help="comma-separated: name, id (row keys)")
    parser.add_argument("--order", default="sorted",
                        help="comma-separated: sorted, random (each transaction's rows)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant, alternating")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    names = statsd_names(args.names)
    sqlite = args.backend == "sqlite"
    variants = [(layout, int(p), int(f), int(size), order) for layout in args.layout.split(",")
                for p in args.per_tx.split(",")
                for f in (["100"] if sqlite else args.fillfactor.split(","))
                for size in (args.page_size.split(",") if sqlite else ["8192"])
                for order in args.order.split(",")]
    print("| backend | layout | order | flushes per transaction | fillfactor | page size "
          "| client us/row | server us/row | wall us/row |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for _ in range(args.repeat):
        for layout, per_tx, fillfactor, page_size, order in variants:
            client, server, wall = run(args.backend, names, args.stamps, per_tx, fillfactor,
                                       page_size, args.postgres_url, layout, order)
            print("| %s | %s | %s | %d | %s | %s | %.2f | %s | %.2f |" % (
                args.backend, layout, order, per_tx, "-" if sqlite else fillfactor,
                page_size if sqlite else "-", client, "%.2f" % server if args.backend == "postgresql" else "-", wall),
                flush=True)


if __name__ == "__main__":
    main()
