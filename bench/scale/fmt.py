#!/usr/bin/env python3
"""One summary line from a check_run JSON line (bench/scale/run.sh)."""
import json
import sys

r = json.loads(sys.argv[1])
print(f"{r['store']:<8} {r['label']:<22} c={r['connections']:<3} ok={r['ok']:<7} bad={r['bad']:<3} "
      f"{r['rps']:>9.0f} checks/s  p50 {r['p50_us'] / 1000:7.3f} ms  p90 {r['p90_us'] / 1000:7.3f} ms  "
      f"p99 {r['p99_us'] / 1000:7.3f} ms  max {r['max_us'] / 1000:8.2f} ms  ({r['seconds']:.1f} s)")
