#!/usr/bin/env python3
"""Generates the 1,000,000-token data set for bench/scale, once, for both stores.

    gen.py --tokens N --users U --sample S --now-ms MS --out DIR

writes
    DIR/users.tsv   U users, ids 2..U+1 (Admin is id 1), PostgreSQL COPY text format
    DIR/tokens.tsv  N API tokens, ids 1..N, COPY text format (hash as \\x<hex>, NULL as \\N)
    DIR/sample.txt  the secrets of S tokens that a check accepts (status active, not expiring
                    within a day, user enabled), in random order, one per line

Every token has a real tessera secret in the form without an issue time, `tsr_` + 43 base62 +
the 6-base62 CRC32 of the body, which crates/tessera-core/src/secret.rs still accepts
(`is_malformed_tessera_secret` must pass, or the check refuses before the database), and is
stored as the SHA-256 of that secret. Only the sample's secrets are kept. The other columns
follow bench/zabbix_token_get's spread (the row number i drives every value), so the token.get
cases mean the same on both benchmarks.
"""
import argparse
import hashlib
import os
import random
import uuid
import zlib

BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Random bytes to base62 characters (b % 62: slightly uneven, irrelevant for a benchmark).
TO_BASE62 = bytes(BASE62[b % 62] for b in range(256))
WORDS = ["backup", "deploy", "monitor", "ci", "grafana", "export", "sync", "audit"]
YEAR_MS = 31536000000
DAY_MS = 86400000
FAKE_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaA$bm90IGEgcmVhbCBoYXNo"


def checksum(body: bytes) -> bytes:
    value = zlib.crc32(body)  # crc32fast computes the same CRC-32 (IEEE)
    out = bytearray(b"000000")
    for k in range(5, -1, -1):
        out[k] = BASE62[value % 62]
        value //= 62
    return bytes(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--sample", type=int, required=True)
    p.add_argument("--now-ms", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    now, n_users = a.now_ms, a.users
    rng = random.Random(8)

    with open(f"{a.out}/users.tsv", "w") as f:
        for i in range(1, n_users + 1):
            f.write(f"{i + 1}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t"
                    f"bench-user-{i:05d}\tBench user {i}\tuser\tt\t\t{FAKE_HASH}\t{now - YEAR_MS}\n")

    eligible = []
    secrets = {}  # every checkable token's secret, in memory only (about 60 MB at 1M tokens)
    null = "\\N"
    with open(f"{a.out}/tokens.tsv", "w", buffering=1 << 20) as f:
        raw = b""
        for i in range(1, a.tokens + 1):
            if len(raw) < 43:
                raw = os.urandom(43 * 4096).translate(TO_BASE62)
            body, raw = raw[:43], raw[43:]
            secret = b"tsr_" + body + checksum(body)
            digest = hashlib.sha256(secret).hexdigest()
            user_id = 2 + (i * 7919) % n_users
            word = WORDS[(i * 5) % 8]
            created = now - (i * 2654435761) % YEAR_MS
            disabled = (i * 17) % 20 == 0
            expires = None if (i * 13) % 5 == 0 else created + (30 + (i * 37) % 365) * DAY_MS
            last = None if (i * 11) % 10 < 3 else created + (i * 48271) % (now - created + 1)
            creator = user_id if i % 4 == 0 else 1
            f.write(f"{i}\t\\\\x{digest}\tapi\tzabbix\t{user_id}\tsvc-{i:06d}-{word}\t"
                    f"{word} token {i} of user {user_id}, created by the benchmark\t"
                    f"{'disabled' if disabled else 'active'}\t{created}\t"
                    f"{null if expires is None else expires}\t"
                    f"{null if last is None else last}\t{creator}\n")
            if not disabled and (expires is None or expires > now + DAY_MS):
                eligible.append(i)
                secrets[i] = secret.decode()
    pool = eligible
    if len(pool) < a.sample:
        raise SystemExit(f"only {len(pool)} eligible secrets kept, {a.sample} wanted")
    chosen = rng.sample(pool, a.sample)
    with open(f"{a.out}/sample.txt", "w") as f:
        for i in chosen:
            f.write(secrets[i] + "\n")
    with open(f"{a.out}/sample_ids.txt", "w") as f:
        for i in chosen:
            f.write(f"{i}\n")
    print(f"generated {a.tokens} tokens ({len(eligible)} checkable), {n_users} users, "
          f"sample of {a.sample} secrets (ids {min(chosen)}..{max(chosen)})")


if __name__ == "__main__":
    main()
