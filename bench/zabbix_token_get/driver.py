#!/usr/bin/env python3
"""The token.get benchmark's cases, their SQL, and the HTTP latency driver.

    driver.py sql  --user U --token-id T --now S --out DIR
        writes DIR/cases.txt (for explain.c: SQL with ? and its parameters),
        DIR/cases_cli.sql (EXPLAIN QUERY PLAN with the values spelled out, for the sqlite3 CLI)
        DIR/whatif_cases.txt (other ORDER BY spellings of cases f and h) and
        DIR/whatif_fts.txt (cases c and c2 through an FTS5 trigram index)
    driver.py http --url URL --password P --user U --token-id T --now S
                   [--requests N] [--warmup W] [--budget SECONDS] [--json FILE]
        signs in as Admin with user.login, then measures each case's latency over HTTP,
        interleaved (one request of every case per round), sequential, one keep-alive
        connection; prints a table and optionally writes the raw numbers as JSON.

The SQL is reproduced by hand from crates/tessera-store/src/queries.rs (search_tokens,
count_tokens, push_search, order_by) and crates/tessera-core/src/authority/api_tokens.rs
(visible_api_tokens adds kind = 'api' and status IN ('active', 'disabled')); if those change,
change build_sql below with them. Since migration 0009 a search by name first asks a trigram index
for candidates (crates/tessera-store/src/text_search.rs) and then runs this SQL with
`AND id IN (...)` added, or as it is when the term is common. That step is not reproduced here:
cases c and c2 are written to cases.txt as "c.noindex" and "c2.noindex", the search without it
(the plan tessera had before), so that nobody reads them as what tessera runs now; the HTTP
figures measure what it runs.
"""

import argparse
import json
import math
import statistics
import sys
import time

# Zabbix sort fields and how order_by() in queries.rs writes them. Missing times sort as 0:
# on the bare column, NULLS FIRST going up and NULLS LAST going down (so the indexes serve).
SORT_EXPRESSION = {
    "tokenid": "id",
    "name": "name",
    "lastaccess": "last_access",
    "status": "status",
    "expires_at": "expires_at",
    "created_at": "created_at",
}
NULLABLE = {"lastaccess", "expires_at"}


def cases(user, token_id, now):
    """(key, description, JSON-RPC method, params, needs auth)."""
    return [
        ("base", "apiinfo.version (no database work; the ratio baseline)",
         "apiinfo.version", {}, False),
        ("a", "userids=[one user], sortfield name, limit 10",
         "token.get", {"output": "extend", "userids": [str(user)], "sortfield": "name",
                       "limit": 10}, True),
        ("a2", "extra: as (a) for userid 1 (Admin, who has no API tokens)",
         "token.get", {"output": "extend", "userids": ["1"], "sortfield": "name",
                       "limit": 10}, True),
        ("b", "filter status=1, sortfield created_at DESC, limit 10",
         "token.get", {"output": "extend", "filter": {"status": "1"},
                       "sortfield": "created_at", "sortorder": "DESC", "limit": 10}, True),
        ("c", "search name \"backup\" (substring, 1 in 8 names match), limit 10",
         "token.get", {"output": "extend", "search": {"name": "backup"}, "limit": 10}, True),
        ("c2", "extra: search name \"svc-654321-\" (substring, 1 name matches), limit 10",
         "token.get", {"output": "extend", "search": {"name": "svc-654321-"}, "limit": 10},
         True),
        ("d", "tokenids=[one id]",
         "token.get", {"output": "extend", "tokenids": [str(token_id)]}, True),
        ("e", "countOutput, userids=[one user]",
         "token.get", {"countOutput": True, "userids": [str(user)]}, True),
        ("f", "sortfield lastaccess DESC, limit 10 (all tokens)",
         "token.get", {"output": "extend", "sortfield": "lastaccess", "sortorder": "DESC",
                       "limit": 10}, True),
        ("g", "valid_at=now, limit 10",
         "token.get", {"output": "extend", "valid_at": str(now), "limit": 10}, True),
        ("h", "extra: sortfield expires_at ASC, limit 10 (all tokens)",
         "token.get", {"output": "extend", "sortfield": "expires_at", "limit": 10}, True),
    ]


# Other ways to write the ORDER BY of (f) and (h), for the what-if plans only: the bare column
# sorts NULL as SQLite's smallest value, as COALESCE(x, 0) does for non-negative times; NULLS
# FIRST/LAST spell that out for PostgreSQL, whose NULLs sort as the largest.
QUERY_VARIANTS = [
    ("f.bare", "f", {"lastaccess": "last_access"}),
    ("f.nulls", "f", {"lastaccess": "last_access", "nulls": "NULLS LAST"}),
    ("h.bare", "h", {"expires_at": "expires_at"}),
    ("h.nulls", "h", {"expires_at": "expires_at", "nulls": "NULLS FIRST"}),
]


