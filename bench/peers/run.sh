#!/usr/bin/env bash
# tessera against two real OAuth servers on this machine, in the same run (issue #8, item 3):
#   - oidc-provider (npm), bench/peers/oidc-provider/app.js: one Node process, in-memory adapter;
#   - django-oauth-toolkit (PyPI), bench/peers/dot/: Django on PostgreSQL 127.0.0.1:5432 (a
#     database created here and dropped at exit), DEBUG=False, gunicorn sync workers.
# Measured with wrk (64 keep-alive connections, bench/common/wrk_run), every server on 127.0.0.1:
#   (a) token checks: introspection (RFC 7662) of one valid token; tessera also /auth/verify;
#   (b) client_credentials issuance.
# Rounds interleave all servers (the order rotates each round), so the machine's noise falls
# on all alike; ratios are tessera / peer within a round, and the median over rounds.
#
#   flock /tmp/tessera-bench.lock bash bench/peers/run.sh
#
# Knobs (environment): CONNECTIONS (64), SECONDS_EACH (10), ROUNDS (3), WARMUP_SECONDS (3),
# DOT_WORKERS (5 gunicorn sync workers: gunicorn's 2 x cores + 1), PGHOST/PGPORT/PGUSER
# (127.0.0.1/5432/postgres), plus those of bench/common/lib.sh (TESSERA_BIN, NO_BUILD,
# BUILD_TIMEOUT). Needs node >= 20.19 + npm, python3 >= 3.10, psql, wrk, curl.
# Installs the peers from their lock files: bench/peers/oidc-provider/node_modules (npm ci,
# package-lock.json) and bench/peers/dot/.venv (pip, requirements.txt), both git-ignored, and
# reuses them when they already match.
# Writes bench/peers/results/<UTC date-time>.txt (summary, then every wrk run as JSON).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"

CONNECTIONS=${CONNECTIONS:-64}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}
WARMUP_SECONDS=${WARMUP_SECONDS:-3}
DOT_WORKERS=${DOT_WORKERS:-5}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

need_wrk
for tool in node npm psql curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

# ---- peers' packages, from the lock files -------------------------------------------------
install_peers() {
    local od="$HERE/oidc-provider" dd="$HERE/dot"
    local want have
    want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/oidc-provider"]["version"])' "$od/package-lock.json")
    have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$od/node_modules/oidc-provider/package.json" 2>/dev/null || true)
    if [[ "$want" != "$have" ]]; then
        say "npm ci in $od (oidc-provider $want)"
        (cd "$od" && timeout 600 npm ci --no-audit --no-fund >/dev/null)
    fi
    if ! [[ -x "$dd/.venv/bin/python" ]] ||
        ! diff -q <(grep -v '^#' "$dd/requirements.txt" | sort -f) <("$dd/.venv/bin/pip" freeze 2>/dev/null | sort -f) >/dev/null; then
        say "python venv in $dd/.venv from requirements.txt"
        rm -rf "$dd/.venv"
        python3 -m venv "$dd/.venv"
        timeout 600 "$dd/.venv/bin/pip" install -q --no-deps -r "$dd/requirements.txt"
    fi
}

build_tessera
install_peers
make_tmp
DB="$TMP/bench.db"
PASSWORD="bench-$(date +%s)-$RANDOM"
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
mkdir -p "$HERE/results"
OUTFILE="$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt"
MACHINE=$(machine_info)

OIDC_PID= DOT_PID= DOT_DB=
peers_cleanup() {
    for pid in $OIDC_PID $DOT_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $OIDC_PID $DOT_PID; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    OIDC_PID= DOT_PID=
    if [[ -n "$DOT_DB" ]]; then
        psql -q -d postgres -c "DROP DATABASE IF EXISTS $DOT_DB WITH (FORCE)" >/dev/null 2>&1 || true
        DOT_DB=
    fi
}
EXTRA_CLEANUP=peers_cleanup

wait_http() { # URL LOGFILE PID: until URL answers anything (any HTTP status)
    for _ in $(seq 1 300); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" != 000 ]] && return 0
        kill -0 "$3" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 did not answer; log:" >&2
    cat "$2" >&2
    exit 1
}
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

# ---- tessera --------------------------------------------------------------------------------
say "tessera: fresh SQLite database ($DB), --log-level warn"
start_server
T_SECRET=$("$BIN" client add benchclient --grant client_credentials --scope read --json \
    --database "sqlite://$DB" | json_field client_secret)
T_BASIC=$(basic benchclient "$T_SECRET")

# ---- oidc-provider --------------------------------------------------------------------------
O_PORT=$(free_port)
O_URL="http://127.0.0.1:$O_PORT"
say "oidc-provider on $O_URL (node $(node -v), NODE_ENV=production)"
(cd "$HERE/oidc-provider" && NODE_ENV=production PORT=$O_PORT CLIENT_ID=bench CLIENT_SECRET=$SECRET \
    exec node app.js >>"$TMP/oidc.log" 2>&1) &
