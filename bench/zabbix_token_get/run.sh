#!/usr/bin/env bash
# token.get over 1,000,000 stored API tokens: bulk-loads a fresh SQLite database, shows the
# query plan of each case's SQL, and measures each case's latency over HTTP on loopback against
# `tessera serve`, as a ratio to apiinfo.version (no database work) measured in the same run.
#
#   bash bench/zabbix_token_get/run.sh
#
# Knobs (environment): TOKENS (1000000), USERS (1000), REQUESTS per case (200), WARMUP per
# case (10), BUDGET seconds of requests per case at most (45), OUT (a directory to copy the
# raw results into; none by default), WHATIF (1: also try candidate fixes on the temporary
# database; 0: skip), BUILD_TIMEOUT seconds (2400), TESSERA_BIN (skip the
# build and use this binary: for trying the script out only).
# Everything runs on 127.0.0.1; every temporary file lives in one directory removed at exit.
set -euo pipefail

TOKENS=${TOKENS:-1000000}
USERS=${USERS:-1000}
REQUESTS=${REQUESTS:-200}
WARMUP=${WARMUP:-10}
BUDGET=${BUDGET:-45}
OUT=${OUT:-}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-2400}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# For binary_rev (the commit the results name); this script keeps its own say and server.
# shellcheck source=../common/lib.sh
source "$HERE/../common/lib.sh"
cd "$ROOT"

say() { printf '\n== %s\n' "$*"; }

# ----- tools --------------------------------------------------------------------------------
if ! command -v sqlite3 >/dev/null; then
    say "installing sqlite3 (apt)"
    timeout 300 apt-get install -y sqlite3 >/dev/null || {
        timeout 300 apt-get update >/dev/null && timeout 300 apt-get install -y sqlite3 >/dev/null
    }
fi
if ! python3 -c 'import requests' 2>/dev/null; then
    say "installing python requests (pip)"
    timeout 300 python3 -m pip install --quiet requests
fi

if [[ -n "${TESSERA_BIN:-}" ]]; then
    # Only for trying the script out (e.g. with a debug build); results come from the build below.
    BIN=$(realpath "$TESSERA_BIN")
    say "using $BIN (TESSERA_BIN), no build"
else
    say "building: cargo build --release -p tessera"
    timeout "$BUILD_TIMEOUT" cargo build --release -p tessera
    BIN="$ROOT/target/release/tessera"
fi
# The tree the binary was built from (others may commit while the benchmark runs); a binary
# given with TESSERA_BIN is not claimed to be this checkout's.
REV=$(binary_rev "${TESSERA_BIN:+TESSERA_BIN}")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-zbench.XXXXXX")
SERVER_PID=
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB="$TMP/bench.db"
PASSWORD="bench-$(date +%s)-$RANDOM"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
    PORT=$(free_port)
    TESSERA_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" "$BIN" serve \
        --database "sqlite://$DB" --listen "127.0.0.1:$PORT" >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not become ready; its log:" >&2
    cat "$TMP/server.log" >&2
    exit 1
}

# ----- a fresh database: migrations and Admin (userid 1) ----------------------------------
say "creating the database (tessera serve once: migrations, Admin)"
start_server
stop_server
sqlite3 "$DB" "SELECT 'admin: id=' || id || ' ' || username || ' (' || role || ')' FROM users;"

# ----- bulk load ----------------------------------------------------------------------------
# Deterministic spread (the row number i drives every value), except the hash: 32 random bytes.
NOW_MS=$(($(date +%s%N) / 1000000))
YEAR_MS=31536000000
DAY_MS=86400000
say "inserting $USERS users and $TOKENS API tokens (sqlite3 CLI, one transaction)"
cat >"$TMP/seed.sql" <<SQL
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $USERS)
INSERT INTO users (id, uuid, username, display_name, role, enabled, permissions, password_hash,
                   created_at)
SELECT i + 1, lower(hex(randomblob(16))), printf('bench-user-%05d', i), printf('Bench user %d', i),
       'user', 1, '', '\$argon2id\$v=19\$m=19456,t=2,p=1\$YmVuY2hiZW5jaA\$bm90IGEgcmVhbCBoYXNo',
       $NOW_MS - $YEAR_MS
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TOKENS),
rows AS (
    SELECT i,
           2 + (i * 7919) % $USERS AS user_id,
           CASE (i * 5) % 8 WHEN 0 THEN 'backup' WHEN 1 THEN 'deploy' WHEN 2 THEN 'monitor'
               WHEN 3 THEN 'ci' WHEN 4 THEN 'grafana' WHEN 5 THEN 'export' WHEN 6 THEN 'sync'
               ELSE 'audit' END AS word,
           $NOW_MS - (i * 2654435761) % $YEAR_MS AS created_at
    FROM n
)
INSERT INTO tokens (hash, kind, door, user_id, name, description, status, created_at,
                    expires_at, last_access, creator_id)
