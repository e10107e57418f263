#!/usr/bin/env bash
# Exploration: what makes paced checks' p99 grow while sign-ins saturate the hash pool?
set -euo pipefail
source /work/main/bench/common/lib.sh
NO_BUILD=1
need_wrk
build_tessera
RAW=/work/main/bench/argon2_raw/target/release/argon2_raw
make_tmp
DB="$TMP/bench.db"
PASSWORD="bench$(date +%s)x$RANDOM"
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-/tmp/x/decomp.jsonl}
start_server --password-workers 2
FORM='Content-Type: application/x-www-form-urlencoded'
OAUTH_BODY="grant_type=password&username=Admin&password=$PASSWORD"
TOKEN=$(curl -sf "$URL/oauth/token" -d "$OAUTH_BODY" | json_field access_token)
checks() { WRK_DELAY_MS=2 wrk_run "$1" 16 "$SECONDS_EACH" "$URL/auth/verify" -H "Authorization: Bearer $TOKEN" | tee -a "$OUT" >&2; }
BGP=()
stop_bg() { for p in "${BGP[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; for p in "${BGP[@]}"; do wait "$p" 2>/dev/null || true; done; BGP=(); }
EXTRA_CLEANUP=stop_bg
for r in $(seq 1 $ROUNDS); do
  say "round $r"
  checks "r${r}_alone"
  # two nice-10 busy loops: CPU only
  for i in 1 2; do nice -n 10 bash -c 'while :; do :; done' & BGP+=($!); done
  sleep 1; checks "r${r}_busy_loops_nice10"; stop_bg
  # raw argon2id, 2 threads at nice 10 in another process: CPU + memory traffic, no requests
  nice -n 10 "$RAW" --threads 2 --seconds $((SECONDS_EACH+3)) >/dev/null & BGP+=($!)
  sleep 1; checks "r${r}_raw_argon2_nice10"; wait "${BGP[@]}" || true; BGP=()
  # sign-ins through the server
  (WRK_METHOD=POST WRK_BODY=$OAUTH_BODY WRK_EXPECT='"access_token"' wrk_run logins 8 $((SECONDS_EACH+3)) "$URL/oauth/token" -H "$FORM" >/dev/null) & BGP+=($!)
  sleep 1; checks "r${r}_logins"; wait "${BGP[@]}" || true; BGP=()
  # sign-ins with a wrong password (hash, no token write, audit write)
done
