#!/usr/bin/env bash
# tessera's Zabbix JSON-RPC door against the real Zabbix 6.0 frontend (PHP, php-fpm + nginx,
# PostgreSQL), in the same run, on this machine (issue #8, item 3).
#
#   bash bench/zabbix_peer/run.sh          (as root: the oracle's setup needs it)
#
# What it does:
#   1. builds tessera (cargo build --release -p tessera), under the shared lock;
#   2. makes sure the oracle (tools/zabbix-oracle/setup.sh, 127.0.0.1:8180) answers: if not, runs
#      setup.sh (install if needed, start); keeps a copy of the oracle's database as it was and
#      puts the database back to Zabbix's fresh-install state (setup.sh --restore);
#   3. starts tessera on a fresh SQLite database (bench/common/lib.sh's start_server);
#   4. on both: user.login Admin -> session id; token.create + token.generate -> an API token;
#      checks every workload's answer is a JSON-RPC result;
#   5. measures with wrk, ROUNDS rounds; each round runs every workload on both servers, one
#      after the other (which server goes first alternates by round), each under the lock:
#        apiinfo        apiinfo.version (no auth, no database: the floor of each server)
#        check_session  user.checkAuthentication {"sessionid": ...}
#        token_get      token.get {"output":["tokenid","name"],"tokenids":[id]}, "auth": API token
#        login          user.login {"username":"Admin","password":...}
#      every answer must contain the workload's expected result text (WRK_EXPECT), else it is
#      counted as bad_body;
#   6. writes bench/zabbix_peer/results/<UTC>.txt (summary, then the raw JSON lines, then the
#      php-fpm and nginx configuration used) and prints the summary.
# At exit: stops tessera; puts the oracle's database back as it was found (or to the fresh
# install when there was none); stops the oracle's daemons if this script started them.
#
# Knobs (environment): CONNECTIONS (16, both servers), WRK_TIMEOUT (30s: wrk's default 2 s
# would turn Zabbix's queueing into timeout errors and leave them out of the latencies), SECONDS_EACH (10), ROUNDS (3),
# WARMUP_SECONDS (3), WORKLOADS ("apiinfo check_session token_get login"),
# BENCH_LOCK (/tmp/tessera-bench.lock; the shared lock heavy steps run under),
# plus bench/common/lib.sh's (TESSERA_BIN, NO_BUILD, BUILD_TIMEOUT).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"

# 16, not the other benchmarks' 64: the oracle's php-fpm pool is pm=static, 4 children, so
# beyond 16 (4 waiting per child) more connections only lengthen Zabbix's queue.
CONNECTIONS=${CONNECTIONS:-16}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}
WARMUP_SECONDS=${WARMUP_SECONDS:-3}
WORKLOADS=${WORKLOADS:-apiinfo check_session token_get login}
BENCH_LOCK=${BENCH_LOCK:-/tmp/tessera-bench.lock}
ORACLE_SETUP="$ROOT/tools/zabbix-oracle/setup.sh"
ZPORT=${ZABBIX_ORACLE_PORT:-8180}
ZURL="http://127.0.0.1:$ZPORT/api_jsonrpc.php"
ZDB=${ZABBIX_ORACLE_DB:-zabbix_oracle}
ZDB_SAVED="${ZDB}_zpeer_saved"
RPC="$HERE/rpc.py"
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -q -X)

[[ "$(id -u)" == 0 ]] || { echo "run as root (the oracle's setup.sh needs it)" >&2; exit 1; }

# The shared lock, on fd 9. Everything started while it is held gets fd 9 closed (9>&-), so
# no daemon keeps the lock after we let go of it.
exec 9>>"$BENCH_LOCK"
lock() { flock 9; }
unlock() { flock -u 9; }

oracle_up() {
    curl -s -m 5 -X POST -H 'Content-Type: application/json-rpc' \
        -d '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}' "$ZURL" 2>/dev/null |
        grep -Eq '"result":"6\.0\.[0-9]+"'
}
db_exists() {
    "${PSQL[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" 2>/dev/null | grep -q 1
}

ORACLE_STARTED=0
DB_SAVED=0
DB_TOUCHED=0
oracle_cleanup() {
    # Put the oracle back as it was found.
    if [[ "$DB_SAVED" == 1 ]]; then
        say "putting the oracle's database back as it was found"
        "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $ZDB WITH (FORCE)" &&
            "${PSQL[@]}" -c "ALTER DATABASE $ZDB_SAVED RENAME TO $ZDB" ||
            echo "could not put $ZDB back; the state found is in database $ZDB_SAVED" >&2
    elif [[ "$DB_TOUCHED" == 1 ]]; then
        # There was no database before (setup.sh made it): leave the fresh install.
        bash "$ORACLE_SETUP" --restore 9>&- || true
    fi
    if [[ "$ORACLE_STARTED" == 1 ]]; then
        say "stopping the oracle's nginx and php-fpm (this script started them)"
        bash "$ORACLE_SETUP" --stop 9>&- || true
    fi
}
EXTRA_CLEANUP=oracle_cleanup