def build_sql(params, variant=None, store="sqlite"):
    """The SQL and bound values search_api_tokens/count_api_tokens send for a super admin to
    `store` (with `variant`, a different ORDER BY expression: see QUERY_VARIANTS)."""
    variant = variant or {}
    count = bool(params.get("countOutput"))
    fields = params.get("sortfield", [])
    fields = fields if isinstance(fields, list) else [fields]
    # PostgreSQL keeps API tokens' order by last use in api_token_uses (migration 0013).
    joined = store == "postgres" and "lastaccess" in fields and not variant
    source = "tokens JOIN api_token_uses AS uses ON uses.token_id = tokens.id" if joined else "tokens"
    last_access = "uses.last_access" if joined else "last_access"
    sql = f"SELECT COUNT(*) FROM {source} WHERE " if count else f"SELECT tokens.* FROM {source} WHERE "
    values = []
    sql += "1 = 1"
    # Written out, not bound, as queries.rs does: the token.get indexes hold API tokens only.
    sql += " AND kind = 'api'"
    sql += " AND status IN (?, ?)"
    values += ["active", "disabled"]
    for column, name in (("id", "tokenids"), ("user_id", "userids")):
        if name in params:
            ids = [int(i) for i in params[name]]
            # As crates/tessera-store/src/queries.rs writes it: one id is an equality.
            if not ids:
                sql += " AND 0 = 1"
            elif len(ids) == 1:
                sql += f" AND {column} = ?"
            else:
                sql += f" AND {column} IN (" + ", ".join("?" * len(ids)) + ")"
            values += ids
    if "valid_at" in params:
        sql += " AND (expires_at IS NULL OR expires_at > ?)"
        values.append(int(params["valid_at"]) * 1000)
    for field, wanted in params.get("filter", {}).items():
        assert field == "status", "only the status filter is reproduced here"
        wanted = wanted if isinstance(wanted, list) else [wanted]
        sql += " AND (0 = 1"
        for value in wanted:
            sql += " OR status = ?"
            values.append({"0": "active", "1": "disabled"}[str(value)])
        sql += ")"
    terms = []
    for field, wanted in params.get("search", {}).items():
        for term in (wanted if isinstance(wanted, list) else [wanted]):
            terms.append((field, term))
    if terms:
        parts = []
        for field, term in terms:
            escaped = "".join("\\" + c if c in "%_\\" else c for c in term.lower())
            parts.append(f"LOWER({field}) LIKE ? ESCAPE '\\'")
            values.append(f"%{escaped}%")
        sql += " AND (" + " AND ".join(parts) + ")"
    if count:
        return sql, values
    order = params.get("sortorder", "ASC")
    nulls = (" " + variant["nulls"]) if "nulls" in variant else ""
    def key(f):
        if f in variant:
            return f"{variant[f]} {order}{nulls}"
        if f in NULLABLE:
            column = last_access if f == "lastaccess" else SORT_EXPRESSION[f]
            return f"{column} {order} " + ("NULLS FIRST" if order == "ASC" else "NULLS LAST")
        return f"{SORT_EXPRESSION[f]} {order}"
    keys = [key(f) for f in fields]
    sql += " ORDER BY " + "".join(k + ", " for k in keys) + "id ASC"
    if "limit" in params:
        sql += " LIMIT ?"
        values.append(int(params["limit"]))
    return sql, values


def literal(value):
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def helper_block(key, sql, values):
    lines = [f"@ {key}", sql]
    lines += [f"{'i' if isinstance(v, int) else 't'} {v}" for v in values]
    return "\n".join(lines + ["."]) + "\n"


