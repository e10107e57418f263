#!/usr/bin/env python3
"""Revocations while the server writes last_access times (bench/scale/run.sh).

    revoke_probe.py URL TOKENS SECONDS JSON_OUT

Revokes the tokens of the file TOKENS (one secret a line) in its order, one every 100 ms on a
new connection, through POST /oauth/revoke (RFC 7009; the bulk-loaded API tokens have no
client, so their holder may revoke them), for SECONDS seconds or until the file ends. Each
waits at most 15 s. Writes one JSON line to JSON_OUT: how many, the median and the longest
wait, how many waited over 100 ms, and the HTTP statuses seen (a 408 is the server's own
request timeout), and how many of the revoked tokens a check refuses afterwards; prints the
same as a sentence."""
import http.client
import json
import statistics
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
tokens = [line.strip() for line in open(sys.argv[2]) if line.strip()]
until = time.monotonic() + float(sys.argv[3])
waits, statuses = [], {}
for token in tokens:
    if time.monotonic() >= until:
        break
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    started = time.perf_counter()
    try:
        connection.request("POST", "/oauth/revoke", urllib.parse.urlencode({"token": token}),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        status = str(response.status)
    except OSError as error:
        status = type(error).__name__
    finally:
        connection.close()
    waits.append((time.perf_counter() - started) * 1000)
    statuses[status] = statuses.get(status, 0) + 1
    time.sleep(0.1)


def refused(token):
    """Whether a check now refuses the token (it was revoked, not just answered 200)."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        connection.request("GET", "/auth/verify", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        return response.status == 401
    finally:
        connection.close()


result = {
    "revocations": len(waits),
    "median_ms": round(statistics.median(waits), 1) if waits else None,
    "max_ms": round(max(waits), 1) if waits else None,
    "over_100_ms": sum(w > 100 for w in waits),
    "statuses": statuses,
    "refused_after": sum(refused(token) for token in tokens[:len(waits)]),
}
with open(sys.argv[4], "w") as out:
    print(json.dumps(result), file=out)
print(f"revocations of the tokens checked last, one every 100 ms for {sys.argv[3]} s after the "
      f"checks: {result['revocations']}, median {result['median_ms']} ms, longest "
      f"{result['max_ms']} ms, {result['over_100_ms']} over 100 ms; HTTP statuses {statuses}; "
      f"refused by a check afterwards: {result['refused_after']}")
