#!/usr/bin/env bash
# CPU per issued token, by thread: where a client_credentials grant's time goes (the figures
# BENCHMARKS.md quotes for the runtime's workers, the batch writer and SQLite's threads).
#
#   bash bench/profile/issuance_cpu.sh BINARY [SECONDS]     # default 10 s
#   PERF=1 bash bench/profile/issuance_cpu.sh BINARY          # also perf record -F 1999 (flat)
#
# One fresh SQLite server (--log-level warn), a client_credentials client, 2 s of warm-up, then
# wrk -t2 -c64 for SECONDS on POST /oauth/token. Prints wrk's req/s, p50 and p99, and each
# thread name's utime + stime (/proc/PID/task/*/stat) over the run divided by the requests wrk
# counted. One run says little on a shared machine: alternate binaries and repeat. With PERF=1
# the profile goes to $TMPDIR/issuance_cpu.perf.data (perf report --sort comm,dso,symbol).
set -euo pipefail
BIN=$(realpath "${1:?usage: $0 BINARY [SECONDS]}")
SECS=${2:-10}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common/lib.sh"
need_wrk
make_tmp
DB="$TMP/cpu.db"
PASSWORD="bench$(date +%s)x$RANDOM"
start_server
basic=$(client_basic cpu)
printf 'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials&scope=read"\n' >"$TMP/post.lua"
grant() {
    wrk -t2 -c64 -d"$1" --latency -s "$TMP/post.lua" -H "$basic" \
        -H 'Content-Type: application/x-www-form-urlencoded' "$URL/oauth/token"
}
grant 2s >/dev/null
# Clock ticks and context switches (voluntary + forced) per thread name (threads of one name
# summed).
ticks() {
    for task in /proc/"$SERVER_PID"/task/*; do
        printf '%s\t%s\t%s\n' "$(cat "$task/comm")" "$(awk '{print $14 + $15}' "$task/stat")" \
            "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$task/status")"
    done | awk -F'\t' '{t[$1] += $2; c[$1] += $3} END {for (n in t) print n "\t" t[n] "\t" c[n]}' | sort
}
ticks >"$TMP/before"
perf_pid=
if [[ "${PERF:-0}" == 1 ]]; then
    perf record -F 1999 -p "$SERVER_PID" -o "${TMPDIR:-/tmp}/issuance_cpu.perf.data" \
        -- sleep "$SECS" >/dev/null 2>&1 &
    perf_pid=$!
fi
grant "${SECS}s" >"$TMP/wrk.txt"
[[ -z "$perf_pid" ]] || wait "$perf_pid" || true
ticks >"$TMP/after"
requests=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
echo "binary: $BIN"
grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx' "$TMP/wrk.txt"
echo "CPU and context switches per token (utime + stime over $requests tokens):"
join -t $'\t' "$TMP/before" "$TMP/after" | awk -F'\t' -v r="$requests" -v hz="$(getconf CLK_TCK)" \
    '{us = ($4 - $2) * 1e6 / hz / r; cs = ($5 - $3) / r
      if (us > 0.05) printf "  %-20s %6.1f us  %5.2f switches\n", $1, us, cs}'
