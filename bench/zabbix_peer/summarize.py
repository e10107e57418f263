#!/usr/bin/env python3
"""Summary of bench/zabbix_peer/run.sh's measurements (JSON lines on stdin, one per wrk run,
with "round", "workload" and "server": "zabbix" | "tessera"). Prints the summary tables."""
import json
import statistics
import sys

# workload -> (what, target ratio or None)
WORKLOADS = {
    "apiinfo": ("apiinfo.version, no auth, no database (each server's floor)", None),
    "check_session": ("user.checkAuthentication {\"sessionid\": ...} (a session check)", 10),
    "token_get": ("token.get by tokenid, authenticated with an API token in \"auth\"", 100),
    "login": ("user.login Admin (Zabbix: bcrypt; tessera: Argon2id m=19 MiB t=2 p=1)", None),
}


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def main():
    runs = [json.loads(line) for line in sys.stdin if line.strip()]
    by = {}
    for r in runs:
        by.setdefault((r["workload"], r["round"]), {})[r["server"]] = r
    out = []
    verdicts = []
    for wl, (what, target) in WORKLOADS.items():
        rounds = sorted(rd for (w, rd) in by if w == wl)
        if not rounds:
            continue
        out.append(f"### {wl}: {what}")
        out.append("round | Zabbix req/s | p50 ms | p99 ms | tessera req/s | p50 ms | p99 ms | ratio (tessera/Zabbix req/s) | p50 ratio (Zabbix/tessera)")
        ratios, p50r = [], []
        bad = 0
        for rd in rounds:
            z, t = by[(wl, rd)].get("zabbix"), by[(wl, rd)].get("tessera")
            if not z or not t:
                continue
            for r in (z, t):
                bad += r["bad_body"] + r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
            ratio = t["rps"] / z["rps"] if z["rps"] else float("inf")
            pr = z["p50_us"] / t["p50_us"] if t["p50_us"] else float("inf")
            ratios.append(ratio)
            p50r.append(pr)
            out.append(f"{rd} | {z['rps']:,.1f} | {fmt_ms(z['p50_us'])} | {fmt_ms(z['p99_us'])} | "
                       f"{t['rps']:,.1f} | {fmt_ms(t['p50_us'])} | {fmt_ms(t['p99_us'])} | {ratio:,.1f}x | {pr:,.1f}x")
        if ratios:
            med = statistics.median(ratios)
            line = (f"median ratio {med:,.1f}x (range {min(ratios):,.1f}x-{max(ratios):,.1f}x over {len(ratios)} rounds); "
                    f"median p50 ratio {statistics.median(p50r):,.1f}x")
            if target:
                met = "MET" if min(ratios) >= target else ("met by the median only" if med >= target else "NOT MET")
                line += f"; target >= {target}x: {met}"
                verdicts.append(f"{wl}: median {med:,.1f}x, target >= {target}x: {met}")
            else:
                verdicts.append(f"{wl}: median {med:,.1f}x (no target)")
            out.append(line)
        out.append(f"non-result answers, non-2xx statuses and socket errors over all its runs: {bad}")
        out.append("")
    print("## verdicts")
    for v in verdicts:
        print(v)
    print()
    print("\n".join(out).rstrip())


if __name__ == "__main__":
    main()
