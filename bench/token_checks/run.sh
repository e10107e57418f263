#!/usr/bin/env bash
# Token checks (issue #8, item 2): /auth/verify and /api/v1/whoami with one valid bearer token,
# keep-alive, 64 connections (wrk), as a ratio to GET /healthz (a bare route: no database, no
# token) of the same binary, in the same run. Server and wrk share the machine's cores.
#
#   bash bench/token_checks/run.sh
#
# Knobs (environment): CONNECTIONS (64), SECONDS_EACH (10), ROUNDS (3: each round measures the
# three routes once, in a rotating order, so the machine's noise hits them alike), plus those
# of bench/common/lib.sh (TESSERA_BIN, NO_BUILD, BUILD_TIMEOUT).
# Writes bench/token_checks/results/<UTC date-time>.txt (summary + every wrk run as JSON).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"

CONNECTIONS=${CONNECTIONS:-64}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}

need_wrk
build_tessera
make_tmp
DB="$TMP/bench.db"
PASSWORD="bench-$(date +%s)-$RANDOM"
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"

say "starting tessera on a fresh SQLite database ($DB), --log-level warn"
start_server
TOKEN=$(curl -sf "$URL/oauth/token" -d grant_type=password -d username=Admin \
    --data-urlencode "password=$PASSWORD" | json_field access_token)
curl -sf -o /dev/null "$URL/auth/verify" -H "Authorization: Bearer $TOKEN"
curl -sf -o /dev/null "$URL/api/v1/whoami" -H "Authorization: Bearer $TOKEN"
say "token ok; warm-up 2 s per route"
for path in /healthz /auth/verify /api/v1/whoami; do
    wrk_run warmup "$CONNECTIONS" 2 "$URL$path" -H "Authorization: Bearer $TOKEN" >/dev/null
done

RUNS="$TMP/runs.jsonl"
: >"$RUNS"
PATHS=(/healthz /auth/verify /api/v1/whoami)
for round in $(seq 1 "$ROUNDS"); do
    for k in 0 1 2; do
        path=${PATHS[$(((round - 1 + k) % 3))]}
        say "round $round: $path, $CONNECTIONS connections, ${SECONDS_EACH} s"
        # The same header on every route (healthz ignores it), so requests are the same size.
        wrk_run "r$round$path" "$CONNECTIONS" "$SECONDS_EACH" "$URL$path" \
            -H "Authorization: Bearer $TOKEN" | sed "s|^{|{\"round\":$round,\"path\":\"$path\",|" >>"$RUNS"
        tail -1 "$RUNS" >&2
    done
done
RSS=$(rss_kib "$SERVER_PID")
stop_server

{
    echo "# tessera token checks vs GET /healthz (bench/token_checks/run.sh)"
    machine_info
    echo "connections: $CONNECTIONS keep-alive, wrk -t2, ${SECONDS_EACH} s per measurement, $ROUNDS rounds; wrk and tessera on the same $(nproc) cores"
    echo "server: tessera serve --log-level warn, fresh SQLite database in a temp dir; server RSS at the end: $RSS KiB"
    echo
    python3 - "$RUNS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
paths = ["/healthz", "/auth/verify", "/api/v1/whoami"]
rounds = sorted({r["round"] for r in runs})
by = {(r["round"], r["path"]): r for r in runs}
print("per round (ratio = route / healthz of the same round):")
print(f"{'round':>5} {'route':<16} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'rps ratio':>9} {'p50 ratio':>9} {'p99 ratio':>9}")
ratios = {p: [] for p in paths}
for rd in rounds:
    base = by[(rd, "/healthz")]
    for p in paths:
        r = by[(rd, p)]
        errs = r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
        rr, p50r, p99r = r["rps"] / base["rps"], r["p50_us"] / base["p50_us"], r["p99_us"] / base["p99_us"]
        ratios[p].append((rr, p50r, p99r))
        print(f"{rd:>5} {p:<16} {r['rps']:>10.0f} {r['p50_us']/1000:>8.2f} {r['p99_us']/1000:>8.2f} {errs:>7} {rr:>9.3f} {p50r:>9.2f} {p99r:>9.2f}")
print()
print("summary (median over rounds):")
print(f"{'route':<16} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'rps / healthz':>13} {'p50 / healthz':>13} {'p99 / healthz':>13}  target rps >= 0.8")
for p in paths:
    rs = [by[(rd, p)] for rd in rounds]
    med = lambda k: statistics.median(x[k] for x in rs)
    rr = statistics.median(x[0] for x in ratios[p]); p50r = statistics.median(x[1] for x in ratios[p]); p99r = statistics.median(x[2] for x in ratios[p])
    verdict = "" if p == "/healthz" else ("met" if rr >= 0.8 else "MISSED")
    print(f"{p:<16} {med('rps'):>10.0f} {med('p50_us')/1000:>8.2f} {med('p99_us')/1000:>8.2f} {rr:>13.3f} {p50r:>13.2f} {p99r:>13.2f}  {verdict}")
PY
    echo
    echo "raw wrk results (one JSON line per measurement):"
    cat "$RUNS"
} >"$OUTFILE"
say "results: $OUTFILE"
sed -n '/^summary/,/^$/p' "$OUTFILE"
