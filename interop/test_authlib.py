"""tessera against Authlib's requests client (authlib.integrations.requests_client.OAuth2Session)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from conftest import ADMIN_USERNAME, HTTP_TIMEOUT_SECONDS

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def session_for(client, method="client_secret_basic", **kwargs):
    session = OAuth2Session(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        default_timeout=HTTP_TIMEOUT_SECONDS,
        **kwargs,
    )
    session.responses = []

    def record(response):
        session.responses.append(response)
        return response

    session.register_compliance_hook("access_token_response", record)
    session.register_compliance_hook("refresh_token_response", record)
    return session


def assert_sent_client_auth(request, client, method):
    """The request carried the client's credentials the way `method` says, and only that way."""
    form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
    if method == "client_secret_basic":
        assert request.headers["Authorization"].startswith("Basic "), request.headers
        assert "client_secret" not in form, form
    else:
        assert "Authorization" not in request.headers, request.headers
        assert form["client_id"] == [client.client_id], form
        assert form["client_secret"] == [client.client_secret], form


def fetch_admin_token(tessera, session):
    token = session.fetch_token(
        tessera.token_url,
        grant_type="password",
        username=ADMIN_USERNAME,
        password=tessera.admin_password,
    )
    tessera.remember_token(token)
    return token


def whoami_status(tessera, access_token):
    return tessera.whoami(access_token).status_code


# ----- password grant and refresh rotation -----


def test_refresh_rotates_and_reuse_of_spent_refresh_token_revokes_the_family(tessera, client):
    session = session_for(client)
    first = dict(fetch_admin_token(tessera, session))
    assert first["access_token"].startswith("tsr_"), first
    assert first["refresh_token"].startswith("tsr_"), first
    assert first["token_type"] == "Bearer", first

    me = session.get(tessera.whoami_url)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == ADMIN_USERNAME, me.text

    second = dict(session.refresh_token(tessera.token_url, refresh_token=first["refresh_token"]))
    tessera.remember_token(second)
    response = session.responses[-1]
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    assert second["access_token"].startswith("tsr_"), second
    assert second["refresh_token"].startswith("tsr_"), second
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"], "the refresh token did not rotate"
    assert set(second["scope"].split()) == set(first["scope"].split()), (first, second)
    assert session.token["access_token"] == second["access_token"]

    me = session.get(tessera.whoami_url)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == ADMIN_USERNAME, me.text

    # Replaying the spent refresh token: refused, and the whole family dies with it.
    with pytest.raises(OAuthError) as raised:
        session.refresh_token(tessera.token_url, refresh_token=first["refresh_token"])
    assert raised.value.error == "invalid_grant", raised.value
    assert session.responses[-1].status_code == 400, session.responses[-1].text

    refused = session.get(tessera.whoami_url)
    assert refused.status_code == 401, (
        "the newest access token still works after its family's spent refresh token was replayed"
    )
    assert 'error="invalid_token"' in refused.headers.get("WWW-Authenticate", ""), refused.headers
    assert tessera.introspect(second["access_token"], client).json() == {"active": False}

    with pytest.raises(OAuthError) as raised:
        session.refresh_token(tessera.token_url, refresh_token=second["refresh_token"])
    assert raised.value.error == "invalid_grant", "the newest refresh token survived the replay"


def test_refresh_token_is_bound_to_its_client(tessera, client):
    session = session_for(client)
    token = fetch_admin_token(tessera, session)

    thief = session_for(tessera.add_client())
    with pytest.raises(OAuthError) as raised:
        thief.refresh_token(tessera.token_url, refresh_token=token["refresh_token"])
    assert raised.value.error == "invalid_grant", raised.value

    # The rightful client can still use it.
    renewed = session.refresh_token(tessera.token_url, refresh_token=token["refresh_token"])
    tessera.remember_token(renewed)
    assert whoami_status(tessera, renewed["access_token"]) == 200


