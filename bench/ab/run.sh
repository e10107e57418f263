#!/usr/bin/env bash
# Two (or more) tessera binaries side by side, in the same run: what a change did.
#
#   bash bench/ab/run.sh OLD_BINARY NEW_BINARY [MORE...]
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release -p tessera)
#   bash bench/ab/run.sh /tmp/old/target/release/tessera target/release/tessera
#
# Each round starts every binary in turn on a fresh SQLite database (--log-level warn), with a
# client_credentials client, and measures with wrk (CONNECTIONS keep-alive connections,
# SECONDS_EACH s each): GET /healthz, GET /auth/verify and GET /api/v1/whoami with a cached
# token, POST /oauth/introspect with the client's Basic credentials, and client_credentials
# issuance. Rounds alternate the binaries, so the machine's noise falls on all of them; compare
# the medians, and the ratios within a round.
#
# Knobs: CONNECTIONS (64), SECONDS_EACH (5), ROUNDS (3), WHAT ("healthz verify whoami introspect
# issue"). Writes bench/ab/results/<UTC>.txt (summary, then every wrk run as JSON).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"
CONNECTIONS=${CONNECTIONS:-64}
SECONDS_EACH=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-3}
WHAT=${WHAT:-healthz verify whoami introspect issue}
(($# >= 2)) || { echo "usage: $0 BINARY BINARY [BINARY...]" >&2; exit 2; }
BINS=()
for b in "$@"; do
    [[ -x "$b" ]] || { echo "not an executable: $b" >&2; exit 2; }
    BINS+=("$(realpath "$b")")
done

need_wrk
make_tmp
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"
RUNS="$TMP/runs.jsonl"
: >"$RUNS"
BIN=${BINS[0]} REV=- MACHINE=$(machine_info)
FORM='Content-Type: application/x-www-form-urlencoded'

for round in $(seq 1 "$ROUNDS"); do
    for i in "${!BINS[@]}"; do
        BIN=${BINS[$i]}
        DB="$TMP/ab-$round-$i.db"
        PASSWORD="bench$(date +%s)x$RANDOM"
        start_server
        basic=$(client_basic ab)
        token=$(curl -sf "$URL/oauth/token" -H "$basic" -d 'grant_type=client_credentials&scope=read' \
            | json_field access_token)
        say "round $round, binary $i ($BIN)"
        for what in $WHAT; do
            case $what in
                healthz) WRK_METHOD=GET WRK_BODY= WRK_EXPECT= \
                    wrk_run "$what" "$CONNECTIONS" "$SECONDS_EACH" "$URL/healthz" ;;
                verify) WRK_METHOD=GET WRK_BODY= WRK_EXPECT= \
                    wrk_run "$what" "$CONNECTIONS" "$SECONDS_EACH" "$URL/auth/verify" \
                    -H "Authorization: Bearer $token" ;;
                whoami) WRK_METHOD=GET WRK_BODY= WRK_EXPECT='"token"' \
                    wrk_run "$what" "$CONNECTIONS" "$SECONDS_EACH" "$URL/api/v1/whoami" \
                    -H "Authorization: Bearer $token" ;;
                introspect) WRK_METHOD=POST WRK_BODY="token=$token" WRK_EXPECT='"active":true' \
                    wrk_run "$what" "$CONNECTIONS" "$SECONDS_EACH" "$URL/oauth/introspect" \
                    -H "$basic" -H "$FORM" ;;
                issue) WRK_METHOD=POST WRK_BODY='grant_type=client_credentials&scope=read' \
                    WRK_EXPECT='"access_token"' \
                    wrk_run "$what" "$CONNECTIONS" "$SECONDS_EACH" "$URL/oauth/token" \
                    -H "$basic" -H "$FORM" ;;
                *) echo "unknown measurement $what" >&2; exit 2 ;;
            esac | sed "s|^{|{\"round\":$round,\"binary\":$i,\"what\":\"$what\",|" >>"$RUNS"
            tail -1 "$RUNS" >&2
        done
        stop_server
    done
done

{
    echo "# tessera binaries side by side (bench/ab/run.sh)"
    echo "$MACHINE" | grep -v '^tessera:'
    for i in "${!BINS[@]}"; do
        echo "binary $i: ${BINS[$i]} (built $(date -u -r "${BINS[$i]}" '+%Y-%m-%d %H:%M:%S UTC'))"
    done
    echo "wrk -t2 -c$CONNECTIONS keep-alive, ${SECONDS_EACH} s each, $ROUNDS rounds; fresh SQLite database per binary and round"
    echo
    python3 - "$RUNS" "${#BINS[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
whats = list(dict.fromkeys(r["what"] for r in runs))
bad = lambda r: r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"] + r["bad_body"]
print("req/s per round, then the median; 'x b0' = median / binary 0's median")
print(f"{'what':<11} {'binary':>6} {'per round':<30} {'median':>9} {'x b0':>6} {'p99 ms':>7} {'bad':>4}")
for w in whats:
    base = None
    for b in range(n):
        rs = [r for r in runs if r["what"] == w and r["binary"] == b]
        med = statistics.median(r["rps"] for r in rs)
        base = base or med
        p99 = statistics.median(r["p99_us"] for r in rs) / 1000
        per = " ".join(f"{r['rps']:.0f}" for r in rs)
        print(f"{w:<11} {b:>6} {per:<30} {med:>9.0f} {med / base:>6.2f} {p99:>7.2f} {sum(map(bad, rs)):>4}")
PY
    echo
    echo "raw results (one JSON line per measurement):"
    cat "$RUNS"
} >"$OUTFILE"
say "results: $OUTFILE"
sed -n '/^raw results/q;p' "$OUTFILE"
