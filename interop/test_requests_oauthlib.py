"""tessera against requests-oauthlib (oauthlib's LegacyApplicationClient and
BackendApplicationClient), the OAuth client most Python code uses."""

from __future__ import annotations

import pytest
import requests
from oauthlib.oauth2 import (
    BackendApplicationClient,
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    LegacyApplicationClient,
)
from requests_oauthlib import OAuth2Session

from conftest import ADMIN_USERNAME, HTTP_TIMEOUT_SECONDS


def recording_session(client):
    """An OAuth2Session that keeps the raw token endpoint responses in `session.responses`.
    The scope to ask for, if any, is the oauthlib client's."""
    session = OAuth2Session(client=client, scope=client.scope)
    session.responses = []

    def record(response):
        session.responses.append(response)
        return response

    session.register_compliance_hook("access_token_response", record)
    return session


def assert_token_response(response, *, refresh: bool):
    """The raw token response is what RFC 6749 §5.1 and tessera's contract promise."""
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    body = response.json()
    assert body["access_token"].startswith("tsr_"), body
    assert body["token_type"] == "Bearer", body
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0, body
    assert isinstance(body["scope"], str) and body["scope"], body
    if refresh:
        assert body["refresh_token"].startswith("tsr_"), body
        assert body["refresh_token"] != body["access_token"]
    else:
        assert "refresh_token" not in body, body
    return body


def assert_bearer_challenge(response, *, error: str | None):
    assert response.status_code == 401, response.text
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), response.headers
    if error:
        assert f'error="{error}"' in challenge, challenge


# ----- password grant (LegacyApplicationClient) -----

CLIENT_AUTH_MODES = ["client_secret_basic", "client_secret_post", "no_client"]


