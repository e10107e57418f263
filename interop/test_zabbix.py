"""tessera's Zabbix JSON-RPC door (`POST /api_jsonrpc.php`) against the real Zabbix client
libraries: zabbix_utils (Zabbix SIA's own) and pyzabbix.

The session's server reports Zabbix 6.0.0, so both libraries put the session id or API token
in the body's `auth` field. A second server, started here, reports 6.4.0: from that version on
both libraries send `Authorization: Bearer` instead, and tessera, like Zabbix 6.4, reads it.

Every session id and API token secret a test sees is remembered, so that the log check at the
end of the session also looks for them, in both servers' output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest
import requests
from packaging.version import Version
from pyzabbix import ZabbixAPI as PyZabbixAPI
from pyzabbix import ZabbixAPIException
from zabbix_utils import APIRequestError, ZabbixAPI

from conftest import (
    ADMIN_USERNAME,
    FAST_HASHING,
    HTTP_TIMEOUT_SECONDS,
    Tessera,
    _stop,
    _wait_until_ready,
    free_port,
    new_secret,
    tessera_bin,
    unique,
)

# The seconds a `user.login` session of the 6.4 server may go unused (its auto-logout).
IDLE_TIMEOUT_SECONDS = 3

TOKEN_FIELDS = [
    "tokenid",
    "name",
    "description",
    "userid",
    "lastaccess",
    "status",
    "expires_at",
    "created_at",
    "creator_userid",
]

SESSION_ID = re.compile(r"[0-9a-f]{32}")
TOKEN_SECRET = re.compile(r"[0-9a-f]{64}")

WRONG_CREDENTIALS = "Incorrect user name or password or account is temporarily blocked."
NOT_AUTHORIZED = "Not authorized."
SESSION_TERMINATED = "Session terminated, re-login, please."


# ----- the servers -----


@pytest.fixture(scope="module")
def zabbix60(tessera) -> Tessera:
    """The session's server, which reports the default Zabbix version, 6.0.0."""
    return tessera


@pytest.fixture(scope="module")
def zabbix64(tessera, tmp_path_factory) -> Tessera:
    """A second server of its own (port, database) that reports Zabbix 6.4.0, with a short
    auto-logout. Its output is checked for this session's secrets like the first one's."""
    binary = tessera_bin()
    workdir = tmp_path_factory.mktemp("tessera-zabbix64")
    database_url = f"sqlite://{workdir / 'tessera.db'}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    admin_password = new_secret()
    tessera.remember(admin_password)

    env = {**os.environ, **FAST_HASHING}
    env.setdefault("TESSERA_LOG_LEVEL", "debug")
    env.setdefault("RUST_BACKTRACE", "1")
    server_env = {
        **env,
        "TESSERA_BOOTSTRAP_ADMIN_PASSWORD": admin_password,
        "TESSERA_ZABBIX_VERSION": "6.4.0",
        "TESSERA_ZABBIX_SESSION_IDLE_TIMEOUT": str(IDLE_TIMEOUT_SECONDS),
    }
    stdout_path = workdir / "server.stdout.log"
    stderr_path = workdir / "server.stderr.log"
    tessera.watch_log(stderr_path, stdout_path)
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--database", database_url],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=server_env,
        )
    try:
        _wait_until_ready(process, base_url, stderr_path)
        yield Tessera(
            binary=binary,
            base_url=base_url,
            database_url=database_url,
            admin_password=admin_password,
            env=env,
            log_paths=[stderr_path, stdout_path],
            # One list for both servers: the session's log check reads them all.
            secrets=tessera.secrets,
        )
    finally:
        _stop(process)


def api_url(server: Tessera) -> str:
    return server.url("/api_jsonrpc.php")


# ----- what the libraries send -----


class Wire:
    """The requests zabbix_utils sends (through urllib) and the answers it gets."""

    def __init__(self):
        self.exchanges: list[dict] = []

    def last(self, method: str) -> dict:
        for exchange in reversed(self.exchanges):
            if exchange["body"].get("method") == method:
                return exchange
        raise AssertionError(f"zabbix_utils sent no {method} request: {self.exchanges!r}")


