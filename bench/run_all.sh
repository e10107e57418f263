#!/usr/bin/env bash
# Every benchmark of issue #8, one after the other, on one release build, then the summary of
# each result file it wrote: the ratios to compare with BENCHMARKS.md.
#
#   bash bench/run_all.sh                   # about an hour on 2 cores, as root (the Zabbix peer)
#   ONLY="token_checks peers" bash bench/run_all.sh
#
# Run it on a quiet machine: nothing else building or testing. Each script stays usable on its
# own (see its header for knobs); this one passes NO_BUILD=1 to them after building once.
# Knobs: ONLY (the scripts to run, by directory; default all, in the order below).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ALL="token_checks password_issuance footprint peers zabbix_peer scale"
ONLY=${ONLY:-$ALL}

echo "== building: cargo build --release -p tessera" >&2
(cd "$ROOT" && cargo build --release -p tessera)
export NO_BUILD=1

started=$(date -u +%Y-%m-%dT%H%M%SZ)
for bench in $ONLY; do
    [[ -f "$HERE/$bench/run.sh" ]] || { echo "no benchmark bench/$bench" >&2; exit 2; }
    echo "== bench/$bench ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    bash "$HERE/$bench/run.sh"
done

echo
echo "== summaries of the results written since $started"
for bench in $ONLY; do
    for file in "$HERE/$bench"/results/*.txt; do
        name=$(basename "$file")
        [[ "$name" > "$started" ]] || continue
        echo
        echo "---- bench/$bench/results/$name"
        # Each file starts with its summary; the raw wrk lines (JSON) follow it.
        sed -n '/^{/q;p' "$file" | head -80
    done
done