@pytest.mark.parametrize("mode", CLIENT_AUTH_MODES)
def test_password_grant_token_works_until_revoked(tessera, client, mode):
    """Password grant, then whoami, introspect (active), revoke, introspect (inactive), and
    whoami refuses the revoked token."""
    if mode == "no_client":
        session = recording_session(LegacyApplicationClient(client_id=None))
        token = session.fetch_token(
            tessera.token_url,
            username=ADMIN_USERNAME,
            password=tessera.admin_password,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    else:
        session = recording_session(LegacyApplicationClient(client_id=client.client_id))
        token = session.fetch_token(
            tessera.token_url,
            username=ADMIN_USERNAME,
            password=tessera.admin_password,
            client_id=client.client_id,
            client_secret=client.client_secret,
            # False: HTTP Basic (client_secret_basic); True: both in the body (client_secret_post).
            include_client_id=(mode == "client_secret_post"),
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    tessera.remember_token(token)

    # What went over the wire: the client authenticated the way we meant it to.
    sent = session.responses[-1].request
    if mode == "client_secret_basic":
        assert sent.headers["Authorization"].startswith("Basic "), sent.headers
    else:
        assert "Authorization" not in sent.headers, sent.headers
    assert ("client_secret=" in sent.body) == (mode == "client_secret_post"), sent.body

    body = assert_token_response(session.responses[-1], refresh=True)
    assert token["access_token"] == body["access_token"]
    assert set(token["scope"]) == set(body["scope"].split())
    access_token = token["access_token"]
    expected_client_id = None if mode == "no_client" else client.client_id

    # The resource API knows who we are (requests-oauthlib adds the Bearer header itself).
    me = session.get(tessera.whoami_url, timeout=HTTP_TIMEOUT_SECONDS)
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["user"]["username"] == ADMIN_USERNAME, me
    assert isinstance(me["user"]["role"], str) and me["user"]["role"], me
    assert me.get("client_id") == expected_client_id, me
    assert set(me["scope"].split()) == set(body["scope"].split()), me

    # Introspection (RFC 7662) by a client; the token's own client if it has one.
    introspector = client if mode != "no_client" else tessera.add_client()
    answer = tessera.introspect(access_token, introspector)
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert info["active"] is True, info
    assert info["username"] == ADMIN_USERNAME, info
    assert info.get("client_id") == expected_client_id, info
    assert set(info["scope"].split()) == set(body["scope"].split()), info
    assert info["token_type"].lower() == "bearer", info
    assert isinstance(info["sub"], str) and info["sub"], info
    assert isinstance(info["iat"], int) and isinstance(info["exp"], int), info
    assert info["exp"] > info["iat"], info
    assert abs((info["exp"] - info["iat"]) - body["expires_in"]) <= 5, (info, body)

    # Revocation (RFC 7009): a client's token by that client; a token without client by its holder.
    revoke_auth = None if mode == "no_client" else (client.client_id, client.client_secret)
    revoked = requests.post(
        tessera.revoke_url,
        data={"token": access_token, "token_type_hint": "access_token"},
        auth=revoke_auth,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.content == b"", revoked.content

    answer = tessera.introspect(access_token, introspector)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"active": False}, answer.text

    refused = session.get(tessera.whoami_url, timeout=HTTP_TIMEOUT_SECONDS)
    assert_bearer_challenge(refused, error="invalid_token")


def test_password_grant_with_wrong_password_raises_invalid_grant(tessera, client):
    wrong = tessera.admin_password + "-wrong"
    tessera.remember(wrong)
    session = recording_session(LegacyApplicationClient(client_id=client.client_id))
    with pytest.raises(InvalidGrantError) as raised:
        session.fetch_token(
            tessera.token_url,
            username=ADMIN_USERNAME,
            password=wrong,
            client_id=client.client_id,
            client_secret=client.client_secret,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    assert raised.value.error == "invalid_grant"
    response = session.responses[-1]
    assert response.status_code == 400, response.text
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    assert "access_token" not in response.json()


def test_password_grant_for_unknown_scope_raises_invalid_scope(tessera, client):
    session = recording_session(
        LegacyApplicationClient(client_id=client.client_id, scope=["read", "launch-missiles"])
    )
    with pytest.raises(InvalidScopeError) as raised:
        session.fetch_token(
            tessera.token_url,
            username=ADMIN_USERNAME,
            password=tessera.admin_password,
            client_id=client.client_id,
            client_secret=client.client_secret,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    assert raised.value.error == "invalid_scope"
    assert session.responses[-1].status_code == 400


def test_password_grant_for_a_created_user_with_narrower_scope(tessera, client):
    username, password = tessera.add_user()
    session = recording_session(LegacyApplicationClient(client_id=client.client_id, scope=["read"]))
    token = session.fetch_token(
        tessera.token_url,
        username=username,
        password=password,
        client_id=client.client_id,
        client_secret=client.client_secret,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    tessera.remember_token(token)
    body = assert_token_response(session.responses[-1], refresh=True)
    assert body["scope"] == "read", body

    me = session.get(tessera.whoami_url, timeout=HTTP_TIMEOUT_SECONDS)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == username, me.text
    assert me.json()["scope"] == "read", me.text


# ----- client_credentials (BackendApplicationClient) -----


def test_client_credentials_token_acts_as_the_client_without_a_user(tessera, client):
    session = recording_session(BackendApplicationClient(client_id=client.client_id))
    token = session.fetch_token(
        tessera.token_url,
        client_id=client.client_id,
        client_secret=client.client_secret,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    tessera.remember_token(token)
    sent = session.responses[-1].request
    assert sent.headers["Authorization"].startswith("Basic "), sent.headers
    body = assert_token_response(session.responses[-1], refresh=False)
    assert set(body["scope"].split()) == {"read", "write"}, body

    me = session.get(tessera.whoami_url, timeout=HTTP_TIMEOUT_SECONDS)
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["user"] is None, me
    assert me["client_id"] == client.client_id, me

    info = tessera.introspect(token["access_token"], client).json()
    assert info["active"] is True, info
    assert info["client_id"] == client.client_id, info
    assert info.get("username") is None, info


def test_client_credentials_with_wrong_secret_is_invalid_client(tessera, client):
    wrong = client.client_secret + "x"
    tessera.remember(wrong)
    session = recording_session(BackendApplicationClient(client_id=client.client_id))
    with pytest.raises(InvalidClientError) as raised:
        session.fetch_token(
            tessera.token_url,
            client_id=client.client_id,
            client_secret=wrong,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    assert raised.value.error == "invalid_client"
    response = session.responses[-1]
    assert response.status_code == 401, response.text
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("basic"), response.headers


# ----- tokens from elsewhere -----


def test_cli_issued_token_is_accepted_by_whoami(tessera):
    username, _ = tessera.add_user()
    issued = tessera.issue_token(username)
    assert isinstance(issued["id"], (int, str)), issued
    assert issued["token"].startswith("tsr_"), issued

    session = OAuth2Session(token={"access_token": issued["token"], "token_type": "Bearer"})
    me = session.get(tessera.whoami_url, timeout=HTTP_TIMEOUT_SECONDS)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == username, me.text


def test_whoami_without_a_token_asks_for_bearer(tessera):
    assert_bearer_challenge(tessera.whoami(None), error=None)


def test_whoami_with_a_made_up_token_is_invalid_token(tessera):
    fake = "tsr_" + "A" * 40
    assert_bearer_challenge(tessera.whoami(fake), error="invalid_token")
