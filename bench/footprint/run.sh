#!/usr/bin/env bash
# Footprint (issue #8, item 6): release binary size; start-up time to the first 200 on /readyz
# on an existing SQLite database (median of STARTS starts); idle RSS; RSS with the check cache
# filled to its bound (TOKENS distinct tokens, issued through the client_credentials grant with
# wrk, then each checked once on /auth/verify on a freshly started server).
#
#   bash bench/footprint/run.sh
#
# Knobs (environment): STARTS (10), TOKENS (100000), CACHE_CAPACITY (100000, tessera's default),
# IDLE_WAIT (70 s: how long the server is left alone before the idle RSS is read),
# ISSUE_TIMEOUT / CHECK_TIMEOUT seconds (300 / 180), plus those of bench/common/lib.sh
# (TESSERA_BIN, NO_BUILD, BUILD_TIMEOUT). Writes bench/footprint/results/<UTC date-time>.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"

STARTS=${STARTS:-10}
TOKENS=${TOKENS:-100000}
CACHE_CAPACITY=${CACHE_CAPACITY:-100000}
IDLE_WAIT=${IDLE_WAIT:-70}
ISSUE_TIMEOUT=${ISSUE_TIMEOUT:-300}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-180}
WRK_THREADS=2

need_wrk
build_tessera
make_tmp
WRK_PID=
stop_wrk() { [[ -n "$WRK_PID" ]] && kill -INT "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null || true; WRK_PID=; }
EXTRA_CLEANUP=stop_wrk
DB="$TMP/bench.db"
PASSWORD="bench$(date +%s)x$RANDOM"
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"
LOG="$TMP/summary.txt"
: >"$LOG"
note() { echo "$*" | tee -a "$LOG" >&2; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }

# ----- binary ------------------------------------------------------------------------------
SIZE=$(stat -c %s "$BIN")
note "binary: $SIZE bytes ($(mib $((SIZE / 1024)))), $(file -b "$BIN" 2>/dev/null | grep -o 'not stripped\|stripped' || echo '?')"

# ----- an existing database -----------------------------------------------------------------
say "creating the database (one start: migrations, Admin), then $STARTS timed starts"
start_server
curl -sf "$URL/oauth/token" -d "grant_type=password&username=Admin&password=$PASSWORD" >/dev/null
stop_server
PORT=$(free_port)
STARTUP=$(python3 "$HERE/startup.py" "$STARTS" "$BIN" "$DB" "$PORT" --cache-capacity "$CACHE_CAPACITY")
note "startup: $STARTUP"
MEDIAN_MS=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['median_ms'])" "$STARTUP")

# ----- idle RSS -----------------------------------------------------------------------------
say "idle RSS"
start_server --cache-capacity "$CACHE_CAPACITY"
RSS_READY=$(rss_kib "$SERVER_PID")
for _ in $(seq 1 20); do curl -sf -o /dev/null "$URL/healthz"; done
TOKEN=$(curl -sf "$URL/oauth/token" -d "grant_type=password&username=Admin&password=$PASSWORD" | json_field access_token)
RSS_LOGIN=$(rss_kib "$SERVER_PID")
for _ in $(seq 1 20); do
    curl -sf -o /dev/null "$URL/auth/verify" -H "Authorization: Bearer $TOKEN"
    curl -sf -o /dev/null "$URL/api/v1/whoami" -H "Authorization: Bearer $TOKEN"
done
sleep 2
RSS_IDLE=$(rss_kib "$SERVER_PID")
HWM_IDLE=$(hwm_kib "$SERVER_PID")
note "rss: after ready $RSS_READY KiB; after 20 healthz + 1 password grant $RSS_LOGIN KiB; after 20 verify + 20 whoami and 2 s idle $RSS_IDLE KiB (peak VmHWM $HWM_IDLE KiB)"
# tessera frees the sign-ins' Argon2 memory after a minute without a sign-in (checked every
# last_access flush, 5 s): idle means after that.
sleep "$IDLE_WAIT"
RSS_IDLE_LATER=$(rss_kib "$SERVER_PID")
note "rss $IDLE_WAIT s later, nothing else asked: $RSS_IDLE_LATER KiB"

# ----- tokens for the cache -----------------------------------------------------------------
say "issuing $TOKENS tokens (client_credentials, wrk -t$WRK_THREADS -c32)"
CLIENT_JSON=$("$BIN" client add benchclient --grant client_credentials --scope read --json --database "sqlite://$DB")
SECRET=$(echo "$CLIENT_JSON" | json_field client_secret)
BASIC=$(printf '%s' "benchclient:$SECRET" | base64 -w0)
mkdir -p "$TMP/tokens"
T0=$(date +%s.%N)
# A few more than asked: wrk may drop a request or two (see issue.lua); the surplus is not checked.
OUTDIR="$TMP/tokens" QUOTA=$((TOKENS + 20)) THREADS=$WRK_THREADS BASIC=$BASIC \
    wrk -t$WRK_THREADS -c32 -d"${ISSUE_TIMEOUT}s" -s "$HERE/issue.lua" "$URL/" >"$TMP/wrk-issue.txt" 2>&1 &
