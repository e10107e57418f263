#!/usr/bin/env python3
"""Loads gen.py's users.tsv and tokens.tsv into a tessera SQLite database (migrated, Admin id 1).

    load_sqlite.py DB DIR

Reads and converts the files first (not timed), then inserts every user and token in ONE
transaction, 500 rows a statement as `tessera import` does (timed: from BEGIN to COMMIT, indexes
and the FTS5 name index of migration 0009 maintained as rows go in), then checkpoints the WAL
into the database file (timed separately). One row a statement is much slower with the FTS5
index (400,000 tokens: 78 s, against 11 s 500 a statement; FTS5 flushes its pending index
data at every statement). Prints
    parse_s=.. insert_s=.. checkpoint_s=.. sqlite=<library version>
"""
import sqlite3
import sys
import time

db, d = sys.argv[1], sys.argv[2]


def opt_int(v):
    return None if v == "\\N" else int(v)


t0 = time.perf_counter()
users = []
with open(f"{d}/users.tsv") as f:
    for line in f:
        c = line.rstrip("\n").split("\t")
        users.append((int(c[0]), c[1], c[2], c[3], c[4], 1 if c[5] == "t" else 0, c[6], c[7], int(c[8])))
tokens = []
with open(f"{d}/tokens.tsv") as f:
    for line in f:
        c = line.rstrip("\n").split("\t")
        tokens.append((int(c[0]), bytes.fromhex(c[1][3:]), c[2], c[3], int(c[4]), c[5], c[6], c[7],
                       int(c[8]), opt_int(c[9]), opt_int(c[10]), int(c[11])))
parse_s = time.perf_counter() - t0

con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA cache_size = -262144")  # 256 MiB for the load's index maintenance
t0 = time.perf_counter()
con.execute("BEGIN")
con.executemany("INSERT INTO users (id, uuid, username, display_name, role, enabled, permissions, "
                "password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", users)
ROWS = 500
columns = ("INSERT INTO tokens (id, hash, kind, door, user_id, name, description, status, "
           "created_at, expires_at, last_access, creator_id) VALUES ")
row = "(" + ", ".join("?" * 12) + ")"
for start in range(0, len(tokens), ROWS):
    chunk = tokens[start:start + ROWS]
    con.execute(columns + ", ".join([row] * len(chunk)), [v for t in chunk for v in t])
con.execute("COMMIT")
insert_s = time.perf_counter() - t0
t0 = time.perf_counter()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
checkpoint_s = time.perf_counter() - t0
con.close()
print(f"parse_s={parse_s:.1f} insert_s={insert_s:.1f} checkpoint_s={checkpoint_s:.1f} "
      f"rows={len(tokens)} sqlite={sqlite3.sqlite_version}")