def test_password_grant_with_wrong_password_raises_invalid_grant(tessera, client):
    wrong = "not-" + tessera.admin_password
    tessera.remember(wrong)
    session = session_for(client)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(
            tessera.token_url, grant_type="password", username=ADMIN_USERNAME, password=wrong
        )
    assert raised.value.error == "invalid_grant", raised.value
    assert session.responses[-1].status_code == 400, session.responses[-1].text
    assert session.token is None or "access_token" not in session.token


def test_password_grant_for_unknown_user_raises_invalid_grant(tessera, client):
    password = "whatever-" + tessera.admin_password[:6]
    tessera.remember(password)
    session = session_for(client)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(
            tessera.token_url, grant_type="password", username="nobody-here", password=password
        )
    assert raised.value.error == "invalid_grant", raised.value


# ----- client_credentials -----


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_client_credentials_with_each_client_auth_method(tessera, client, method):
    session = session_for(client, method=method)
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    tessera.remember_token(token)

    response = session.responses[-1]
    assert_sent_client_auth(response.request, client, method)
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    assert token["access_token"].startswith("tsr_"), token
    assert token["token_type"] == "Bearer", token
    assert "refresh_token" not in token, token
    assert set(token["scope"].split()) == {"read", "write"}, token

    me = session.get(tessera.whoami_url)
    assert me.status_code == 200, me.text
    assert me.json()["user"] is None, me.text
    assert me.json()["client_id"] == client.client_id, me.text


def test_client_credentials_with_narrower_scope(tessera, client):
    session = session_for(client, scope="read")
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    tessera.remember_token(token)
    assert token["scope"] == "read", token


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_client_credentials_with_wrong_secret_is_invalid_client(tessera, client, method):
    wrong = client.client_secret[:-1] + ("A" if client.client_secret[-1] != "A" else "B")
    tessera.remember(wrong)
    session = OAuth2Session(
        client_id=client.client_id,
        client_secret=wrong,
        token_endpoint_auth_method=method,
        default_timeout=HTTP_TIMEOUT_SECONDS,
    )
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(tessera.token_url, grant_type="client_credentials")
    assert raised.value.error == "invalid_client", raised.value


def test_client_without_the_grant_gets_unauthorized_client(tessera):
    narrow = tessera.add_client(grants=("client_credentials",))
    session = session_for(narrow)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(
            tessera.token_url,
            grant_type="password",
            username=ADMIN_USERNAME,
            password=tessera.admin_password,
        )
    assert raised.value.error == "unauthorized_client", raised.value


