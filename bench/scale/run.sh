#!/usr/bin/env bash
# tessera at 1,000,000 tokens, on SQLite and on PostgreSQL (issue #8, items 5 and part of 6).
#
#   bash bench/scale/run.sh                      # both stores, 1,000,000 tokens
#   TOKENS=100000 STORES=sqlite bash bench/scale/run.sh
#
# For each store, on a fresh database:
#   1. bulk-loads TOKENS API tokens with real `tsr_` secrets (gen.py; SQLite: one transaction
#      of executemany, load_sqlite.py; PostgreSQL: psql \copy), timed, and the size afterwards;
#   2. token checks (GET /auth/verify, GET /api/v1/whoami) with wrk and check.lua:
#      COLD: every request a different token this server never checked (each one a database
#      read), WARM: a working set of WARM_SET tokens checked over and over; each at 1
#      connection (latency) and CONNS connections (throughput; warm also paced, a load the
#      machine has room for). The warm runs begin once the server has written the last_access
#      times of the cold runs and of the warm set's priming (settle_last_access: how long
#      those writes took is part of the results). Meanwhile,
#      for REVOKE_SECONDS after the cold runs, the tokens checked last are revoked one every
#      100 ms (revoke_probe.py): how long each waits while their last_access times are written;
#   3. RSS of the server right after the cold runs (more distinct tokens checked than the
#      cache holds: the cache is at its bound, --cache-capacity, 100,000 by default);
#   4. ISSUE tokens issued through the HTTP API (client_credentials grant), for comparison;
#   5. Zabbix token.get cases over HTTP (bench/zabbix_token_get/driver.py) and
#      their SQL planned and timed on the store itself (sqlcases.py; EXPLAIN ANALYZE on
#      PostgreSQL);
#   6. `tessera token list` paging: first page, deep pages (CLI wall time) and the SQL alone.
#
# Knobs (environment): TOKENS (1000000), USERS (1000), STORES ("sqlite postgres"),
# CONNS (32), COLD (40000 tokens per cold run at CONNS), COLD1 (10000 per cold run at 1
# connection), WARM_SET (1000), WARM_SECONDS (10), WARM_PACE_MS (2: each connection's wait
# after every answer in the paced warm runs at CONNS), REVOKE_SECONDS (20), ISSUE (10000),
# ZBX_REQUESTS (50), ZBX_BUDGET (10 s per case), PG_URL (postgres://postgres@127.0.0.1:5432),
# KEEP_PG (set: the PostgreSQL database is kept at exit, for EXPLAIN by hand; its name is
# printed), LOCK (/tmp/tessera-bench.lock: every heavy step holds it), and
# bench/common/lib.sh's TESSERA_BIN, NO_BUILD, BUILD_TIMEOUT. Results:
# bench/scale/results/<UTC>.txt (summary first, raw lines after). Everything runs on
# 127.0.0.1; temporary files live in one directory and the PostgreSQL database is dropped at
# exit.
set -euo pipefail

TOKENS=${TOKENS:-1000000}
USERS=${USERS:-1000}
STORES=${STORES:-"sqlite postgres"}
CONNS=${CONNS:-32}
COLD=${COLD:-40000}
COLD1=${COLD1:-10000}
WARM_SET=${WARM_SET:-1000}
WARM_SECONDS=${WARM_SECONDS:-10}
WARM_PACE_MS=${WARM_PACE_MS:-2}
REVOKE_SECONDS=${REVOKE_SECONDS:-20}
ISSUE=${ISSUE:-10000}
ZBX_REQUESTS=${ZBX_REQUESTS:-50}
ZBX_BUDGET=${ZBX_BUDGET:-10}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
LOCK=${LOCK:-/tmp/tessera-bench.lock}
SAMPLE=$((2 * COLD + 2 * COLD1 + 2 * WARM_SET))

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../common/lib.sh
source "$HERE/../common/lib.sh"
cd "$ROOT"
STARTED=$(date -u +%Y-%m-%dT%H%M%SZ)
RESULTS="$HERE/results/$STARTED.txt"