OIDC_PID=$!
wait_http "$O_URL/.well-known/openid-configuration" "$TMP/oidc.log" "$OIDC_PID"
O_BASIC=$(basic bench "$SECRET")

# ---- django-oauth-toolkit -------------------------------------------------------------------
DOT_DB="tessera_bench_dot_$(date +%s)_$$"
psql -q -d postgres -c "CREATE DATABASE $DOT_DB" >/dev/null
export DOT_DB_NAME=$DOT_DB DOT_DB_HOST=$PGHOST DOT_DB_PORT=$PGPORT DOT_DB_USER=$PGUSER
export DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(40))')
PY="$HERE/dot/.venv/bin/python"
(cd "$HERE/dot" && "$PY" manage.py migrate -v 0 && "$PY" manage.py bench_clients bench "$SECRET") >"$TMP/dot-setup.log" 2>&1 ||
    { cat "$TMP/dot-setup.log" >&2; exit 1; }
D_PORT=$(free_port)
D_URL="http://127.0.0.1:$D_PORT"
say "django-oauth-toolkit on $D_URL (gunicorn, $DOT_WORKERS sync workers, PostgreSQL database $DOT_DB)"
(cd "$HERE/dot" && exec "$HERE/dot/.venv/bin/gunicorn" -c gunicorn.conf.py -w "$DOT_WORKERS" \
    -b "127.0.0.1:$D_PORT" peerproject.wsgi:application >>"$TMP/dot.log" 2>&1) &
DOT_PID=$!
wait_http "$D_URL/o/token/" "$TMP/dot.log" "$DOT_PID"
D_BASIC=$(basic bench "$SECRET")
D_BASIC_PLAIN=$(basic bench-plain "$SECRET")

# ---- tokens, and a check that every endpoint answers right ---------------------------------
CC='grant_type=client_credentials&scope=read'
mint() { # SERVER: a fresh client_credentials access token from that server
    case $1 in
        tessera) curl -sf "$URL/oauth/token" -H "Authorization: $T_BASIC" -d "$CC" ;;
        oidc) curl -sf "$O_URL/token" -H "Authorization: $O_BASIC" -d "$CC" ;;
        dot) curl -sf "$D_URL/o/token/" -H "Authorization: $D_BASIC_PLAIN" -d "$CC" ;;
        dot-rs) curl -sf "$D_URL/o/token/" -H "Authorization: $D_BASIC_PLAIN" -d 'grant_type=client_credentials&scope=introspection' ;;
    esac | json_field access_token
}
D_RS=$(mint dot-rs) # the resource server's token (scope introspection) for DOT's introspection

# Each measurement: NAME KIND SERVER METHOD URL AUTH BODY EXPECT (BODY may hold @TOKEN).
MEASURES=(
    "tessera_introspect|check|tessera|POST|$URL/oauth/introspect|$T_BASIC|token=@TOKEN|\"active\":true"
    "tessera_verify|check|tessera|GET|$URL/auth/verify|Bearer @TOKEN||"
    "oidc_introspect|check|oidc|POST|$O_URL/token/introspection|$O_BASIC|token=@TOKEN|\"active\":true"
    "dot_introspect_bearer|check|dot|POST|$D_URL/o/introspect/|Bearer $D_RS|token=@TOKEN|\"active\": true"
    "dot_introspect_basic|check|dot|POST|$D_URL/o/introspect/|$D_BASIC|token=@TOKEN|\"active\": true"
    "tessera_cc|issue|tessera|POST|$URL/oauth/token|$T_BASIC|$CC|\"access_token\""
    "oidc_cc|issue|oidc|POST|$O_URL/token|$O_BASIC|$CC|\"access_token\""
    "dot_cc|issue|dot|POST|$D_URL/o/token/|$D_BASIC|$CC|\"access_token\""
    "dot_cc_plain|issue|dot|POST|$D_URL/o/token/|$D_BASIC_PLAIN|$CC|\"access_token\""
)

# drain SERVER: wait (up to 120 s) until the server answers a cheap request, so that requests
# still queued from the previous run (gunicorn's sync workers take connections from the listen
# backlog one at a time; a PBKDF2 run leaves dozens behind) do not eat into the next one.
drain() {
    local base
    case $1 in tessera) base=$URL/healthz ;; oidc) base=$O_URL/.well-known/openid-configuration ;; dot) base=$D_URL/o/token/ ;; esac
    curl -s -o /dev/null -m 120 "$base" || true
}