# ----- revocation and introspection -----


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_revoke_token_and_introspect_token(tessera, client, method):
    session = session_for(client, method=method)
    token = fetch_admin_token(tessera, session)
    access, refresh = token["access_token"], token["refresh_token"]

    answer = session.introspect_token(tessera.introspect_url, token=access)
    assert_sent_client_auth(answer.request, client, method)
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert info["active"] is True, info
    assert info["client_id"] == client.client_id, info
    assert info["username"] == ADMIN_USERNAME, info
    assert set(info["scope"].split()) == set(token["scope"].split()), info

    answer = session.introspect_token(
        tessera.introspect_url, token=refresh, token_type_hint="refresh_token"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True, answer.text

    # Revoke the access token: it stops working, the refresh token does not.
    revoked = session.revoke_token(tessera.revoke_url, token=access, token_type_hint="access_token")
    assert_sent_client_auth(revoked.request, client, method)
    assert revoked.status_code == 200, revoked.text
    assert revoked.content == b"", revoked.content
    assert session.introspect_token(tessera.introspect_url, token=access).json() == {
        "active": False
    }
    assert whoami_status(tessera, access) == 401

    # Revoke the refresh token: it cannot be used any more.
    revoked = session.revoke_token(tessera.revoke_url, token=refresh, token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    assert session.introspect_token(tessera.introspect_url, token=refresh).json() == {
        "active": False
    }
    with pytest.raises(OAuthError) as raised:
        session.refresh_token(tessera.token_url, refresh_token=refresh)
    assert raised.value.error == "invalid_grant", raised.value


def test_revoking_a_refresh_token_also_revokes_its_access_token(tessera, client):
    session = session_for(client)
    token = fetch_admin_token(tessera, session)
    revoked = session.revoke_token(tessera.revoke_url, token=token["refresh_token"])
    assert revoked.status_code == 200, revoked.text
    assert whoami_status(tessera, token["access_token"]) == 401


def test_revoking_an_unknown_token_answers_200(tessera, client):
    session = session_for(client)
    revoked = session.revoke_token(tessera.revoke_url, token="tsr_" + "Z" * 40)
    assert revoked.status_code == 200, revoked.text
    assert revoked.content == b""


def test_another_client_cannot_revoke_a_clients_token(tessera, client):
    owner = session_for(client)
    token = fetch_admin_token(tessera, owner)

    other = session_for(tessera.add_client())
    answer = other.revoke_token(tessera.revoke_url, token=token["access_token"])
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert whoami_status(tessera, token["access_token"]) == 200
    info = owner.introspect_token(tessera.introspect_url, token=token["access_token"]).json()
    assert info["active"] is True, info


def test_introspection_without_client_auth_is_invalid_client(tessera, client):
    token = fetch_admin_token(tessera, session_for(client))
    answer = requests.post(
        tessera.introspect_url, data={"token": token["access_token"]}, timeout=HTTP_TIMEOUT_SECONDS
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client", answer.text
    assert answer.headers.get("WWW-Authenticate"), answer.headers


# ----- discovery -----


def discovery(tessera):
    response = requests.get(
        tessera.url("/.well-known/oauth-authorization-server"), timeout=HTTP_TIMEOUT_SECONDS
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return response.json()


def test_metadata_document_describes_the_server(tessera):
    doc = discovery(tessera)
    metadata = AuthorizationServerMetadata(doc)
    # Authlib's own RFC 8414 checks (those that do not insist on https).
    metadata.validate_scopes_supported()
    metadata.validate_grant_types_supported()
    metadata.validate_token_endpoint_auth_methods_supported()
    metadata.validate_revocation_endpoint_auth_methods_supported()
    metadata.validate_introspection_endpoint_auth_methods_supported()

    issuer = urlsplit(doc["issuer"])
    assert issuer.scheme in ("http", "https") and issuer.netloc, doc["issuer"]
    assert not issuer.query and not issuer.fragment, doc["issuer"]
    for key, path in [
        ("token_endpoint", "/oauth/token"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
    ]:
        url = urlsplit(doc[key])
        assert url.scheme in ("http", "https") and url.netloc, (key, doc[key])
        assert url.path == path, (key, doc[key])

    assert {"password", "client_credentials", "refresh_token"} <= set(
        doc["grant_types_supported"]
    ), doc
    assert {"client_secret_basic", "client_secret_post"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    ), doc
    assert {"read", "write"} <= set(doc["scopes_supported"]), doc


def test_metadata_issuer_is_where_the_document_was_found(tessera):
    """RFC 8414 §3.3: the issuer MUST be identical to the one the well-known URL was built from."""
    assert discovery(tessera)["issuer"].rstrip("/") == tessera.base_url


def test_metadata_lists_response_types_as_rfc8414_requires(tessera):
    """RFC 8414 §2: response_types_supported is REQUIRED (an empty list is fine without an
    authorization endpoint)."""
    doc = discovery(tessera)
    assert isinstance(doc.get("response_types_supported"), list), doc


def test_discovered_token_endpoint_works_with_authlib(tessera, client):
    doc = discovery(tessera)
    session = session_for(client, token_endpoint=doc["token_endpoint"])
    token = session.fetch_token(grant_type="client_credentials")
    tessera.remember_token(token)
    assert whoami_status(tessera, token["access_token"]) == 200