class _Recorded:
    def __init__(self, data: bytes):
        self._data = data

    def read(self) -> bytes:
        return self._data


@pytest.fixture
def wire(monkeypatch) -> Wire:
    recorded = Wire()
    real_urlopen = urllib.request.urlopen

    def urlopen(request, *args, **kwargs):
        with real_urlopen(request, *args, **kwargs) as response:
            data = response.read()
        recorded.exchanges.append(
            {
                "headers": {k.lower(): v for k, v in request.header_items()},
                "body": json.loads(request.data),
                "answer": json.loads(data),
            }
        )
        return _Recorded(data)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return recorded


def raw_call(server: Tessera, method: str, params, *, auth=None, bearer=None) -> dict:
    """One JSON-RPC request by hand, for what the libraries will not send."""
    body = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    if auth is not None:
        body["auth"] = auth
    headers = {"Content-Type": "application/json-rpc"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    response = requests.post(
        api_url(server), json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(answer: dict, code: int, message: str, data: str) -> None:
    assert "result" not in answer, answer
    assert answer["error"] == {"code": code, "message": message, "data": data}, answer


# ----- zabbix_utils helpers -----


def session_id(api: ZabbixAPI) -> str:
    """The session id (or token) zabbix_utils keeps in its private attribute."""
    return api._ZabbixAPI__session_id


def utils_login(server: Tessera, password: str | None = None) -> ZabbixAPI:
    api = ZabbixAPI(url=api_url(server), timeout=int(HTTP_TIMEOUT_SECONDS))
    api.login(user=ADMIN_USERNAME, password=password or server.admin_password)
    sid = session_id(api)
    server.remember(sid)
    assert isinstance(sid, str) and SESSION_ID.fullmatch(sid), sid
    return api


def new_token(api, server: Tessera, **fields) -> tuple[str, str]:
    """token.create then token.generate, by either library; returns (tokenid, secret)."""
    created = api.token.create(name=unique("zbx-token"), **fields)
    assert isinstance(created, dict) and list(created) == ["tokenids"], created
    (token_id,) = created["tokenids"]
    assert isinstance(token_id, str) and token_id.isdigit(), created
    generated = api.token.generate(token_id)
    assert isinstance(generated, list) and len(generated) == 1, generated
    assert generated[0]["tokenid"] == token_id, generated
    secret = generated[0]["token"]
    server.remember(secret)
    assert isinstance(secret, str) and TOKEN_SECRET.fullmatch(secret), generated
    return token_id, secret


def admin_row(users: list) -> dict:
    rows = [u for u in users if u.get("username") == ADMIN_USERNAME]
    assert len(rows) == 1, users
    return rows[0]


# ----- 1. zabbix_utils against Zabbix 6.0 (the body's `auth`) -----


def test_zabbix_utils_reads_version_6_0_and_puts_the_session_id_in_the_body(zabbix60, wire):
    api = ZabbixAPI(url=api_url(zabbix60), timeout=int(HTTP_TIMEOUT_SECONDS))
    assert str(api.version) == "6.0.0"
    assert api.version == 6.0 and api.version.is_lts()
    api.login(user=ADMIN_USERNAME, password=zabbix60.admin_password)
    sid = session_id(api)
    zabbix60.remember(sid)

    login = wire.last("user.login")
    assert login["answer"]["result"] == sid and SESSION_ID.fullmatch(sid), login["answer"]
    assert "auth" not in login["body"] and "authorization" not in login["headers"]

    users = api.user.get(output=["userid", "username"])
    call = wire.last("user.get")
    assert call["body"]["auth"] == sid
    assert "authorization" not in call["headers"], call["headers"]
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME}
    assert api.check_auth() is True
    api.logout()


def test_zabbix_utils_creates_reads_updates_and_generates_an_api_token(zabbix60):
    api = utils_login(zabbix60)
    before = int(time.time())
    name = unique("zbx-utils")
    created = api.token.create(name=name, description="made by zabbix_utils")
    (token_id,) = created["tokenids"]
    assert token_id.isdigit(), created

    (token,) = api.token.get(output="extend", tokenids=token_id)
    assert list(token) == TOKEN_FIELDS, token
    assert all(isinstance(value, str) for value in token.values()), token
    assert token["tokenid"] == token_id
    assert token["name"] == name
    assert token["description"] == "made by zabbix_utils"
    assert token["userid"] == "1" and token["creator_userid"] == "1"
    assert token["status"] == "0" and token["expires_at"] == "0" and token["lastaccess"] == "0"
    assert before - 60 <= int(token["created_at"]) <= time.time() + 60, token

    expires_at = int(time.time()) + 3600
    updated = api.token.update(
        tokenid=token_id, description="changed", expires_at=str(expires_at)
    )
    assert updated == {"tokenids": [token_id]}
    (token,) = api.token.get(
        output=["name", "description", "expires_at"], tokenids=[token_id]
    )
    assert token == {
        "name": name,
        "description": "changed",
        "expires_at": str(expires_at),
    }

    generated = api.token.generate([token_id])
    assert [sorted(g) for g in generated] == [["token", "tokenid"]], generated
    assert generated[0]["tokenid"] == token_id
    secret = generated[0]["token"]
    zabbix60.remember(secret)
    assert TOKEN_SECRET.fullmatch(secret), generated
    # token.get finds a token by its secret, and never shows the secret.
    (found,) = api.token.get(output="extend", token=secret)
    assert found["tokenid"] == token_id and secret not in found.values(), found

    # A second generate replaces the secret.
    (again,) = api.token.generate([token_id])
    zabbix60.remember(again["token"])
    assert again["token"] != secret
    assert api.token.get(output=["tokenid"], token=secret) == []
    api.logout()


def test_zabbix_utils_logout_ends_the_session_id(zabbix60):
    api = utils_login(zabbix60)
    sid = session_id(api)
    assert raw_call(zabbix60, "user.get", {"output": ["userid"]}, auth=sid)["result"]
    api.logout()
    assert session_id(api) is None
    answer = raw_call(zabbix60, "user.get", {"output": ["userid"]}, auth=sid)
    assert_error(answer, -32602, "Invalid params.", SESSION_TERMINATED)


def test_zabbix_utils_signs_in_with_a_generated_api_token(zabbix60):
    admin = utils_login(zabbix60)
    token_id, secret = new_token(admin, zabbix60)
    admin.logout()

    api = ZabbixAPI(url=api_url(zabbix60), token=secret, timeout=int(HTTP_TIMEOUT_SECONDS))
    users = api.user.get(output=["userid", "username"])
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME}
    assert api.check_auth() is True
    (token,) = api.token.get(output=["lastaccess", "status"], tokenids=token_id)
    assert token["status"] == "0"
    assert int(token["lastaccess"]) >= int(time.time()) - 60, token
    api.logout()  # for a token, zabbix_utils only forgets it
    # The token itself stays valid: logging out never ends an API token.
    assert raw_call(zabbix60, "user.get", {"output": ["userid"]}, auth=secret)["result"]