SELECT randomblob(32), 'api', 'zabbix', user_id,
       printf('svc-%06d-%s', i, word),
       printf('%s token %d of user %d, created by the benchmark', word, i, user_id),
       CASE WHEN (i * 17) % 20 = 0 THEN 'disabled' ELSE 'active' END,
       created_at,
       CASE WHEN (i * 13) % 5 = 0 THEN NULL
            ELSE created_at + (30 + (i * 37) % 365) * $DAY_MS END,
       CASE WHEN (i * 11) % 10 < 3 THEN NULL
            ELSE created_at + (i * 48271) % ($NOW_MS - created_at + 1) END,
       CASE WHEN i % 4 = 0 THEN user_id ELSE 1 END
FROM rows;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
T0=$(date +%s%N)
timeout 1800 sqlite3 "$DB" <"$TMP/seed.sql" >/dev/null
T1=$(date +%s%N)
INSERT_S=$(python3 -c "print(f'{($T1 - $T0) / 1e9:.1f}')")
DB_BYTES=$(stat -c %s "$DB")
DB_MB=$(python3 -c "print(f'{$DB_BYTES / 1048576:.0f}')")
sqlite3 "$DB" "SELECT 'tokens: ' || count(*) || ' api, ' || sum(status = 'disabled') || ' disabled, '
    || sum(expires_at IS NULL) || ' never expire, ' || sum(expires_at <= $NOW_MS) || ' expired, '
    || sum(last_access IS NULL) || ' never used, ' || sum(name LIKE '%backup%') || ' named *backup*'
    FROM tokens WHERE kind = 'api';" 
echo "insert: ${INSERT_S} s for $TOKENS tokens + $USERS users; database file: $DB_BYTES bytes (${DB_MB} MiB)"

USER_ID=$((2 + USERS / 2))
TOKEN_ID=$(sqlite3 "$DB" "SELECT id FROM tokens WHERE kind = 'api' ORDER BY id LIMIT 1 OFFSET $((TOKENS / 2));")
NOW_S=$((NOW_MS / 1000))
python3 "$HERE/driver.py" sql --user "$USER_ID" --token-id "$TOKEN_ID" --now "$NOW_S" --out "$TMP"

# ----- query plans --------------------------------------------------------------------------
say "the SQL of each case (reproduced from crates/tessera-store/src/queries.rs; ? values follow)"
awk '/^@ /{printf "%s: ", substr($0,3); getline; print; vals=""; next}
     /^\.$/{print "   values: " vals; next} {vals = vals (vals ? ", " : "") substr($0,3)}' "$TMP/cases.txt"

say "EXPLAIN QUERY PLAN, system sqlite3 CLI $(sqlite3 --version | cut -d' ' -f1) (values spelled out)"
timeout 120 sqlite3 -readonly "$DB" <"$TMP/cases_cli.sql" | tee "$TMP/plans_cli.txt"

# The same plans, and the SQL's own time in-process, with the SQLite tessera links (bundled by
# libsqlite3-sys, often newer than the CLI): explain.c linked against its libsqlite3.a.
LIB=$(ls -t "$(dirname "$BIN")"/build/libsqlite3-sys-*/out/libsqlite3.a 2>/dev/null | head -1 || true)
SYS_VERSION=$(awk '/^name = "libsqlite3-sys"/{getline; gsub(/[" ]/, ""); sub("version=", ""); print; exit}' Cargo.lock)
HEADER=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libsqlite3-sys-"$SYS_VERSION"/sqlite3/sqlite3.h 2>/dev/null | head -1 || true)
EXPLAIN=
if [[ -n "$LIB" && -n "$HEADER" ]] && timeout 300 cc -O2 -I "$(dirname "$HEADER")" -o "$TMP/explain" \
        "$HERE/explain.c" "$LIB" -lpthread -lm -ldl 2>"$TMP/cc.log"; then
    EXPLAIN="$TMP/explain"
    say "EXPLAIN QUERY PLAN and in-process SQL time, tessera's bundled SQLite (bound values; median of up to 50 runs, 10 s per case at most)"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/cases.txt" 10000 50 | tee "$TMP/plans_bundled.txt"
else
    say "skipped the bundled-SQLite plans: no libsqlite3.a under $(dirname "$BIN")/build or no sqlite3.h for libsqlite3-sys $SYS_VERSION"
    cat "$TMP/cc.log" 2>/dev/null || true
fi

# ----- HTTP latency -------------------------------------------------------------------------
say "measuring over HTTP (127.0.0.1, sequential, keep-alive; $WARMUP warm-up + up to $REQUESTS requests per case, interleaved, ${BUDGET} s per case at most)"
start_server
echo "server: $BIN on 127.0.0.1:$PORT, database $DB; user $USER_ID, token $TOKEN_ID, valid_at $NOW_S"
timeout $((BUDGET * 12 + 300)) python3 "$HERE/driver.py" http --url "http://127.0.0.1:$PORT/api_jsonrpc.php" \
    --password "$PASSWORD" --user "$USER_ID" --token-id "$TOKEN_ID" --now "$NOW_S" \
    --requests "$REQUESTS" --warmup "$WARMUP" --budget "$BUDGET" --json "$TMP/http.json" \
    | tee "$TMP/http.txt"
stop_server

