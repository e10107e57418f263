#!/usr/bin/env bash
# Why tessera's client_credentials issuance is slow in bench/peers/run.sh: the same grant and
# introspection on tessera alone, on SQLite (the default) and on PostgreSQL 127.0.0.1:5432 (a
# database created here and dropped at exit), at 1, 8 and 64 keep-alive connections.
#
#   flock /tmp/tessera-bench.lock bash bench/peers/tessera_issuance_probe.sh
#
# Knobs: SECONDS_EACH (5), CONNS ("1 8 64"), plus bench/common/lib.sh's (TESSERA_BIN, NO_BUILD).
# Writes bench/peers/results/<UTC>-probe.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"
SECONDS_EACH=${SECONDS_EACH:-5}
CONNS=${CONNS:-1 8 64}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

need_wrk
build_tessera
make_tmp
DB="$TMP/bench.db"
PASSWORD="bench-$(date +%s)-$RANDOM"
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ)-probe.txt"
MACHINE=$(machine_info)
PG_DB="tessera_bench_probe_$(date +%s)_$$"
drop_pg() {
    stop_server
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
}
EXTRA_CLEANUP=drop_pg
RUNS="$TMP/runs.jsonl"
: >"$RUNS"

probe() { # STORE DATABASE_URL
    local store=$1 dburl=$2 secret basic token c
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    TESSERA_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" "$BIN" serve --database "$dburl" \
        --listen "127.0.0.1:$PORT" --log-level warn >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    secret=$("$BIN" client add probe --grant client_credentials --scope read --json --database "$dburl" | json_field client_secret)
    basic="Authorization: Basic $(printf 'probe:%s' "$secret" | base64 -w0)"
    token=$(curl -sf "$URL/oauth/token" -H "$basic" -d 'grant_type=client_credentials&scope=read' | json_field access_token)
    for c in $CONNS; do
        for what in issue introspect verify; do
            case $what in
                issue) WRK_METHOD=POST WRK_BODY='grant_type=client_credentials&scope=read' WRK_EXPECT='"access_token"' \
                    wrk_run "$store-$what-$c" "$c" "$SECONDS_EACH" "$URL/oauth/token" -H "$basic" \
                    -H 'Content-Type: application/x-www-form-urlencoded' ;;
                introspect) WRK_METHOD=POST WRK_BODY="token=$token" WRK_EXPECT='"active":true' \
                    wrk_run "$store-$what-$c" "$c" "$SECONDS_EACH" "$URL/oauth/introspect" -H "$basic" \
                    -H 'Content-Type: application/x-www-form-urlencoded' ;;
                verify) WRK_METHOD=GET WRK_BODY= WRK_EXPECT= \
                    wrk_run "$store-$what-$c" "$c" "$SECONDS_EACH" "$URL/auth/verify" -H "Authorization: Bearer $token" ;;
            esac | sed "s|^{|{\"store\":\"$store\",\"what\":\"$what\",|" >>"$RUNS"
            tail -1 "$RUNS" >&2
        done
    done
    stop_server
}

say "tessera on SQLite"
probe sqlite "sqlite://$DB"
psql -q -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
say "tessera on PostgreSQL ($PG_DB)"
probe postgres "postgres://$PGUSER@$PGHOST:$PGPORT/$PG_DB"

{
    echo "# tessera alone: client_credentials issuance, introspection, /auth/verify by store and connections (bench/peers/tessera_issuance_probe.sh)"
    echo "$MACHINE"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wrk -t2 (-t1 at 1 connection), ${SECONDS_EACH} s each, keep-alive; PostgreSQL $(psql -At -d postgres -c 'show server_version') on 127.0.0.1"
    echo
    python3 - "$RUNS" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'store':<9} {'what':<11} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>5}")
for r in runs:
    bad = r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"] + r["bad_body"]
    print(f"{r['store']:<9} {r['what']:<11} {r['connections']:>5} {r['rps']:>9.0f} {r['p50_us']/1000:>8.2f} {r['p99_us']/1000:>8.2f} {bad:>5}")
PY
    echo
    echo "raw wrk results:"
    cat "$RUNS"
} >"$OUTFILE"
say "results: $OUTFILE"
sed -n '/^store/,/^$/p' "$OUTFILE"
