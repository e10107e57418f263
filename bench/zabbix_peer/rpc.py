#!/usr/bin/env python3
"""One Zabbix JSON-RPC call for bench/zabbix_peer/run.sh (standard library only).

    rpc.py URL METHOD PARAMS_JSON [AUTH]      -> prints the "result" as JSON; exit 1 on an error
    rpc.py --body METHOD PARAMS_JSON [AUTH]   -> prints the request body wrk sends (compact JSON)
    rpc.py --check URL BODY EXPECT            -> sends BODY once; exit 0 only if the answer is a
                                                 JSON-RPC result (no "error") and contains EXPECT
"""
import json
import sys
import urllib.request


def body(method, params, auth=None):
    req = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    if auth:
        req["auth"] = auth
    return json.dumps(req, separators=(",", ":"))


def post(url, data):
    r = urllib.request.Request(url, data=data.encode(), method="POST",
                               headers={"Content-Type": "application/json-rpc"})
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.read().decode()


def main(argv):
    if argv[0] == "--body":
        print(body(argv[1], json.loads(argv[2]), argv[3] if len(argv) > 3 else None))
        return 0
    if argv[0] == "--check":
        url, data, expect = argv[1:4]
        text = post(url, data)
        ans = json.loads(text)
        ok = isinstance(ans, dict) and "result" in ans and "error" not in ans and expect in text
        if not ok:
            print(f"not a good answer from {url}: {text[:400]}", file=sys.stderr)
            print(f"(expected a result containing {expect!r})", file=sys.stderr)
            return 1
        return 0
    url, method, params = argv[0], argv[1], json.loads(argv[2])
    text = post(url, body(method, params, argv[3] if len(argv) > 3 else None))
    ans = json.loads(text)
    if "error" in ans or "result" not in ans:
        print(f"{method} at {url} failed: {text[:400]}", file=sys.stderr)
        return 1
    print(json.dumps(ans["result"], separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
