#!/usr/bin/env bash
# Profile of the token-check path (issue #8, item 7): where a cached check on /auth/verify,
# /api/v1/whoami and POST /oauth/introspect (a client authenticating with HTTP Basic) spends its
# time beyond the bare route GET /healthz.
#
#   bash bench/profile/run.sh
#
# Needs a release binary with line tables (Cargo.toml is not touched):
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
#       cargo build --release -p tessera --target-dir target/profile
# and perf, valgrind (callgrind_control, callgrind_annotate), wrk, python3, and inferno
# (`cargo install inferno`: inferno-collapse-perf, inferno-flamegraph).
#
# Three parts, one fresh SQLite server each (--log-level warn, defaults otherwise), one token
# from a password grant, every check a cache hit:
#  1. CPU per request: wrk -t2 -c64 for SECONDS_EACH on each route; the server's utime+stime
#     (/proc/PID/stat) over the run divided by the requests wrk counted.
#  2. perf: the same load, `perf record -F FREQ --call-graph dwarf` on the server for
#     PERF_SECONDS; folded with inferno into results/<stamp>-<route>.svg (+ .folded).
#  3. callgrind: the server under valgrind --tool=callgrind, instrumentation off at start;
#     for each route: counters zeroed, instrumentation on, N requests on one keep-alive
#     connection (python http.client), dump. Instructions per request = Ir / N.
#     callgrind_annotate of each dump in results/<stamp>-callgrind-<route>.txt.
#
# Knobs: BIN (target/profile/release/tessera), SECONDS_EACH (10), PERF_SECONDS (8), FREQ (499),
# N (2000), PARTS ("cpu perf callgrind").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"
REV=$(binary_rev "${BIN:+BIN}")
BIN=${BIN:-$ROOT/target/profile/release/tessera}
SECONDS_EACH=${SECONDS_EACH:-10}
PERF_SECONDS=${PERF_SECONDS:-8}
FREQ=${FREQ:-499}
N=${N:-2000}
PARTS=${PARTS:-cpu perf callgrind}
CONNECTIONS=64
[[ -x "$BIN" ]] || { echo "no $BIN (see the header for the build)" >&2; exit 1; }
need_wrk
make_tmp
RES="$HERE/results"
mkdir -p "$RES"
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUTFILE="$RES/$STAMP.txt"
PASSWORD="bench$(date +%s)x$RANDOM"
ROUTES=(/healthz /auth/verify /api/v1/whoami /oauth/introspect)
name_of() { local n=${1#/}; echo "${n//\//_}"; }
# load ROUTE LABEL SECONDS: wrk on a route with what it needs (introspection: a POST with the
# token in the body and the client's Basic credentials).
load() {
    if [[ "$1" == /oauth/introspect ]]; then
        WRK_METHOD=POST WRK_BODY="token=$TOKEN" WRK_EXPECT='"active":true' \
            wrk_run "$2" "$CONNECTIONS" "$3" "$URL$1" -H "$BASIC" \
            -H 'Content-Type: application/x-www-form-urlencoded'
    else
        WRK_METHOD=GET WRK_BODY= WRK_EXPECT= \
            wrk_run "$2" "$CONNECTIONS" "$3" "$URL$1" -H "Authorization: Bearer $TOKEN"
    fi
}
# A client for introspection, registered with the CLI (the server reads it on first use).
add_client() {
    local secret
    secret=$("$BIN" client add profile --grant client_credentials --json --database "sqlite://$DB" \
        | json_field client_secret)
    BASIC="Authorization: Basic $(printf 'profile:%s' "$secret" | base64 -w0)"
}

fresh_server() {
    stop_server
    DB="$TMP/bench-$1.db"
    start_server
    add_client
    TOKEN=$(curl -sf "$URL/oauth/token" -d grant_type=password -d username=Admin \
        -d "password=$PASSWORD" | json_field access_token)
    curl -sf -o /dev/null "$URL/auth/verify" -H "Authorization: Bearer $TOKEN"
    curl -sf -o /dev/null "$URL/api/v1/whoami" -H "Authorization: Bearer $TOKEN"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

{
    echo "# tessera check-path profile (bench/profile/run.sh)"
    machine_info
    echo "perf: $(perf version 2>&1); valgrind: $(valgrind --version 2>&1)"
    echo
} >"$OUTFILE"

if [[ " $PARTS " == *" cpu "* ]]; then
    fresh_server cpu
    for p in "${ROUTES[@]}"; do
        load "$p" warm 2 >/dev/null
    done
    TCK=$(getconf CLK_TCK)
    echo "## 1. server CPU per request (wrk -t2 -c$CONNECTIONS, ${SECONDS_EACH} s each, utime+stime from /proc)" >>"$OUTFILE"
    for p in "${ROUTES[@]}" "${ROUTES[@]}"; do
        t0=$(cpu_ticks "$SERVER_PID")
        j=$(load "$p" "cpu$(name_of "$p")" "$SECONDS_EACH")
        t1=$(cpu_ticks "$SERVER_PID")
        python3 - "$p" "$j" "$t0" "$t1" "$TCK" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUTFILE" <<'PY'
import json, sys
p, j, t0, t1, tck, load = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
cpu_s = (t1 - t0) / tck
print(f"{p:<16} {j['requests']:>8} req {j['rps']:>9.0f} req/s  server cpu {cpu_s:6.2f} s = {cpu_s/j['requests']*1e6:6.1f} us/request  p50 {j['p50_us']/1000:.2f} ms  (load after {load})")
PY
        tail -1 "$OUTFILE" >&2
    done
    echo >>"$OUTFILE"
fi

if [[ " $PARTS " == *" perf "* ]]; then
    fresh_server perf
    echo "## 2. perf record -F $FREQ --call-graph dwarf, ${PERF_SECONDS} s under wrk -t2 -c$CONNECTIONS" >>"$OUTFILE"
    for p in "${ROUTES[@]}"; do
        n=$(name_of "$p")
        load "$p" warm 2 >/dev/null
        load "$p" "perf$n" $((PERF_SECONDS + 2)) >"$TMP/wrk-$n.json" &
        WPID=$!
        sleep 1
        perf record -q -F "$FREQ" --call-graph dwarf,16384 -p "$SERVER_PID" -o "$TMP/perf-$n.data" \
            -- sleep "$PERF_SECONDS" 2>>"$TMP/perf.log"
        wait "$WPID"
        perf script -i "$TMP/perf-$n.data" --no-inline 2>/dev/null \
            | inferno-collapse-perf >"$RES/$STAMP-$n.folded"
        inferno-flamegraph --title "tessera $p (cached check, wrk -c$CONNECTIONS), $REV" \
            <"$RES/$STAMP-$n.folded" >"$RES/$STAMP-$n.svg"
        samples=$(awk '{s += $NF} END {print s}' "$RES/$STAMP-$n.folded")
        echo "$p: $samples ns of cpu-clock sampled (sum of periods); wrk $(cat "$TMP/wrk-$n.json")" >>"$OUTFILE"
        tail -1 "$OUTFILE" >&2
    done
    echo >>"$OUTFILE"
fi

if [[ " $PARTS " == *" callgrind "* ]]; then
    stop_server
    DB="$TMP/bench-cg.db"
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    TESSERA_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$TMP/cg.out" "$BIN" serve --database "sqlite://$DB" \
        --listen "127.0.0.1:$PORT" --log-level warn >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        curl -sf "$URL/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    TOKEN=$(curl -sf --max-time 120 "$URL/oauth/token" -d grant_type=password -d username=Admin \
        -d "password=$PASSWORD" | json_field access_token)
    add_client
    echo "## 3. callgrind: $N requests per route on one keep-alive connection, instructions (Ir)" >>"$OUTFILE"
    for p in "${ROUTES[@]}"; do
        n=$(name_of "$p")
        python3 "$HERE/client.py" "$PORT" "$p" "$TOKEN" 50 "$BASIC" >/dev/null   # warm (cache hit)
        callgrind_control -z "$SERVER_PID" >/dev/null
        callgrind_control -i on "$SERVER_PID" >/dev/null
        python3 "$HERE/client.py" "$PORT" "$p" "$TOKEN" "$N" "$BASIC"
        callgrind_control -i off "$SERVER_PID" >/dev/null
        callgrind_control -d "$n" "$SERVER_PID" >/dev/null
        sleep 1
    done
    stop_server
    for p in "${ROUTES[@]}"; do
        n=$(name_of "$p")
        f=$(grep -l "^desc: Trigger: .*$n\$" "$TMP"/cg.out* | sed -n 1p)
        callgrind_annotate --inclusive=no "$f" 2>/dev/null | sed -n 1,80p >"$RES/$STAMP-callgrind-$n.txt"
        callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n 1,120p >"$RES/$STAMP-callgrind-$n-inclusive.txt"
        total=$(grep -m1 '^totals:' "$f" | awk '{print $2}')
        python3 -c "import sys; t=int(sys.argv[2]); print(f'{sys.argv[1]:<16} Ir {t:>14,}  = {t/int(sys.argv[3]):>9,.0f} instructions/request')" "$p" "$total" "$N" >>"$OUTFILE"
        tail -1 "$OUTFILE" >&2
        gzip -c "$f" >"$RES/$STAMP-callgrind-$n.out.gz"
    done
fi
say "results: $OUTFILE"
cat "$OUTFILE"