def test_zabbix_utils_is_refused_a_disabled_token_until_it_is_enabled_again(zabbix60):
    admin = utils_login(zabbix60)
    token_id, secret = new_token(admin, zabbix60)
    api = ZabbixAPI(url=api_url(zabbix60), token=secret, timeout=int(HTTP_TIMEOUT_SECONDS))
    assert api.user.get(output=["userid"])

    assert admin.token.update(tokenid=token_id, status="1") == {"tokenids": [token_id]}
    (token,) = admin.token.get(output=["status"], tokenids=token_id)
    assert token == {"status": "1"}
    with pytest.raises(APIRequestError) as refused:
        api.user.get(output=["userid"])
    assert refused.value.code == -32602
    assert refused.value.message == "Invalid params."
    assert refused.value.data == NOT_AUTHORIZED
    # zabbix_utils' check_auth() asks user.checkAuthentication, which refuses it too.
    with pytest.raises(APIRequestError) as check:
        api.check_auth()
    assert check.value.data == NOT_AUTHORIZED

    admin.token.update(tokenid=token_id, status=0)
    assert api.user.get(output=["userid"])
    admin.logout()


def test_zabbix_utils_is_refused_an_expired_token(zabbix60):
    admin = utils_login(zabbix60)
    # Zabbix takes an expiry in the past; such a token is refused as expired.
    _, secret = new_token(admin, zabbix60, expires_at=str(int(time.time()) - 3600))
    admin.logout()
    api = ZabbixAPI(url=api_url(zabbix60), token=secret, timeout=int(HTTP_TIMEOUT_SECONDS))
    with pytest.raises(APIRequestError) as refused:
        api.user.get(output=["userid"])
    assert refused.value.code == -32500
    assert refused.value.message == "Application error."
    assert refused.value.data == "API token expired."