# The shared lock (other benchmarks and builds on this machine take it too): held only while
# something heavy runs. fd 9 is closed for every process the script starts in the background.
# If the lock cannot be had within LOCK_WAIT seconds (e.g. a daemon someone started under flock
# inherited it and holds it for good), the step runs without it, and the results say so; later
# steps try again for 5 s only.
LOCK_WAIT=${LOCK_WAIT:-300}
LOCK_MISSED=0
exec 9>>"$LOCK"
lock() {
    if flock -w "$LOCK_WAIT" 9; then
        return 0
    fi
    LOCK_MISSED=$((LOCK_MISSED + 1))
    LOCK_WAIT=5
    echo "WARNING: $LOCK not obtained; running this step without it ($LOCK_MISSED so far)" >&2
}
unlock() { flock -u 9; }

PG_DB="tessera_scale_$$"
PG_CREATED=0
drop_pg() {
    [[ "$PG_CREATED" == 1 ]] || return 0
    stop_server
    if [[ -n "${KEEP_PG:-}" ]]; then
        echo "KEEP_PG: the database $PG_URL/$PG_DB is kept; drop it yourself" >&2
    else
        timeout 60 psql -X -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true
    fi
    PG_CREATED=0
}
EXTRA_CLEANUP=drop_pg
make_tmp
RAW="$TMP/raw.txt"
SUMMARY="$TMP/summary.txt"
: >"$RAW"
: >"$SUMMARY"
raw() { printf '%s\n' "$*" | tee -a "$RAW" >&2; }
sum() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# ----- tools and build ----------------------------------------------------------------------
need_wrk
for tool in sqlite3 psql; do
    command -v "$tool" >/dev/null || { say "installing $tool"; lock; timeout 600 apt-get install -y "${tool/psql/postgresql-client}" >/dev/null; unlock; }
done
python3 -c 'import requests' 2>/dev/null || { lock; timeout 300 python3 -m pip install --quiet requests; unlock; }
lock
build_tessera
unlock
PASSWORD="bench-$(date +%s)-$RANDOM"
{
    machine_info
    echo "load average (1/5/15 min) at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
    # Server settings given through the environment change what is measured: name them.
    env | grep '^TESSERA_' | grep -v -e PASSWORD -e SECRET | sed 's/^/server setting from the environment: /' || true
} | tee "$TMP/machine.txt" >&2