def write_sql(args):
    all_cases = cases(args.user, args.token_id, args.now)
    with open(f"{args.out}/whatif_cases.txt", "w") as whatif:
        for key, base, variant in QUERY_VARIANTS:
            params = next(c[3] for c in all_cases if c[0] == base)
            whatif.write(helper_block(key, *build_sql(params, variant)))
    # Substring search through an FTS5 trigram index (what-if C): the same conditions, with the
    # LIKE answered by the index (no ESCAPE: FTS5 only takes a plain LIKE).
    with open(f"{args.out}/whatif_fts.txt", "w") as fts:
        for key in ("c", "c2"):
            params = next(c[3] for c in all_cases if c[0] == key)
            sql, values = build_sql(params)
            sql = sql.replace("(LOWER(name) LIKE ? ESCAPE '\\')",
                              "id IN (SELECT rowid FROM bench_name_trigram WHERE name LIKE ?)")
            fts.write(helper_block(key + ".fts", sql, values))
    with open(f"{args.out}/cases.txt", "w") as helper, \
            open(f"{args.out}/cases_cli.sql", "w") as cli:
        for key, description, method, params, _ in all_cases:
            if method != "token.get":
                continue
            sql, values = build_sql(params, store=args.store)
            if "search" in params:
                key += ".noindex"
            helper.write(helper_block(key, sql, values))
            spelled = sql
            for v in values:
                spelled = spelled.replace("?", literal(v), 1)
            cli.write(f".print '@ {key}'\n")
            cli.write(f"EXPLAIN QUERY PLAN {spelled};\n")


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(args):
    import requests  # only the HTTP mode needs it

    http = requests.Session()
    headers = {"Content-Type": "application/json-rpc"}
    next_id = [0]

    def call(method, params, auth=None):
        next_id[0] += 1
        body = {"jsonrpc": "2.0", "method": method, "params": params, "id": next_id[0]}
        if auth:
            body["auth"] = auth
        start = time.perf_counter()
        response = http.post(args.url, data=json.dumps(body), headers=headers, timeout=30)
        elapsed = (time.perf_counter() - start) * 1000.0
        try:
            answer = response.json()
        except ValueError:
            # Say what came back instead of a JSON decoding traceback.
            sys.exit(f"{method} {json.dumps(params)}: HTTP {response.status_code} after "
                     f"{elapsed:.0f} ms, not JSON: {response.text[:300]!r}")
        if "error" in answer:
            sys.exit(f"{method} {json.dumps(params)} failed: {answer['error']}")
        return elapsed, answer["result"]

    _, session = call("user.login", {"username": "Admin", "password": args.password})
    all_cases = cases(args.user, args.token_id, args.now)
    result_size = {}
    # Warm-up: a few untimed calls of each case (bounded in time as well).
    for key, _, method, params, auth in all_cases:
        spent = 0.0
        for _ in range(args.warmup):
            took, result = call(method, params, session if auth else None)
            spent += took
            if spent > args.budget * 1000 / 4:
                break
        result_size[key] = (result if isinstance(result, str) and key == "e"
                            else str(len(result)) if isinstance(result, list) else "-")
    samples = {key: [] for key, *_ in all_cases}
    spent = {key: 0.0 for key, *_ in all_cases}
    started = time.monotonic()
    # Interleaved rounds: every case still short of its request count or time budget gets one
    # request per round, so that the machine's noise falls on all cases alike.
    while True:
        active = [c for c in all_cases
                  if len(samples[c[0]]) < args.requests and spent[c[0]] < args.budget * 1000]
        if not active or time.monotonic() - started > args.budget * len(all_cases):
            break
        for key, _, method, params, auth in active:
            took, _ = call(method, params, session if auth else None)
            samples[key].append(took)
            spent[key] += took
    call("user.logout", [], session)

    base = statistics.median(samples["base"])
    rows = []
    for key, description, method, params, _ in all_cases:
        s = samples[key]
        rows.append({
            "case": key,
            "description": description,
            "method": method,
            "params": params,
            "result_rows": result_size[key],
            "n": len(s),
            "median_ms": statistics.median(s),
            "p99_ms": percentile(s, 99),
            "min_ms": min(s),
            "ratio_median_to_base": statistics.median(s) / base,
        })
    print(f"{'case':<5} {'rows':>5} {'n':>4} {'median ms':>10} {'p99 ms':>10} "
          f"{'x apiinfo':>10}  description")
    for r in rows:
        print(f"{r['case']:<5} {r['result_rows']:>5} {r['n']:>4} {r['median_ms']:>10.2f} "
              f"{r['p99_ms']:>10.2f} {r['ratio_median_to_base']:>10.1f}  {r['description']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["sql", "http"])
    parser.add_argument("--user", type=int, required=True)
    parser.add_argument("--token-id", type=int, required=True)
    parser.add_argument("--now", type=int, required=True, help="Unix seconds, for valid_at")
    parser.add_argument("--out")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite",
                        help="whose SQL `sql` writes")
    parser.add_argument("--url")
    parser.add_argument("--password")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--budget", type=float, default=45.0,
                        help="seconds of requests per case at most")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.mode == "sql":
        write_sql(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