need_wrk
command -v psql >/dev/null || { lock; timeout 600 apt-get install -y -q postgresql-client >/dev/null; unlock; }
if [[ -n "${TESSERA_BIN:-}" || "${NO_BUILD:-0}" == 1 ]]; then
    build_tessera
else
    lock
    build_tessera 9>&-
    unlock
fi
make_tmp
DB="$TMP/bench.db"
PASSWORD="bench-$(date +%s)-$RANDOM"
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"

# ---------------------------------------------------------------- the oracle
if oracle_up; then
    say "the Zabbix oracle answers on :$ZPORT (left running at exit)"
else
    say "the Zabbix oracle does not answer on :$ZPORT: running $ORACLE_SETUP (under the lock)"
    lock
    ORACLE_STARTED=1
    bash "$ORACLE_SETUP" 9>&-
    unlock
    oracle_up || { echo "the oracle still does not answer on :$ZPORT" >&2; exit 1; }
fi
ZVERSION=$(python3 "$RPC" "$ZURL" apiinfo.version '{}' | tr -d '"')

# Keep the database as found (the frontend opens no persistent connections, so the copy only
# waits for requests in flight), then the fresh-install state (Admin/zabbix, no tokens).
if db_exists "$ZDB_SAVED"; then
    echo "database $ZDB_SAVED exists: an earlier run did not finish; restore it by hand (see run.sh)" >&2
    exit 1
fi
if db_exists "$ZDB"; then
    for i in $(seq 1 20); do
        "${PSQL[@]}" -c "CREATE DATABASE $ZDB_SAVED TEMPLATE $ZDB" 2>/dev/null && { DB_SAVED=1; break; }
        sleep 0.5
    done
    [[ "$DB_SAVED" == 1 ]] || { echo "could not copy $ZDB (busy?)" >&2; exit 1; }
fi
DB_TOUCHED=1
bash "$ORACLE_SETUP" --restore 9>&-

# ---------------------------------------------------------------- tessera
say "starting tessera on a fresh SQLite database ($DB), --log-level warn"
start_server 9>&-
TURL="$URL/api_jsonrpc.php"