WRK_PID=$!
while (( $(ls "$TMP/tokens"/done.* 2>/dev/null | wc -l) < WRK_THREADS )) && kill -0 "$WRK_PID" 2>/dev/null; do
    sleep 0.5
done
stop_wrk
T1=$(date +%s.%N)
ISSUED=$(cat "$TMP/tokens"/tokens.* | sort -u | wc -l)
# The first TOKENS distinct tokens, split over wrk's threads for check.lua.
mkdir -p "$TMP/check"
cat "$TMP/tokens"/tokens.* | awk '!seen[$0]++' | head -n "$TOKENS" >"$TMP/check/all"
for i in $(seq 1 $WRK_THREADS); do
    awk -v n=$WRK_THREADS -v i=$i 'NR % n == i % n' "$TMP/check/all" >"$TMP/check/tokens.$i"
done
note "issued: $ISSUED distinct tokens in $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.1f", b-a}') s ($(cat "$TMP/tokens"/done.* 2>/dev/null | tr '\n' ' ')= written/failed per wrk thread)"
RSS_AFTER_ISSUE=$(rss_kib "$SERVER_PID")
note "rss after issuing (same server): $RSS_AFTER_ISSUE KiB"
stop_server

# ----- the cache filled ---------------------------------------------------------------------
say "fresh server; checking each token once on /auth/verify"
start_server --cache-capacity "$CACHE_CAPACITY"
for _ in $(seq 1 20); do curl -sf -o /dev/null "$URL/healthz"; done
sleep 1
RSS_BEFORE_FILL=$(rss_kib "$SERVER_PID")
T0=$(date +%s.%N)
OUTDIR="$TMP/check" wrk -t$WRK_THREADS -c32 -d"${CHECK_TIMEOUT}s" -s "$HERE/check.lua" "$URL/" \
    >"$TMP/wrk-check.txt" 2>&1 &
WRK_PID=$!
while (( $(ls "$TMP/check"/checked.* 2>/dev/null | wc -l) < WRK_THREADS )) && kill -0 "$WRK_PID" 2>/dev/null; do
    sleep 0.2
done
stop_wrk
T1=$(date +%s.%N)
CHECKED=$(awk '{ok += $1; bad += $2} END {print ok " ok, " bad " not ok"}' "$TMP/check"/checked.* 2>/dev/null || echo '?')
RSS_FILLED=$(rss_kib "$SERVER_PID")
note "checked: $CHECKED of $(wc -l <"$TMP/check/all") distinct tokens in $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.1f", b-a}') s; rss right after: $RSS_FILLED KiB"
sleep 7   # past one last_access flush (5 s by default)
RSS_FILLED_LATER=$(rss_kib "$SERVER_PID")
HWM=$(hwm_kib "$SERVER_PID")
note "rss 7 s later (after a last_access flush): $RSS_FILLED_LATER KiB (peak VmHWM $HWM KiB)"
stop_server

OK=${CHECKED%% ok*}
{
    echo "# tessera footprint (bench/footprint/run.sh)"
    machine_info
    echo "server: tessera serve --log-level warn --cache-capacity $CACHE_CAPACITY, SQLite in a temp dir; wrk on the same cores"
    echo
    echo "summary:"
    printf '  %-44s %s\n' "release binary" "$SIZE bytes = $(mib $((SIZE / 1024)))"
    printf '  %-44s %s\n' "ready on an existing database (median)" "$MEDIAN_MS ms (of $STARTS starts; target < 100 ms: $(awk -v m="$MEDIAN_MS" 'BEGIN {print (m < 100) ? "met" : "MISSED"}'))"
    printf '  %-44s %s\n' "RSS right after ready" "$(mib "$RSS_READY")"
    printf '  %-44s %s\n' "RSS 2 s after a few requests + 1 sign-in" "$(mib "$RSS_IDLE")"
    printf '  %-44s %s\n' "RSS idle, $IDLE_WAIT s later" "$(mib "$RSS_IDLE_LATER") (target < 30 MB = 28.6 MiB: $(awk -v k="$RSS_IDLE_LATER" 'BEGIN {print (k * 1024 < 30e6) ? "met" : "MISSED"}'))"
    printf '  %-44s %s\n' "RSS with $OK distinct tokens checked" "$(mib "$RSS_FILLED") right after, $(mib "$RSS_FILLED_LATER") after a flush (cache capacity $CACHE_CAPACITY)"
    printf '  %-44s %s\n' "growth from the fill" "$(awk -v a="$RSS_BEFORE_FILL" -v b="$RSS_FILLED_LATER" -v n="$OK" 'BEGIN {printf "%.1f MiB from %.1f MiB before it; %.0f bytes per checked token", (b-a)/1024, a/1024, (n > 0) ? (b-a)*1024/n : 0}')"
    echo
    echo "log:"
    cat "$LOG"
} >"$OUTFILE"
say "results: $OUTFILE"
sed -n '/^summary/,/^$/p' "$OUTFILE"
