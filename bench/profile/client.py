"""N requests on one keep-alive connection: client.py PORT PATH TOKEN N [BASIC_HEADER].
A GET with the token as a bearer token, or for /oauth/introspect a form POST of the token with
BASIC_HEADER ("Authorization: Basic ...", the client's credentials). Every answer must be 200;
prints the count and the elapsed time."""
import http.client
import sys
import time

port, path, token, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
if path == "/oauth/introspect":
    name, value = sys.argv[5].split(": ", 1)
    method, body = "POST", f"token={token}"
    headers = {name: value, "Content-Type": "application/x-www-form-urlencoded"}
else:
    method, body = "GET", None
    headers = {"Authorization": f"Bearer {token}"}
t0 = time.monotonic()
for _ in range(n):
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status}")
print(f"{path}: {n} requests, {time.monotonic() - t0:.1f} s")