# ---------------------------------------------------------------- sessions, API tokens, bodies
declare -A SID TOKID SECRET UID_ PW BODY EXPECT URLS
URLS[zabbix]=$ZURL
URLS[tessera]=$TURL
PW[zabbix]=zabbix
PW[tessera]=$PASSWORD
for s in zabbix tessera; do
    u=${URLS[$s]}
    SID[$s]=$(python3 "$RPC" "$u" user.login "{\"username\":\"Admin\",\"password\":\"${PW[$s]}\"}" | tr -d '"')
    TOKID[$s]=$(python3 "$RPC" "$u" token.create '{"name":"zpeer-bench"}' "${SID[$s]}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["tokenids"][0])')
    SECRET[$s]=$(python3 "$RPC" "$u" token.generate "[\"${TOKID[$s]}\"]" "${SID[$s]}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["token"])')
    UID_[$s]=$(python3 "$RPC" "$u" user.checkAuthentication "{\"sessionid\":\"${SID[$s]}\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["userid"])')
    [[ ${#SECRET[$s]} == 64 ]] || { echo "$s: token.generate gave no 64-hex secret" >&2; exit 1; }
    echo "$s: Admin userid ${UID_[$s]}, session ${SID[$s]:0:6}..., API token id ${TOKID[$s]}, secret ${SECRET[$s]:0:6}..." >&2

    BODY[$s,apiinfo]=$(python3 "$RPC" --body apiinfo.version '{}')
    EXPECT[$s,apiinfo]='"result":"'
    BODY[$s,check_session]=$(python3 "$RPC" --body user.checkAuthentication "{\"sessionid\":\"${SID[$s]}\"}")
    EXPECT[$s,check_session]="\"result\":{\"userid\":\"${UID_[$s]}\""
    BODY[$s,token_get]=$(python3 "$RPC" --body token.get "{\"output\":[\"tokenid\",\"name\"],\"tokenids\":[\"${TOKID[$s]}\"]}" "${SECRET[$s]}")
    EXPECT[$s,token_get]="\"result\":[{\"tokenid\":\"${TOKID[$s]}\",\"name\":\"zpeer-bench\"}]"
    BODY[$s,login]=$(python3 "$RPC" --body user.login "{\"username\":\"Admin\",\"password\":\"${PW[$s]}\"}")
    EXPECT[$s,login]='{"jsonrpc":"2.0","result":"'
    for w in $WORKLOADS; do
        python3 "$RPC" --check "$u" "${BODY[$s,$w]}" "${EXPECT[$s,$w]}" ||
            { echo "$s: $w does not answer a result" >&2; exit 1; }
    done
done
say "every workload answers a JSON-RPC result on both servers"

measure() { # server workload label seconds
    local s=$1 w=$2 label=$3 secs=$4
    WRK_METHOD=POST WRK_BODY="${BODY[$s,$w]}" WRK_EXPECT="${EXPECT[$s,$w]}" \
        wrk_run "$label" "$CONNECTIONS" "$secs" "${URLS[$s]}" -H 'Content-Type: application/json-rpc' --timeout "$WRK_TIMEOUT"
}

INFO="$TMP/machine.txt"
machine_info >"$INFO"

say "warm-up: ${WARMUP_SECONDS} s per workload and server (under the lock)"
lock
for w in $WORKLOADS; do
    for s in zabbix tessera; do
        measure "$s" "$w" "warmup-$s-$w" "$WARMUP_SECONDS" >/dev/null
    done
done
unlock

RUNS="$TMP/runs.jsonl"
: >"$RUNS"
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order="zabbix tessera"; else order="tessera zabbix"; fi
    lock   # one round at a time, so other helpers' jobs can run between rounds, never during one
    echo "load average at round $round: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$INFO"
    for w in $WORKLOADS; do
        for s in $order; do
            say "round $round: $s $w, $CONNECTIONS connections, ${SECONDS_EACH} s"
            measure "$s" "$w" "r$round-$s-$w" "$SECONDS_EACH" |
                sed "s|^{|{\"round\":$round,\"workload\":\"$w\",\"server\":\"$s\",|" >>"$RUNS"
            tail -1 "$RUNS" >&2
        done
    done
    unlock
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$INFO"

# Still answering after the load?
for s in zabbix tessera; do
    for w in $WORKLOADS; do
        python3 "$RPC" --check "${URLS[$s]}" "${BODY[$s,$w]}" "${EXPECT[$s,$w]}" ||
            echo "WARNING: $s: $w no longer answers a result after the measurements" >&2
    done
done
TRSS=$(rss_kib "$SERVER_PID")
FPM_BIN=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n1)

{
    echo "# tessera's Zabbix door vs the real Zabbix $ZVERSION frontend (bench/zabbix_peer/run.sh)"
    cat "$INFO"
    echo "zabbix: zabbix-frontend-php $(dpkg-query -W -f='${Version}' zabbix-frontend-php 2>/dev/null), $("$FPM_BIN" -v | head -1 | cut -d' ' -f1-2) ($FPM_BIN), opcache: $("$FPM_BIN" -m 2>/dev/null | grep -q 'Zend OPcache' && echo loaded || echo 'NOT loaded'), $(nginx -v 2>&1 | sed 's/.*: //'), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version' 2>/dev/null) (db $ZDB, fresh install restored at the start)"
    echo "zabbix php-fpm pool (/etc/zabbix-oracle/php-fpm.conf): $(grep -E '^pm' /etc/zabbix-oracle/php-fpm.conf | tr '\n' ';' | sed 's/;$//'); nginx: $(grep -E 'worker_processes|worker_connections' /etc/zabbix-oracle/nginx.conf | sed 's/^ *//' | tr '\n' ' ')(keepalive defaults: keepalive_timeout 75s, keepalive_requests 1000), FastCGI over a unix socket"
    echo "tessera: serve --log-level warn, fresh SQLite database in a temp dir, default settings (password_workers = $(nproc) CPUs, Argon2id m=19456 KiB t=2 p=1); RSS at the end: $TRSS KiB"
    echo "method: wrk -t2 -c$CONNECTIONS --timeout $WRK_TIMEOUT (both servers), keep-alive, ${SECONDS_EACH} s per measurement, $ROUNDS rounds, each round runs every workload on both servers back to back (first server alternates by round); ${WARMUP_SECONDS} s warm-up each before round 1; wrk, tessera, nginx, php-fpm and PostgreSQL share the same $(nproc) cores"
    echo "every answer must contain the expected result text (bad_body counts the others):"
    for w in $WORKLOADS; do
        echo "  $w: zabbix ${BODY[zabbix,$w]//${SECRET[zabbix]}/<api token>}  expects ${EXPECT[zabbix,$w]}"
    done
    echo
    python3 "$HERE/summarize.py" <"$RUNS"
    echo
    echo "## raw wrk runs (JSON lines)"
    cat "$RUNS"
    echo
    echo "## /etc/zabbix-oracle/php-fpm.conf"
    cat /etc/zabbix-oracle/php-fpm.conf
    echo
    echo "## /etc/zabbix-oracle/nginx.conf and nginx-site.conf"
    cat /etc/zabbix-oracle/nginx.conf /etc/zabbix-oracle/nginx-site.conf
} >"$OUTFILE"

stop_server
say "results: $OUTFILE"
sed -n '/^## raw wrk runs/q;p' "$OUTFILE"