def test_zabbix_utils_deletes_a_token_which_then_stops_working(zabbix60):
    admin = utils_login(zabbix60)
    token_id, secret = new_token(admin, zabbix60)
    api = ZabbixAPI(url=api_url(zabbix60), token=secret, timeout=int(HTTP_TIMEOUT_SECONDS))
    assert api.user.get(output=["userid"])

    assert admin.token.delete(token_id) == {"tokenids": [token_id]}
    assert admin.token.get(output="extend", tokenids=token_id) == []
    with pytest.raises(APIRequestError) as refused:
        api.user.get(output=["userid"])
    assert refused.value.code == -32602 and refused.value.data == NOT_AUTHORIZED
    # Deleting it again: it does not exist any more.
    with pytest.raises(APIRequestError) as gone:
        admin.token.delete([token_id])
    assert gone.value.code == -32500
    assert gone.value.data == "No permissions to referred object or it does not exist!"
    admin.logout()


def test_zabbix_6_0_ignores_an_authorization_bearer_header(zabbix60):
    admin = utils_login(zabbix60)
    _, secret = new_token(admin, zabbix60)
    sid = session_id(admin)
    for credential in (sid, secret):
        answer = raw_call(zabbix60, "user.get", {"output": ["userid"]}, bearer=credential)
        assert_error(answer, -32602, "Invalid params.", NOT_AUTHORIZED)
        assert raw_call(zabbix60, "user.get", {"output": ["userid"]}, auth=credential)["result"]
    admin.logout()


# ----- 2. zabbix_utils against Zabbix 6.4 (`Authorization: Bearer`) -----


def test_zabbix_utils_on_6_4_sends_the_session_id_as_a_bearer_header(zabbix64, wire):
    api = ZabbixAPI(url=api_url(zabbix64), timeout=int(HTTP_TIMEOUT_SECONDS))
    assert str(api.version) == "6.4.0" and api.version == 6.4
    api.login(user=ADMIN_USERNAME, password=zabbix64.admin_password)
    sid = session_id(api)
    zabbix64.remember(sid)
    assert SESSION_ID.fullmatch(sid), sid
    login = wire.last("user.login")
    assert login["answer"]["result"] == sid
    assert "auth" not in login["body"] and "authorization" not in login["headers"]

    users = api.user.get(output=["userid", "username"])
    call = wire.last("user.get")
    assert "auth" not in call["body"], call["body"]
    assert call["headers"]["authorization"] == f"Bearer {sid}"
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME}
    assert api.check_auth() is True

    # The header is what signed the call in: without it, the same body is refused.
    answer = raw_call(zabbix64, "user.get", {"output": ["userid"]})
    assert_error(answer, -32602, "Invalid params.", NOT_AUTHORIZED)
    # 6.4 still reads the body's `auth`, as Zabbix 6.4 does.
    assert raw_call(zabbix64, "user.get", {"output": ["userid"]}, auth=sid)["result"]

    api.logout()
    logout = wire.last("user.logout")
    assert "auth" not in logout["body"] and logout["headers"]["authorization"] == f"Bearer {sid}"
    assert logout["answer"]["result"] is True
    answer = raw_call(zabbix64, "user.get", {"output": ["userid"]}, bearer=sid)
    assert_error(answer, -32602, "Invalid params.", SESSION_TERMINATED)


