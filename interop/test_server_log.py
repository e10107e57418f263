"""The server's own output, checked once every other test has run."""

from __future__ import annotations

import pytest


@pytest.mark.last
def test_server_log_contains_no_password_secret_or_token(tessera):
    if len(tessera.secrets) <= 1:
        pytest.skip("no other test ran in this session, so there is nothing to look for")
    log = tessera.server_log()
    used = set(tessera.secrets)
    leaked = sorted(secret for secret in used if secret in log)
    if leaked:
        # Only the first characters: the report itself must not repeat the secrets.
        shown = ", ".join(secret[:8] + "..." for secret in leaked)
        pytest.fail(
            f"the server's log holds {len(leaked)} of the {len(used)} passwords, client secrets "
            f"and tokens used in this session: {shown}",
            pytrace=False,
        )