# measure ROUND SECONDS SPEC: one wrk run (with a freshly minted token for checks: the
# oidc-provider in-memory adapter is an LRU, and the issuance runs push old tokens out of it).
measure() {
    local round=$1 secs=$2 name kind server method url auth body expect token=
    IFS='|' read -r name kind server method url auth body expect <<<"$3"
    drain tessera; drain oidc; drain dot
    if [[ $kind == check ]]; then
        token=$(mint "$server")
        auth=${auth//@TOKEN/$token}
        body=${body//@TOKEN/$token}
    fi
    local args=(-H "Authorization: $auth")
    [[ $method == POST ]] && args+=(-H "Content-Type: application/x-www-form-urlencoded")
    # --timeout 30s for every server: DOT's PBKDF2 runs queue requests for many seconds.
    WRK_METHOD=$method WRK_BODY=$body WRK_EXPECT=$expect \
        wrk_run "r$round-$name" "$CONNECTIONS" "$secs" "$url" --timeout 30s "${args[@]}" |
        sed "s|^{|{\"round\":$round,\"name\":\"$name\",\"kind\":\"$kind\",\"server\":\"$server\",|"
}

say "checking every endpoint's answer once"
for spec in "${MEASURES[@]}"; do
    IFS='|' read -r name kind server method url auth body expect <<<"$spec"
    token=
    if [[ $kind == check ]]; then token=$(mint "$server"); fi
    auth=${auth//@TOKEN/$token}
    body=${body//@TOKEN/$token}
    if [[ $method == POST ]]; then
        ans=$(curl -s -w '\n%{http_code}' -X POST "$url" -H "Authorization: $auth" --data-raw "$body")
    else
        ans=$(curl -s -w '\n%{http_code}' "$url" -H "Authorization: $auth")
    fi
    code=${ans##*$'\n'}
    printf '  %-22s HTTP %s %s\n' "$name" "$code" "$(head -c 160 <<<"${ans%$'\n'*}" | tr -d '\n')" >&2
    [[ $code == 200 ]] || { echo "$name: HTTP $code" >&2; exit 1; }
    [[ -z $expect || ${ans%$'\n'*} == *"$expect"* ]] || { echo "$name: no $expect in the answer" >&2; exit 1; }
done

say "warm-up: ${WARMUP_SECONDS} s each"
for spec in "${MEASURES[@]}"; do
    measure 0 "$WARMUP_SECONDS" "$spec" >/dev/null
done

RUNS="$TMP/runs.jsonl"
: >"$RUNS"
N=${#MEASURES[@]}
for round in $(seq 1 "$ROUNDS"); do
    for k in $(seq 0 $((N - 1))); do
        # Rotate by 2 each round so that neighbours change too (N = 9 is odd).
        spec=${MEASURES[$(((2 * (round - 1) + k) % N))]}
        say "round $round/$ROUNDS: ${spec%%|*}, $CONNECTIONS connections, ${SECONDS_EACH} s"
        measure "$round" "$SECONDS_EACH" "$spec" >>"$RUNS"
        tail -1 "$RUNS" >&2
    done
done

rss_tree_kib() { # PID: RSS of the process and its children (gunicorn's workers)
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do total=$((total + $(rss_kib "$p"))); done
    echo "$total"
}
T_RSS=$(rss_kib "$SERVER_PID")
O_RSS=$(rss_kib "$OIDC_PID")
D_RSS=$(rss_tree_kib "$DOT_PID")
O_VER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$HERE/oidc-provider/node_modules/oidc-provider/package.json")
D_VERS=$("$HERE/dot/.venv/bin/pip" freeze | grep -iE '^(django|django-oauth-toolkit|gunicorn|psycopg|oauthlib)==' | tr '\n' ' ')
PG_VER=$(psql -At -d postgres -c 'show server_version')
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
peers_cleanup
stop_server

{
    echo "# tessera vs oidc-provider and django-oauth-toolkit (bench/peers/run.sh)"
    echo "$MACHINE"
    echo "load average after: $LOAD_AFTER"
    echo "connections: $CONNECTIONS keep-alive, wrk -t2, ${SECONDS_EACH} s per measurement, $ROUNDS rounds (order rotating), ${WARMUP_SECONDS} s warm-up each; wrk and all servers on the same $(nproc) cores"
    echo "tessera: serve --log-level warn, fresh SQLite database; client 'benchclient' (secret stored as SHA-256); RSS at the end $T_RSS KiB"
    echo "oidc-provider: $O_VER on node $(node -v), one process, NODE_ENV=production, default in-memory adapter (MemoryAdapter), opaque tokens, client secret in plain text in the configuration; RSS at the end $O_RSS KiB"
    echo "django-oauth-toolkit: $D_VERS; python $("$PY" -c 'import platform; print(platform.python_version())'); gunicorn $DOT_WORKERS sync workers; PostgreSQL $PG_VER on 127.0.0.1 (database created and dropped by the run), CONN_MAX_AGE 600; DEBUG=False; client 'bench' secret hashed (Django's default hasher, PBKDF2-SHA256), 'bench-plain' hash_client_secret=False; RSS at the end (master + workers) $D_RSS KiB"
    echo
    python3 - "$RUNS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rounds = sorted({r["round"] for r in runs})
by = {(r["round"], r["name"]): r for r in runs}
names = [n for n in dict.fromkeys(r["name"] for r in runs)]
order = ["tessera_introspect", "tessera_verify", "oidc_introspect", "dot_introspect_bearer", "dot_introspect_basic",
         "tessera_cc", "oidc_cc", "dot_cc", "dot_cc_plain"]
names = [n for n in order if n in names]
desc = {
    "tessera_introspect": "tessera POST /oauth/introspect (client Basic)",
    "tessera_verify": "tessera GET /auth/verify (Bearer)",
    "oidc_introspect": "oidc-provider POST /token/introspection (client Basic)",
    "dot_introspect_bearer": "DOT POST /o/introspect/ (Bearer, scope introspection)",
    "dot_introspect_basic": "DOT POST /o/introspect/ (client Basic, hashed secret)",
    "tessera_cc": "tessera POST /oauth/token client_credentials",
    "oidc_cc": "oidc-provider POST /token client_credentials",
    "dot_cc": "DOT POST /o/token/ client_credentials (hashed secret, default)",
    "dot_cc_plain": "DOT POST /o/token/ client_credentials (hash_client_secret=False)",
}
def errs(r):
    return r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
med = lambda xs: statistics.median(xs)

print("summary (median over rounds; 'bad' = non-2xx answers + socket errors + bodies without the expected text):")
print(f"{'measurement':<68} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>6} {'requests':>9}")
for n in names:
    rs = [by[(rd, n)] for rd in rounds]
    bad = sum(errs(r) + r["bad_body"] for r in rs)
    print(f"{desc[n]:<68} {med([r['rps'] for r in rs]):>9.0f} {med([r['p50_us'] for r in rs])/1000:>8.2f} "
          f"{med([r['p99_us'] for r in rs])/1000:>8.2f} {bad:>6} {sum(r['requests'] for r in rs):>9}")
print()
pairs = [
    ("tessera_introspect", "oidc_introspect", 10, "checks"),
    ("tessera_introspect", "dot_introspect_bearer", 10, "checks"),
    ("tessera_verify", "oidc_introspect", 10, "checks"),
    ("tessera_verify", "dot_introspect_bearer", 10, "checks"),
    ("tessera_introspect", "dot_introspect_basic", None, "checks"),
    ("tessera_cc", "oidc_cc", 5, "issuance"),
    ("tessera_cc", "dot_cc", 5, "issuance"),
    ("tessera_cc", "dot_cc_plain", None, "issuance"),
]
print("tessera / peer, req/s, per round and median (target: checks >= 10x, issuance >= 5x each peer):")
print(f"{'tessera':<20} {'peer':<22} {'per round':<30} {'median':>8} {'range':>17} {'p50 peer/tessera':>17}  target")
for a, b, tgt, kind in pairs:
    if a not in names or b not in names:
        continue
    rr = [by[(rd, a)]["rps"] / by[(rd, b)]["rps"] if by[(rd, b)]["rps"] else float("inf") for rd in rounds]
    lat = med([by[(rd, b)]["p50_us"] / max(by[(rd, a)]["p50_us"], 1) for rd in rounds])
    m = med(rr)
    verdict = "(informational)" if tgt is None else (
        f">= {tgt}x: met in every round" if min(rr) >= tgt else
        (f">= {tgt}x: met on the median, not in every round" if m >= tgt else f">= {tgt}x: MISSED"))
    print(f"{a:<20} {b:<22} {', '.join(f'{x:.1f}' for x in rr):<30} {m:>8.1f} {min(rr):>8.1f}-{max(rr):<8.1f} {lat:>17.1f}  {verdict}")
print()
print("per round:")
print(f"{'round':>5} {'measurement':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non2xx':>7} {'sock':>5} {'badbody':>8}")
for rd in rounds:
    for n in names:
        r = by[(rd, n)]
        print(f"{rd:>5} {n:<24} {r['rps']:>9.0f} {r['p50_us']/1000:>8.2f} {r['p99_us']/1000:>8.2f} {r['errors_status']:>7} "
              f"{errs(r)-r['errors_status']:>5} {r['bad_body']:>8}")
PY
    echo
    echo "raw wrk results (one JSON line per measurement):"
    cat "$RUNS"
} >"$OUTFILE"
say "results: $OUTFILE"
sed -n '/^summary/,/^per round:/p' "$OUTFILE"
