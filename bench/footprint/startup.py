"""Start-up time of `tessera serve` on an existing database: from just before exec to the first
200 on /readyz, polled tightly (a raw HTTP/1.1 request on a fresh connection, again at once on
a refused connection or a non-200). Each start is stopped with SIGTERM before the next.

    python3 startup.py STARTS BIN DB PORT [serve flags...]

Prints one JSON line: {"starts":..,"ms":[..],"median_ms":..,"min_ms":..,"max_ms":..,"polls":[..]}.
"""
import json, os, signal, socket, statistics, subprocess, sys, time

starts, binary, db, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
extra = sys.argv[5:]
request = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def ready_once():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(request)
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


results, polls = [], []
env = dict(os.environ)
for _ in range(starts):
    cmd = [binary, "serve", "--database", f"sqlite://{db}", "--listen", f"127.0.0.1:{port}",
           "--log-level", "warn", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    n = 0
    while True:
        n += 1
        if ready_once():
            break
        if proc.poll() is not None:
            sys.exit(f"tessera exited with {proc.returncode} before it was ready")
        if time.perf_counter() - t0 > 30:
            proc.kill()
            sys.exit("not ready after 30 s")
    results.append((time.perf_counter() - t0) * 1000)
    polls.append(n)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    time.sleep(0.2)
print(json.dumps({"starts": starts, "ms": [round(x, 2) for x in results],
                  "median_ms": round(statistics.median(results), 2),
                  "min_ms": round(min(results), 2), "max_ms": round(max(results), 2),
                  "polls": polls}))