# start_tessera DATABASE_URL [serve flags...]: sets SERVER_PID, PORT, URL; waits for /readyz.
start_tessera() {
    local db=$1
    shift
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    TESSERA_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" "$BIN" serve --database "$db" \
        --listen "127.0.0.1:$PORT" --log-level warn "$@" >>"$TMP/server.log" 2>&1 9>&- &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        curl -sf "$URL/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not become ready; its log:" >&2
    tail -50 "$TMP/server.log" >&2
    exit 1
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# check_run LABEL MODE ROUTE CONNECTIONS TOKENFILE [SECONDS]: wrk with check.lua; prints one
# JSON line. MODE once: every token once, then wrk is interrupted when every thread is done
# (SECONDS is only the limit); MODE cycle: SECONDS of the tokens over and over.
check_run() {
    local label=$1 mode=$2 route=$3 conns=$4 file=$5 secs=${6:-300}
    local threads=2
    (( conns < threads )) && threads=$conns
    local dir="$TMP/run-$STORE-$label"
    mkdir -p "$dir"
    awk -v n="$threads" -v d="$dir" '{ print > (d "/tokens." ((NR - 1) % n + 1)) }' "$file"
    OUTDIR=$dir MODE=$mode ROUTE=$route DELAY_MS=${PACE_MS:-} wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s \
        --latency -s "$HERE/check.lua" "$URL" >"$dir/wrk.txt" 2>&1 9>&- &
    local wpid=$!
    if [[ "$mode" == once ]]; then
        while (( $(find "$dir" -name 'done.*' | wc -l) < threads )) && kill -0 "$wpid" 2>/dev/null; do
            sleep 0.02
        done
        kill -INT "$wpid" 2>/dev/null || true
    fi
    wait "$wpid" || true
    local json
    json=$(sed -n 's/^WRK_JSON //p' "$dir/wrk.txt")
    [[ -n "$json" ]] || { cat "$dir/wrk.txt" >&2; return 1; }
    printf '{"store":"%s","label":"%s","mode":"%s","route":"%s","connections":%d,"wrk_threads":%d,"pace_ms":%d,"tokens":%d,%s\n' \
        "$STORE" "$label" "$mode" "$route" "$conns" "$threads" "${PACE_MS:-0}" "$(wc -l <"$file")" "${json#\{}"
}

# A summary line from check_run's JSON.
check_line() { python3 "$HERE/fmt.py" "$1"; }

measure_checks() {
    local j
    while [[ $# -gt 0 ]]; do
        lock
        j=$(check_run "$@")
        unlock
        raw "$j"
        sum "  $(check_line "$j")"
        shift 6
    done
}

# settle_last_access WHAT: waits until the server has written the last_access times that the
# checks of WHAT noted, so that the next run measures checks and not that write. The server
# writes them every 5 s; on PostgreSQL a write of 100,000 rows takes seconds (before migration
# 0013 no such update was HOT: every index of the row got a new entry), and it overlapped the
# warm runs when they began a fixed 6 s after the cold ones. Says how long it took.
settle_last_access() {
    local what=$1 t0 idle=0
    t0=$(date +%s%N)
    sleep 6 # a flush has begun, and taken every time noted
    if [[ "$STORE" == postgres ]]; then
        for _ in $(seq 1 1200); do
            if [[ $(psql -X -At "$dburl" -c "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND state = 'active' AND query LIKE 'UPDATE tokens SET last_access%'") == 0 ]]; then
                idle=$((idle + 1))
                ((idle >= 3)) && break
            else
                idle=0
            fi
            sleep 0.2
        done
    fi
    sum "  last_access writes after the $what: settled $(awk "BEGIN{printf \"%.1f\", $(ms_since "$t0")/1000}") s after the last check (6 s wait included)"
}

# pg_write_counters: the WAL position and the tokens table's updates and HOT updates so far.
pg_write_counters() {
    psql -X -At -F ' ' "$dburl" -c "SELECT pg_current_wal_lsn(), n_tup_upd, n_tup_hot_upd
                                     FROM pg_stat_user_tables WHERE relname = 'tokens'"
}

# wal_since COUNTERS TOKENS: the WAL PostgreSQL wrote since COUNTERS (pg_write_counters), per
# token whose last use was written, and how many of the updates of tokens were HOT (heap-only:
# no new index entries). The statistics reach pg_stat_user_tables within a second or so.
wal_since() {
    local lsn0 upd0 hot0 tokens=$2
    read -r lsn0 upd0 hot0 <<<"$1"
    sleep 1
    sum "  $(psql -X -At "$dburl" -c "SELECT 'PostgreSQL WAL from the first cold check until the writes settled: '
            || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0'))
            || ' (' || round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / $tokens / 1024, 1)
            || ' KiB a token checked); updates of tokens ' || (n_tup_upd - $upd0)
            || ', of them HOT ' || (n_tup_hot_upd - $hot0)
            FROM pg_stat_user_tables WHERE relname = 'tokens'")"
}

# ----- the data, generated once for both stores -----------------------------------------------
NOW_MS=$(($(date +%s%N) / 1000000))
say "generating $TOKENS tokens with tessera secrets, $USERS users, a sample of $SAMPLE secrets"
lock
T0=$(date +%s%N)
timeout 1200 python3 "$HERE/gen.py" --tokens "$TOKENS" --users "$USERS" --sample "$SAMPLE" \
    --now-ms "$NOW_MS" --out "$TMP" | tee -a "$RAW" >&2
GEN_MS=$(ms_since "$T0")
unlock
raw "generate: ${GEN_MS} ms (python, secrets + SHA-256 + TSV; not part of any insert time)"
# The sample, cut into disjoint sets: no token is used by two runs (a cold run's tokens were
# never checked before by any server of this script).
split_sample() {
    local f=$TMP/sample.txt from=1
    for spec in "cold_v1:$COLD1" "cold_w1:$COLD1" "cold_v:$COLD" "cold_w:$COLD" "warm:$WARM_SET" "warm5:$WARM_SET"; do
        local name=${spec%%:*} n=${spec##*:}
        sed -n "${from},$((from + n - 1))p" "$f" >"$TMP/set-$name.txt"
        from=$((from + n))
    done
}
split_sample

USER_ID=$((2 + USERS / 2))
TOKEN_ID=$((TOKENS / 2 + 1))
# `tessera token list` cases: the SQL of list_tokens() in crates/tessera-store/src/queries.rs.
DEEP=$((TOKENS - TOKENS / 10))
cat >"$TMP/list_cases.txt" <<EOF
@ list.first
SELECT * FROM tokens WHERE 1 = 1 ORDER BY id LIMIT ?
i 100
.
@ list.deep
SELECT * FROM tokens WHERE 1 = 1 AND id > ? ORDER BY id LIMIT ?
i $DEEP
i 100
.
@ list.user
SELECT * FROM tokens WHERE 1 = 1 AND user_id = ? ORDER BY id LIMIT ?
i $USER_ID
i 100
.
@ list.user.deep
SELECT * FROM tokens WHERE 1 = 1 AND user_id = ? AND id > ? ORDER BY id LIMIT ?
i $USER_ID
i $DEEP
i 100
.
@ list.disabled.deep
SELECT * FROM tokens WHERE 1 = 1 AND status = ? AND id > ? ORDER BY id LIMIT ?
t disabled
i $DEEP
i 100
.
@ list.refresh
SELECT * FROM tokens WHERE 1 = 1 AND kind = ? ORDER BY id LIMIT ?
t refresh
i 100
.
@ list.first.max
SELECT * FROM tokens WHERE 1 = 1 ORDER BY id LIMIT ?
i 10000
.
EOF
LIST_ARGS=(
    "list.first|"
    "list.deep|--after $DEEP"
    "list.user|--user bench-user-$(printf %05d $((USER_ID - 1)))"
    "list.user.deep|--user bench-user-$(printf %05d $((USER_ID - 1))) --after $DEEP"
    "list.disabled.deep|--status disabled --after $DEEP"
    "list.refresh|--kind refresh"
    "list.first.max|--limit 10000"
)

# ----- one store -----------------------------------------------------------------------------
bench_store() {
    STORE=$1
    local dburl
    sum ""
    sum "=== $STORE"
    if [[ "$STORE" == sqlite ]]; then
        DB="$TMP/scale.db"
        rm -f "$DB" "$DB-wal" "$DB-shm"
        dburl="sqlite://$DB"
    else
        timeout 60 psql -X -q "$PG_URL/postgres" -c "CREATE DATABASE $PG_DB"
        PG_CREATED=1
        dburl="$PG_URL/$PG_DB"
    fi
    say "$STORE: creating the database (tessera serve once: migrations, Admin)"
    start_tessera "$dburl"
    stop_server

    # --- 1. bulk load
    say "$STORE: bulk-loading $TOKENS tokens"
    local load_line size_line
    if [[ "$STORE" == sqlite ]]; then
        lock
        load_line=$(timeout 1800 python3 "$HERE/load_sqlite.py" "$DB" "$TMP")
        unlock
        raw "load sqlite: $load_line"
        local bytes
        bytes=$(( $(stat -c %s "$DB") + $(stat -c %s "$DB-wal" 2>/dev/null || echo 0) ))
        size_line="database file $(numfmt --to=iec-i --suffix=B "$bytes") ($bytes bytes, after the WAL checkpoint)"
        local ins ckp
        ins=$(sed 's/.*insert_s=\([0-9.]*\).*/\1/' <<<"$load_line")
        ckp=$(sed 's/.*checkpoint_s=\([0-9.]*\).*/\1/' <<<"$load_line")
        sum "load: $TOKENS tokens + $USERS users in ${ins} s (one transaction, 500 rows a statement, indexes in place) + ${ckp} s WAL checkpoint; $size_line"
    else
        local cols="id, hash, kind, door, user_id, name, description, status, created_at, expires_at, last_access, creator_id"
        lock
        local t0 copy_ms analyze_ms
        t0=$(date +%s%N)
        timeout 1800 psql -X -q -v ON_ERROR_STOP=1 "$dburl" \
            -c "\\copy users (id, uuid, username, display_name, role, enabled, permissions, password_hash, created_at) FROM '$TMP/users.tsv'" \
            -c "\\copy tokens ($cols) FROM '$TMP/tokens.tsv'"
        copy_ms=$(ms_since "$t0")
        t0=$(date +%s%N)
        # VACUUM too: after a bulk load autovacuum would vacuum the new table on its own
        # (PostgreSQL 13+ counts inserts too), reading all of it during whatever runs then.
        timeout 600 psql -X -q -v ON_ERROR_STOP=1 "$dburl" -c "VACUUM (ANALYZE)" -c "CHECKPOINT" \
            -c "SELECT setval('users_id_seq', (SELECT max(id) FROM users))" \
            -c "SELECT setval('tokens_id_seq', (SELECT max(id) FROM tokens))" >/dev/null
        analyze_ms=$(ms_since "$t0")
        unlock
        raw "load postgres: copy_ms=$copy_ms analyze_checkpoint_ms=$analyze_ms"
        size_line=$(psql -X -At "$dburl" -c "SELECT 'database ' || pg_size_pretty(pg_database_size(current_database())) || ' (' || pg_database_size(current_database()) || ' bytes); tokens table ' || pg_size_pretty(pg_relation_size('tokens')) || ', its indexes ' || pg_size_pretty(pg_indexes_size('tokens')) || ', with TOAST ' || pg_size_pretty(pg_total_relation_size('tokens'))")
        sum "load: $TOKENS tokens + $USERS users in $(awk "BEGIN{printf \"%.1f\", $copy_ms/1000}") s (psql \\copy, indexes in place) + $(awk "BEGIN{printf \"%.1f\", $analyze_ms/1000}") s VACUUM (ANALYZE) + CHECKPOINT; $size_line"
        psql -X -At "$dburl" -c "SELECT indexrelname || ' ' || pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes WHERE relname = 'tokens' ORDER BY 1" | sed 's/^/index /' | tee -a "$RAW" >&2
        psql -X -At "$dburl" -c "SHOW shared_buffers" | sed 's/^/postgres shared_buffers /' | tee -a "$RAW" >&2
    fi

    # --- 2. checks. TTL 3600 s: a warm entry is not re-read every 5 s (the default TTL) during
    # the warm runs; cold runs are unaffected (every token is new). Default capacity (100,000).
    start_tessera "$dburl" --cache-ttl-seconds 3600
    local rss0
    rss0=$(rss_kib "$SERVER_PID")
    raw "server: $BIN serve --database $dburl --cache-ttl-seconds 3600 (cache capacity: default); pid $SERVER_PID; rss after ready $rss0 KiB"
    curl -sf -o /dev/null -H "Authorization: Bearer $(head -1 "$TMP/set-warm.txt")" "$URL/auth/verify" \
        || { echo "a sample token was refused: the loaded data is wrong" >&2; tail "$TMP/server.log" >&2; exit 1; }
    sum "token checks (wrk + check.lua; cold: each token checked once, never before; warm: $WARM_SET tokens over and over for ${WARM_SECONDS} s, cache TTL 3600 s):"
    local wal0=""
    [[ "$STORE" == postgres ]] && wal0=$(pg_write_counters)
    measure_checks \
        cold.verify.c1 once /auth/verify 1 "$TMP/set-cold_v1.txt" 300 \
        cold.whoami.c1 once /api/v1/whoami 1 "$TMP/set-cold_w1.txt" 300 \
        cold.verify.c$CONNS once /auth/verify "$CONNS" "$TMP/set-cold_v.txt" 300 \
        cold.whoami.c$CONNS once /api/v1/whoami "$CONNS" "$TMP/set-cold_w.txt" 300
    # Meanwhile, revocations of the tokens checked last, whose times the server is writing.
    tail -n 400 "$TMP/set-cold_w.txt" | tac >"$TMP/revoke.txt"
    python3 "$HERE/revoke_probe.py" "$URL" "$TMP/revoke.txt" "$REVOKE_SECONDS" "$TMP/revoke.json" \
        >"$TMP/revoke.summary" 9>&- &
    local probe=$!
    settle_last_access "cold runs"
    [[ -n "$wal0" ]] && wal_since "$wal0" "$((2 * COLD + 2 * COLD1))"
    wait "$probe"
    raw "revocations during the last_access writes: $(cat "$TMP/revoke.json")"
    sum "  $(cat "$TMP/revoke.summary")"
    local rss_cold hwm_cold
    rss_cold=$(rss_kib "$SERVER_PID")
    hwm_cold=$(hwm_kib "$SERVER_PID")
    sum "RSS after the cold runs ($((2 * COLD + 2 * COLD1)) distinct tokens checked; the cache holds at most --cache-capacity, default 100,000): $((rss_cold / 1024)) MiB ($rss_cold KiB; peak VmHWM $hwm_cold KiB; $((rss0 / 1024)) MiB after ready)"
    # Warm: the set checked once (now cached), then timed.
    lock
    check_run warm.prime once /auth/verify 4 "$TMP/set-warm.txt" 60 >/dev/null
    unlock
    settle_last_access "warm set's priming"
    measure_checks \
        warm.verify.c1 cycle /auth/verify 1 "$TMP/set-warm.txt" "$WARM_SECONDS" \
        warm.whoami.c1 cycle /api/v1/whoami 1 "$TMP/set-warm.txt" "$WARM_SECONDS" \
        warm.verify.c$CONNS cycle /auth/verify "$CONNS" "$TMP/set-warm.txt" "$WARM_SECONDS" \
        warm.whoami.c$CONNS cycle /api/v1/whoami "$CONNS" "$TMP/set-warm.txt" "$WARM_SECONDS"
    # At CONNS connections wrk keeps both cores busy, so that p99 is mostly queueing (a check
    # waits for those ahead of it on the same cores). Paced: the same connections, each waiting
    # WARM_PACE_MS after every answer, a load the machine has room for.
    sum "  paced: each of the $CONNS connections waits ${WARM_PACE_MS} ms after every answer:"
    PACE_MS=$WARM_PACE_MS measure_checks \
        warm.verify.c$CONNS.paced cycle /auth/verify "$CONNS" "$TMP/set-warm.txt" "$WARM_SECONDS" \
        warm.whoami.c$CONNS.paced cycle /api/v1/whoami "$CONNS" "$TMP/set-warm.txt" "$WARM_SECONDS"
    if [[ "$STORE" == postgres ]]; then
        # Whether autovacuum or autoanalyze ran on tokens meanwhile (it competes with the runs).
        raw "postgres tokens table after the warm runs: $(psql -X -At "$dburl" -c "SELECT 'dead tuples ' || n_dead_tup || ', autovacuums ' || autovacuum_count || ' (last ' || COALESCE(last_autovacuum::text, 'never') || '), autoanalyzes ' || autoanalyze_count || ' (last ' || COALESCE(last_autoanalyze::text, 'never') || ')' FROM pg_stat_user_tables WHERE relname = 'tokens'")"
    fi
    local rss_warm
    rss_warm=$(rss_kib "$SERVER_PID")
    sum "RSS after the warm runs: $((rss_warm / 1024)) MiB"

    # --- 4. issuing through the HTTP API, for comparison with the bulk load
    say "$STORE: issuing $ISSUE tokens through POST /oauth/token (client_credentials)"
    local client_json secret basic t0 issue_ms issued
    client_json=$(timeout 60 "$BIN" client add scaleclient --grant client_credentials --scope read --json --database "$dburl" 9>&-)
    secret=$(json_field client_secret <<<"$client_json")
    basic=$(printf '%s' "scaleclient:$secret" | base64 -w0)
    mkdir -p "$TMP/issue-$STORE"
    lock
    t0=$(date +%s%N)
    OUTDIR="$TMP/issue-$STORE" QUOTA=$ISSUE THREADS=2 BASIC=$basic \
        wrk -t2 -c"$CONNS" -d600s -s "$HERE/../footprint/issue.lua" "$URL/" >"$TMP/wrk-issue-$STORE.txt" 2>&1 9>&- &
    local wpid=$!
    while (( $(find "$TMP/issue-$STORE" -name 'done.*' | wc -l) < 2 )) && kill -0 "$wpid" 2>/dev/null; do
        sleep 0.05
    done
    issue_ms=$(ms_since "$t0")
    kill -INT "$wpid" 2>/dev/null || true
    wait "$wpid" || true
    unlock
    issued=$(cat "$TMP/issue-$STORE"/tokens.* | sort -u | wc -l)
    raw "issue $STORE: $issued tokens in $issue_ms ms; per thread written/failed: $(cat "$TMP/issue-$STORE"/done.* | tr '\n' ' ')"
    sum "HTTP issuance: $issued tokens in $(awk "BEGIN{printf \"%.1f\", $issue_ms/1000}") s = $(awk "BEGIN{printf \"%.0f\", $issued/($issue_ms/1000)}") tokens/s (POST /oauth/token client_credentials, $CONNS connections, on top of the $TOKENS)"

    # --- 5. Zabbix token.get
    say "$STORE: Zabbix token.get"
    python3 "$HERE/../zabbix_token_get/driver.py" sql --store "$STORE" --user "$USER_ID" --token-id "$TOKEN_ID" --now "$((NOW_MS / 1000))" --out "$TMP"
    local target=${DB:-}
    [[ "$STORE" == postgres ]] && target=$dburl
    lock
    timeout 900 python3 "$HERE/sqlcases.py" "$STORE" "$target" "$TMP/cases.txt" 3 >"$TMP/sql-zabbix-$STORE.txt"
    unlock
    lock
    timeout $((ZBX_BUDGET * 12 + 300)) python3 "$HERE/../zabbix_token_get/driver.py" http --url "$URL/api_jsonrpc.php" \
        --password "$PASSWORD" --user "$USER_ID" --token-id "$TOKEN_ID" --now "$((NOW_MS / 1000))" \
        --requests "$ZBX_REQUESTS" --warmup 3 --budget "$ZBX_BUDGET" --json "$TMP/zabbix-$STORE.json" \
        >"$TMP/zabbix-$STORE.txt" 2>"$TMP/zabbix-$STORE.err" || {
        sum "Zabbix token.get over HTTP FAILED: $(tail -1 "$TMP/zabbix-$STORE.err")"
        { echo "--- driver.py http failed:"; cat "$TMP/zabbix-$STORE.err"; echo "--- server log (tail)"; tail -40 "$TMP/server.log"; } >>"$RAW"
        echo '[]' >"$TMP/zabbix-$STORE.json"
    }
    unlock
    sum "Zabbix token.get over HTTP (driver.py: sequential, 1 keep-alive connection; user $USER_ID, token id $TOKEN_ID), and the SQL alone on the store:"
    python3 - "$TMP/zabbix-$STORE.json" "$TMP/sql-zabbix-$STORE.txt" <<'PY' | tee -a "$SUMMARY"
import json, re, sys
rows = json.load(open(sys.argv[1]))
sql = {}
for line in open(sys.argv[2]):
    m = re.match(r"SQL key=(\S+) median_ms=(\S+) max_ms=(\S+)", line)
    if m:
        sql[m.group(1)] = float(m.group(2))
print(f"  {'case':<5} {'rows':>5} {'n':>4} {'HTTP median':>11} {'HTTP p99':>9} {'SQL median':>10}  >10ms?  description")
for r in rows:
    s = sql.get(r["case"])
    slow = "SLOW" if (s is not None and s > 10) or r["median_ms"] > 10 else ""
    print(f"  {r['case']:<5} {r['result_rows']:>5} {r['n']:>4} {r['median_ms']:>9.2f}ms {r['p99_ms']:>7.2f}ms "
          f"{(f'{s:8.2f}ms' if s is not None else '        -'):>10}  {slow:<6}  {r['description']}")
noindex = [(k.split(".")[0], v) for k, v in sql.items() if k.endswith(".noindex")]
if noindex:
    # A search by name asks the trigram index first (two statements), which sqlcases.py does
    # not reproduce; its SQL column is blank and only the HTTP figures count for it.
    print("  searches (c, c2): SQL blank, tessera asks the trigram index first; the same SQL without"
          " that step: " + ", ".join(f"{k} {v:.2f}ms" for k, v in noindex))
PY

    # --- 6. tessera token list
    say "$STORE: tessera token list"
    lock
    timeout 600 python3 "$HERE/sqlcases.py" "$STORE" "$target" "$TMP/list_cases.txt" 3 >"$TMP/sql-list-$STORE.txt"
    unlock
    sum "tessera token list (CLI wall time, median of 5 runs, table to /dev/null; and the SQL alone):"
    local spec name args t times
    for spec in "${LIST_ARGS[@]}"; do
        name=${spec%%|*}
        args=${spec#*|}
        times=()
        lock
        for _ in 1 2 3 4 5; do
            t0=$(date +%s%N)
            # shellcheck disable=SC2086
            timeout 120 "$BIN" token list --database "$dburl" $args >/dev/null 2>"$TMP/list.err" 9>&- \
                || { cat "$TMP/list.err" >&2; }
            times+=("$(ms_since "$t0")")
        done
        unlock
        t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
        local sqlms
        sqlms=$(sed -n "s/^SQL key=$name median_ms=\([0-9.]*\).*/\1/p" "$TMP/sql-list-$STORE.txt")
        raw "list $STORE $name: tessera token list $args: ${times[*]} ms; SQL median $sqlms ms"
        sum "  $(printf '%-20s %-50s CLI %5d ms   SQL %8s ms' "$name" "${args:-(no flags)}" "$t" "$sqlms")"
    done

    local rss_end
    rss_end=$(rss_kib "$SERVER_PID")
    sum "RSS at the end: $((rss_end / 1024)) MiB"
    stop_server

    # --- warm checks at the default cache TTL (5 s), for comparison
    start_tessera "$dburl"
    lock
    check_run warm5.prime once /auth/verify 4 "$TMP/set-warm5.txt" 60 >/dev/null
    unlock
    sum "warm checks with the default cache TTL (5 s: each entry re-read from the store every 5 s):"
    measure_checks \
        warm.ttl5.verify.c1 cycle /auth/verify 1 "$TMP/set-warm5.txt" "$WARM_SECONDS" \
        warm.ttl5.verify.c$CONNS cycle /auth/verify "$CONNS" "$TMP/set-warm5.txt" "$WARM_SECONDS"
    stop_server
    for f in "$TMP/sql-zabbix-$STORE.txt" "$TMP/sql-list-$STORE.txt" "$TMP/zabbix-$STORE.txt"; do
        { echo "--- $(basename "$f")"; cat "$f"; } >>"$RAW"
    done
    [[ "$STORE" == postgres ]] && drop_pg
    return 0
}

write_results() {
    {
        echo "bench/scale: tessera at $TOKENS tokens ($STARTED)"
        cat "$TMP/machine.txt"
        echo "load average (1/5/15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "shared lock $LOCK: $([[ $LOCK_MISSED == 0 ]] && echo "held for every heavy step" || echo "NOT obtained for $LOCK_MISSED heavy steps (held by another process for longer than LOCK_WAIT); those steps ran alongside whatever else was running")"
        echo "data: $TOKENS API tokens (ids 1..$TOKENS, door zabbix, bench/zabbix_token_get's spread), $USERS users; every token a valid tsr_ secret stored as its SHA-256; generation ${GEN_MS} ms (not in any insert time)"
        [[ -n "${1:-}" ]] && echo "$1"
        cat "$SUMMARY"
        echo
        echo "===== raw"
        cat "$RAW"
    } >"$RESULTS"
}
DONE=0
on_exit() {
    [[ "$DONE" == 1 || ! -f "$TMP/machine.txt" ]] || write_results "INCOMPLETE: the script stopped early (exit status $1); what it measured until then follows" || true
    cleanup
}
trap 'on_exit $?' EXIT

for store in $STORES; do
    bench_store "$store"
done

write_results
DONE=1
say "results: $RESULTS"
cat "$SUMMARY"
