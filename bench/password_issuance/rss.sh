#!/usr/bin/env bash
# Server RSS while the password grant runs (wrk, 8 connections), sampled every 2 s, with glibc's
# default malloc arenas and with MALLOC_ARENA_MAX=2 (an environment variable of glibc, not a
# tessera setting), on fresh databases one after the other. Also: one connection on the
# client_credentials grant (no Argon2) against one on the password grant, to see what a sign-in
# costs besides the hash.
#
#   bash bench/password_issuance/rss.sh
#
# Knobs: SECONDS_EACH (20), and those of bench/common/lib.sh. Writes
# bench/password_issuance/results/<UTC date-time>-rss.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"
SECONDS_EACH=${SECONDS_EACH:-20}
need_wrk
build_tessera
make_tmp
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ)-rss.txt"
PASSWORD="bench$(date +%s)x$RANDOM"
FORM='Content-Type: application/x-www-form-urlencoded'
BODY="grant_type=password&username=Admin&password=$PASSWORD"
{
    echo "# tessera RSS during password sign-ins (bench/password_issuance/rss.sh)"
    machine_info
    for arenas in default 2; do
        DB="$TMP/bench-$arenas.db"
        if [[ $arenas == default ]]; then start_server; else MALLOC_ARENA_MAX=$arenas start_server; fi
        echo
        echo "MALLOC_ARENA_MAX=$arenas: RSS after ready $(rss_kib "$SERVER_PID") KiB"
        WRK_METHOD=POST WRK_BODY=$BODY WRK_EXPECT='"access_token"' \
            wrk_run "logins-$arenas" 8 "$SECONDS_EACH" "$URL/oauth/token" -H "$FORM" >"$TMP/w.json" &
        W=$!
        samples=""
        for _ in $(seq 1 $((SECONDS_EACH / 2))); do
            sleep 2
            samples="$samples $(($(rss_kib "$SERVER_PID") / 1024))"
        done
        wait "$W"
        echo "  RSS every 2 s during the logins (MiB):$samples"
        echo "  threads at the end: $(awk '/^Threads:/ {print $2}' /proc/$SERVER_PID/status); peak VmHWM $(($(hwm_kib "$SERVER_PID") / 1024)) MiB"
        echo "  logins: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.1f/s, bad %d" % (r["rps"], r["bad_body"] + r["errors_status"]))' "$TMP/w.json")"
        sleep 12
        echo "  RSS 12 s after the logins: $(($(rss_kib "$SERVER_PID") / 1024)) MiB"
        stop_server
    done
    echo
    DB="$TMP/bench-cc.db"
    start_server
    SECRET=$("$BIN" client add benchclient --grant client_credentials --scope read --json --database "sqlite://$DB" | json_field client_secret)
    BASIC=$(printf '%s' "benchclient:$SECRET" | base64 -w0)
    echo "one connection each, 10 s, same server:"
    WRK_METHOD=POST WRK_BODY=grant_type=client_credentials WRK_EXPECT='"access_token"' \
        wrk_run cc 1 10 "$URL/oauth/token" -H "$FORM" -H "Authorization: Basic $BASIC"
    WRK_METHOD=POST WRK_BODY=$BODY WRK_EXPECT='"access_token"' wrk_run pw 1 10 "$URL/oauth/token" -H "$FORM"
    "$HERE/../argon2_raw/target/release/argon2_raw" --threads 1 --seconds 10 | sed 's|^{|{"label":"raw_1_thread",|'
    echo
    # Minor page faults: a fresh 19 MiB region is 4,864 faults of 4 KiB.
    before=$(awk '{print $10}' "/proc/$SERVER_PID/stat")
    for _ in $(seq 1 50); do curl -sf -o /dev/null "$URL/oauth/token" -d "$BODY"; done
    after=$(awk '{print $10}' "/proc/$SERVER_PID/stat")
    echo "minor page faults per sign-in (50 sequential password grants): $(((after - before) / 50)); RSS after them $(($(rss_kib "$SERVER_PID") / 1024)) MiB"
    python3 - "$HERE/../argon2_raw/target/release/argon2_raw" <<'PY'
import json, resource, subprocess, sys
out = subprocess.run([sys.argv[1], "--threads", "1", "--seconds", "3"], capture_output=True, text=True).stdout
n = json.loads(out)["verifications"] + 1  # + the one hash it makes first
print(f"minor page faults per verification in argon2_raw (1 thread, 3 s): {resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt / n:.0f}")
PY
    stop_server
} | tee "$OUTFILE"