def test_zabbix_utils_on_6_4_signs_in_with_an_api_token_as_a_bearer_header(zabbix64, wire):
    admin = utils_login(zabbix64)
    token_id, secret = new_token(admin, zabbix64)
    create = wire.last("token.create")
    assert "auth" not in create["body"]
    assert create["headers"]["authorization"] == f"Bearer {session_id(admin)}"
    admin.logout()

    api = ZabbixAPI(url=api_url(zabbix64), token=secret, timeout=int(HTTP_TIMEOUT_SECONDS))
    users = api.user.get(output=["userid", "username"])
    call = wire.last("user.get")
    assert "auth" not in call["body"], call["body"]
    assert call["headers"]["authorization"] == f"Bearer {secret}"
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME}
    (token,) = api.token.get(output="extend", tokenids=token_id)
    assert list(token) == TOKEN_FIELDS and all(isinstance(v, str) for v in token.values())
    assert api.check_auth() is True
    check = wire.last("user.checkAuthentication")
    assert check["body"]["params"] == {"token": secret}
    assert "authorization" not in check["headers"] and "auth" not in check["body"]

    answer = raw_call(zabbix64, "user.get", {"output": ["userid"]})
    assert_error(answer, -32602, "Invalid params.", NOT_AUTHORIZED)
    api.logout()


def test_zabbix_6_4_session_ends_after_the_idle_timeout(zabbix64):
    api = utils_login(zabbix64)
    assert api.user.get(output=["userid"])
    # Use resets the clock: a call within the timeout keeps the session alive.
    time.sleep(IDLE_TIMEOUT_SECONDS / 2)
    assert api.user.get(output=["userid"])
    time.sleep(IDLE_TIMEOUT_SECONDS + 1.5)
    with pytest.raises(APIRequestError) as ended:
        api.user.get(output=["userid"])
    assert ended.value.code == -32602 and ended.value.data == SESSION_TERMINATED


def test_pyzabbix_on_6_4_sends_a_bearer_header(zabbix64):
    sent = []
    zapi = PyZabbixAPI(api_url(zabbix64), timeout=HTTP_TIMEOUT_SECONDS)
    zapi.session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    zapi.login(ADMIN_USERNAME, zabbix64.admin_password)
    zabbix64.remember(zapi.auth)
    assert zapi.version == Version("6.4.0")
    users = zapi.user.get(output=["userid", "username"])
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME}
    request = sent[-1]
    assert request.headers["Authorization"] == f"Bearer {zapi.auth}"
    assert "auth" not in json.loads(request.body)
    zapi.user.logout()


# ----- 3. pyzabbix against Zabbix 6.0 -----


def pyzabbix_login(server: Tessera) -> PyZabbixAPI:
    zapi = PyZabbixAPI(api_url(server), timeout=HTTP_TIMEOUT_SECONDS)
    zapi.login(ADMIN_USERNAME, server.admin_password)
    server.remember(zapi.auth)
    assert SESSION_ID.fullmatch(zapi.auth), zapi.auth
    return zapi


def test_pyzabbix_logs_in_and_reads_users_and_tokens(zabbix60):
    sent = []
    zapi = PyZabbixAPI(api_url(zabbix60), timeout=HTTP_TIMEOUT_SECONDS)
    zapi.session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    assert zapi.api_version() == "6.0.0"
    zapi.login(user=ADMIN_USERNAME, password=zabbix60.admin_password)
    zabbix60.remember(zapi.auth)
    assert zapi.version == Version("6.0.0")
    assert SESSION_ID.fullmatch(zapi.auth), zapi.auth

    users = zapi.user.get(output=["userid", "username", "roleid"])
    assert admin_row(users) == {"userid": "1", "username": ADMIN_USERNAME, "roleid": "3"}
    body = json.loads(sent[-1].body)
    assert body["auth"] == zapi.auth and "Authorization" not in sent[-1].headers

    token_id, secret = new_token(zapi, zabbix60, description="made by pyzabbix")
    tokens = zapi.token.get(userids="1", output="extend", preservekeys=True)
    assert isinstance(tokens, dict) and token_id in tokens, tokens
    assert tokens[token_id]["description"] == "made by pyzabbix"
    assert all(isinstance(v, str) for v in tokens[token_id].values())
    count = zapi.token.get(tokenids=[token_id], countOutput=True)
    assert count == "1"

    checked = zapi.check_authentication()
    assert checked["userid"] == "1" and checked["sessionid"] == zapi.auth, checked
    assert zapi.is_authenticated

    by_token = PyZabbixAPI(api_url(zabbix60), timeout=HTTP_TIMEOUT_SECONDS)
    by_token.login(api_token=secret)
    assert admin_row(by_token.user.get(output=["userid", "username"]))["userid"] == "1"

    assert zapi.user.logout() is True
    assert not zapi.is_authenticated
    with pytest.raises(ZabbixAPIException) as ended:
        zapi.user.get(output=["userid"])
    assert ended.value.error["data"] == SESSION_TERMINATED


