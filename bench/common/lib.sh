# Shared helpers for bench/*/run.sh (sourced, not run). Needs: bash, curl, python3, wrk.
#
# Knobs every script takes (environment):
#   TESSERA_BIN    skip the build and use this binary (for trying a script out only)
#   BUILD_TIMEOUT  seconds allowed for `cargo build --release -p tessera` (2400)
#   NO_BUILD=1     use target/release/tessera as it is, without running cargo (it must exist)
#   TESSERA_REV    what to call the binary's source in the results (default: this checkout's
#                  commit, plus a note when crates/ has uncommitted changes)
# Everything listens on 127.0.0.1; every temporary file lives in $TMP, removed at exit, and
# every server a script starts is stopped at exit (trap).

BENCH_COMMON=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_COMMON/../.." && pwd)
BUILD_TIMEOUT=${BUILD_TIMEOUT:-2400}

say() { printf '\n== %s\n' "$*" >&2; }

need_wrk() {
    if ! command -v wrk >/dev/null; then
        say "installing wrk (apt)"
        timeout 300 apt-get install -y wrk >/dev/null 2>&1 || {
            timeout 300 apt-get update >/dev/null && timeout 300 apt-get install -y wrk >/dev/null
        }
    fi
    command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
}

# Sets BIN and REV.
build_tessera() {
    if [[ -n "${TESSERA_BIN:-}" ]]; then
        BIN=$(realpath "$TESSERA_BIN")
        say "using $BIN (TESSERA_BIN), no build"
    elif [[ "${NO_BUILD:-0}" == 1 ]]; then
        BIN="$ROOT/target/release/tessera"
        [[ -x "$BIN" ]] || { echo "NO_BUILD=1 but $BIN does not exist" >&2; exit 1; }
        say "using $BIN as it is (NO_BUILD=1)"
    else
        say "building: cargo build --release -p tessera"
        (cd "$ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release -p tessera)
        BIN="$ROOT/target/release/tessera"
    fi
    REV=$(binary_rev "${TESSERA_BIN:+TESSERA_BIN}")
}

# binary_rev [KNOB]: the commit a results file names for its binary (others may commit while a
# benchmark runs): TESSERA_REV if set, else the checkout's. A binary given with the knob KNOB
# may come from any tree: then the checkout's commit is only mentioned, never claimed.
binary_rev() {
    if [[ -n "${TESSERA_REV:-}" ]]; then
        echo "$TESSERA_REV"
        return
    fi
    local rev
    rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo ' + uncommitted changes in crates/')"
    if [[ -n "${1:-}" ]]; then
        echo "unknown ($1 given; the checkout is at $rev; TESSERA_REV names it)"
    else
        echo "$rev"
    fi
}

machine_info() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "tessera: $REV ($BIN, built $(date -u -r "$BIN" "+%Y-%m-%d %H:%M:%S UTC"))"
    echo "cpus (nproc): $(nproc); model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "kernel: $(uname -r); wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
}

make_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")
    SERVER_PID=
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

stop_server() {
    if [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
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

# Extra cleanup a script wants (a function name), run before the server is stopped.
EXTRA_CLEANUP=
cleanup() {
    [[ -n "$EXTRA_CLEANUP" ]] && "$EXTRA_CLEANUP" || true
    stop_server
    [[ -n "${TMP:-}" ]] && rm -rf "$TMP"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server [extra serve flags...]: a server on $DB (sqlite, in $TMP), log level warn,
# admin password $PASSWORD; sets SERVER_PID, PORT, URL; waits for /readyz.
start_server() {
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    TESSERA_BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" "$BIN" serve \
        --database "sqlite://$DB" --listen "127.0.0.1:$PORT" --log-level warn "$@" \
        >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if curl -sf "$URL/readyz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not become ready; its log:" >&2
    cat "$TMP/server.log" >&2
    exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# wrk_run LABEL CONNECTIONS SECONDS URL [wrk args...]: runs wrk with bench/common/wrk.lua
# (method and body from WRK_METHOD / WRK_BODY; WRK_EXPECT: a text every answer's body must
# contain, counted as bad_body otherwise) and prints one JSON line
# {"label":..,"connections":..,"requests":..,"rps":..,"p50_us":..,"p99_us":..,...}.
# wrk's own text output goes to $TMP/wrk-LABEL.txt.
wrk_run() {
    local label=${1//\//_} conns=$2 secs=$3 url=$4
    shift 4
    local threads=2
    (( conns < threads )) && threads=$conns
    wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$BENCH_COMMON/wrk.lua" "$@" "$url" \
        >"$TMP/wrk-$label.txt" 2>&1 || { cat "$TMP/wrk-$label.txt" >&2; return 1; }
    local json
    json=$(sed -n 's/^WRK_JSON //p' "$TMP/wrk-$label.txt")
    [[ -n "$json" ]] || { cat "$TMP/wrk-$label.txt" >&2; return 1; }
    printf '{"label":"%s","connections":%d,"wrk_threads":%d,%s\n' "$label" "$conns" "$threads" "${json#\{}"
}

# The access_token of a JSON token answer on stdin.
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

# client_basic NAME: adds a client_credentials client NAME (scope read) to $DB (sqlite, the
# database start_server serves) and prints its "Authorization: Basic …" header.
client_basic() {
    local secret
    secret=$("$BIN" client add "$1" --grant client_credentials --scope read --json \
        --database "sqlite://$DB" | json_field client_secret)
    printf 'Authorization: Basic %s' "$(printf '%s:%s' "$1" "$secret" | base64 -w0)"
}