# ----- what if: candidate fixes, tried on this temporary database only ------------------------
# Not tessera as shipped. Each step keeps the previous ones:
#   A  indexes on the exact ORDER BY expressions of lastaccess and expires_at; no statistics
#   B  hand-written sqlite_stat1 rows (fixed numbers, as a migration could ship them; every
#      index needs one: an index without a row gets defaults that make it look very selective)
#   C  ANALYZE (real statistics, what PRAGMA optimize runs), and the HTTP cases again
#   D  an FTS5 trigram index for the substring searches c and c2 (plans and SQL time only)
# A, B and C also show other spellings of the ORDER BY of f and h (whatif_cases.txt).
STAT1="INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('tokens', 'sqlite_autoindex_tokens_1', '1000000 1'),
    ('tokens', 'tokens_user', '1000000 100 1'),
    ('tokens', 'tokens_client', '1000000 1000'),
    ('tokens', 'tokens_kind_name', '1000000 333333 1'),
    ('tokens', 'tokens_kind_created', '1000000 333333 1'),
    ('tokens', 'tokens_kind_expires', '1000000 333333 2'),
    ('tokens', 'tokens_kind_last_access', '1000000 333333 2'),
    ('tokens', 'tokens_kind_status', '1000000 333333 250000'),
    ('tokens', 'bench_kind_last_access0', '1000000 333333 2'),
    ('tokens', 'bench_kind_expires0', '1000000 333333 2');"
if [[ -n "$EXPLAIN" && "${WHATIF:-1}" == 1 ]]; then
    cat "$TMP/cases.txt" "$TMP/whatif_cases.txt" >"$TMP/all_cases.txt"
    : >"$TMP/no_cases.txt"
    say "WHAT-IF A (not shipped): + expression indexes on COALESCE(last_access, 0), COALESCE(expires_at, 0); no statistics"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/all_cases.txt" 5000 20 \
        "CREATE INDEX bench_kind_last_access0 ON tokens (kind, COALESCE(last_access, 0));
         CREATE INDEX bench_kind_expires0 ON tokens (kind, COALESCE(expires_at, 0));" \
        | tee "$TMP/whatif_a.txt"
    say "WHAT-IF B (not shipped): A + hand-written sqlite_stat1 (read on the next connection)"
    timeout 300 "$EXPLAIN" "$DB" "$TMP/no_cases.txt" 1 1 \
        "ANALYZE sqlite_schema; DELETE FROM sqlite_stat1; $STAT1" | tee "$TMP/whatif_b.txt"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/all_cases.txt" 5000 20 | tee -a "$TMP/whatif_b.txt"
    say "WHAT-IF C (not shipped): A + ANALYZE (replaces B's statistics)"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/no_cases.txt" 1 1 "ANALYZE;" | tee "$TMP/whatif_c.txt"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/all_cases.txt" 5000 20 | tee -a "$TMP/whatif_c.txt"
    say "WHAT-IF C over HTTP (same method as above)"
    start_server
    timeout $((BUDGET * 12 + 300)) python3 "$HERE/driver.py" http --url "http://127.0.0.1:$PORT/api_jsonrpc.php" \
        --password "$PASSWORD" --user "$USER_ID" --token-id "$TOKEN_ID" --now "$NOW_S" \
        --requests "$REQUESTS" --warmup "$WARMUP" --budget "$BUDGET" --json "$TMP/http_whatif_c.json" \
        | tee "$TMP/http_whatif_c.txt"
    stop_server
    say "WHAT-IF D (not shipped): C + an FTS5 trigram index on name, for substring search (in-process only)"
    timeout 900 "$EXPLAIN" "$DB" "$TMP/whatif_fts.txt" 5000 20 \
        "CREATE VIRTUAL TABLE bench_name_trigram USING fts5(name, content='tokens', content_rowid='id', tokenize='trigram');
         INSERT INTO bench_name_trigram (bench_name_trigram) VALUES ('rebuild');" \
        | tee "$TMP/whatif_d.txt"
fi

say "summary"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/{print $2}') GiB RAM; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tessera: built from $REV"
echo "data: $TOKENS API tokens, $USERS users; insert ${INSERT_S} s; database ${DB_MB} MiB ($DB_BYTES bytes)"
echo "as shipped:"
cat "$TMP/http.txt"
if [[ -f "$TMP/http_whatif_c.txt" ]]; then
    echo "what-if C (expression indexes + ANALYZE; not shipped):"
    cat "$TMP/http_whatif_c.txt"
fi

if [[ -n "$OUT" ]]; then
    mkdir -p "$OUT"
    cp "$TMP"/{cases.txt,cases_cli.sql,plans_cli.txt,http.txt,http.json,seed.sql} "$OUT"/
    for f in plans_bundled.txt whatif_cases.txt whatif_fts.txt whatif_a.txt whatif_b.txt \
             whatif_c.txt whatif_d.txt http_whatif_c.txt http_whatif_c.json server.log; do
        if [[ -f "$TMP/$f" ]]; then cp "$TMP/$f" "$OUT"/; fi
    done
    echo "insert_seconds=$INSERT_S db_bytes=$DB_BYTES" >"$OUT/load.txt"
    echo "raw results copied to $OUT"
fi
