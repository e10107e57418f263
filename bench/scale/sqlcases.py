#!/usr/bin/env python3
"""Plans and times SQL cases on either store, for bench/scale.

    sqlcases.py sqlite DB CASEFILE [RUNS]
    sqlcases.py postgres DSN CASEFILE [RUNS]

CASEFILE is the format driver.py writes (cases.txt): "@ key", one line of SQL with ? for each
value, one line per value ("i 123" or "t text"), then ".". For each case:
  sqlite:   EXPLAIN QUERY PLAN, then the query run RUNS times (default 5; at most ~10 s) with
            Python's sqlite3 module (all rows fetched), median and max wall time;
  postgres: EXPLAIN (ANALYZE, BUFFERS) RUNS times through psql (values spelled out as
            literals); median and max of "Execution Time", and the last run's plan.
Prints one summary line per case ("SQL key=.. median_ms=.. max_ms=.. rows=..") and the plans.
"""
import statistics
import subprocess
import sys
import time


def read_cases(path):
    cases, cur = [], None
    for line in open(path):
        line = line.rstrip("\n")
        if cur is None and line.startswith("@ "):
            cur = [line[2:], None, []]
        elif cur is not None and cur[1] is None:
            cur[1] = line
        elif line == ".":
            cases.append(tuple(cur))
            cur = None
        else:
            kind, value = line[0], line[2:]
            cur[2].append(int(value) if kind == "i" else value)
    return cases


def literal(v):
    return str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"


def spelled(sql, values):
    for v in values:
        sql = sql.replace("?", literal(v), 1)
    return sql


def run_sqlite(db, cases, runs):
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    print(f"# sqlite {sqlite3.sqlite_version} (Python's sqlite3 module)")
    for key, sql, values in cases:
        plan = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, values)]
        times, rows, started = [], 0, time.monotonic()
        for _ in range(runs):
            t0 = time.perf_counter()
            rows = len(con.execute(sql, values).fetchall())
            times.append((time.perf_counter() - t0) * 1000)
            if time.monotonic() - started > 10:
                break
        print(f"SQL key={key} median_ms={statistics.median(times):.3f} max_ms={max(times):.3f} "
              f"runs={len(times)} rows={rows} plan={' | '.join(plan)}")
        print(f"   {spelled(sql, values)}")


def run_postgres(dsn, cases, runs):
    script = []
    for key, sql, values in cases:
        for r in range(runs):
            script.append(f"\\echo @@ {key} {r}")
            script.append(f"EXPLAIN (ANALYZE, BUFFERS) {spelled(sql, values)};")
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn],
                         input="\n".join(script) + "\n", capture_output=True, text=True,
                         timeout=900, check=True).stdout
    plans, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@@ "):
            _, key, r = line.split()
            cur = plans.setdefault(key, {})
            cur[int(r)] = []
            last = cur[int(r)]
        else:
            last.append(line)
    version = subprocess.run(["psql", "-X", "-At", "-c", "SHOW server_version", dsn],
                             capture_output=True, text=True).stdout.strip()
    print(f"# postgres {version}, EXPLAIN (ANALYZE, BUFFERS)")
    for key, sql, values in cases:
        runs_out = plans[key]
        times = []
        for lines in runs_out.values():
            for l in lines:
                if l.startswith("Execution Time:"):
                    times.append(float(l.split()[2]))
        last = runs_out[max(runs_out)]
        top = last[0] if last else ""
        rows = top.split("rows=")[-1].split()[0] if "actual" in top else "?"
        print(f"SQL key={key} median_ms={statistics.median(times):.3f} max_ms={max(times):.3f} "
              f"runs={len(times)} rows={rows} first_ms={times[0]:.3f}")
        print(f"   {spelled(sql, values)}")
        for l in last:
            print(f"   | {l}")


def main():
    store, target, path = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    cases = read_cases(path)
    if store == "sqlite":
        run_sqlite(target, cases, runs)
    else:
        run_postgres(target, cases, runs)


if __name__ == "__main__":
    main()