def test_pyzabbix_wrong_password_raises_with_zabbix_message(zabbix60):
    wrong = new_secret()
    zabbix60.remember(wrong)
    for username in (ADMIN_USERNAME, unique("nobody")):
        zapi = PyZabbixAPI(api_url(zabbix60), timeout=HTTP_TIMEOUT_SECONDS)
        with pytest.raises(ZabbixAPIException) as refused:
            zapi.login(username, wrong)
        error = refused.value.error
        assert error == {
            "code": -32500,
            "message": "Application error.",
            "data": WRONG_CREDENTIALS,
        }, error
        assert refused.value.args == (
            f"Error -32500: Application error., {WRONG_CREDENTIALS}",
            -32500,
        )
        assert zapi.auth == ""


# ----- 4. errors as each library's exception -----


def test_zabbix_utils_raises_zabbix_errors_as_api_request_error(zabbix60):
    api = utils_login(zabbix60)
    with pytest.raises(APIRequestError) as empty:
        api.token.create(name="")
    assert empty.value.code == -32602
    assert empty.value.message == "Invalid params."
    assert empty.value.data == 'Invalid parameter "/1/name": cannot be empty.'
    assert str(empty.value) == 'Invalid params. Invalid parameter "/1/name": cannot be empty.'

    name = unique("zbx-dup")
    api.token.create(name=name)
    with pytest.raises(APIRequestError) as duplicate:
        api.token.create(name=name)
    assert duplicate.value.code == -32602
    assert duplicate.value.data == f'API token "{name}" already exists for userid "1".'

    with pytest.raises(APIRequestError) as unknown:
        api.nosuchapi.get()
    assert unknown.value.code == -32601
    assert unknown.value.message == "Method not found."
    assert unknown.value.data == 'Incorrect API "nosuchapi".'

    with pytest.raises(APIRequestError) as output:
        api.token.get(output=["secret"])
    assert output.value.code == -32602
    assert output.value.data.startswith('Invalid parameter "/output/1": value must be one of ')

    wrong_password = new_secret()
    zabbix60.remember(wrong_password)
    with pytest.raises(APIRequestError) as wrong:
        ZabbixAPI(url=api_url(zabbix60), timeout=int(HTTP_TIMEOUT_SECONDS)).login(
            user=ADMIN_USERNAME, password=wrong_password
        )
    assert wrong.value.code == -32500 and wrong.value.data == WRONG_CREDENTIALS
    api.logout()


def test_pyzabbix_raises_zabbix_errors_as_zabbix_api_exception(zabbix60):
    zapi = pyzabbix_login(zabbix60)
    with pytest.raises(ZabbixAPIException) as empty:
        zapi.token.create(name="")
    assert empty.value.args == (
        'Error -32602: Invalid params., Invalid parameter "/1/name": cannot be empty.',
        -32602,
    )
    with pytest.raises(ZabbixAPIException) as missing:
        zapi.token.update(name="no id")
    assert missing.value.error["code"] == -32602
    assert missing.value.error["data"] == (
        'Invalid parameter "/1": the parameter "tokenid" is missing.'
    )
    with pytest.raises(ZabbixAPIException) as unknown:
        zapi.token.nosuchmethod()
    assert unknown.value.error == {
        "code": -32601,
        "message": "Method not found.",
        "data": 'Incorrect method "token.nosuchmethod".',
    }
    zapi.user.logout()
