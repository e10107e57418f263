#!/usr/bin/env python3
"""Record Zabbix 6.0 JSON-RPC request/response pairs as fixtures for tessera.

Plays ordered TRANSCRIPTS (below) against the Zabbix 6.0 oracle that setup.sh
runs on 127.0.0.1:8180, and writes one fixture per transcript to
tests/fixtures/zabbix/NN_name.json.  Before each transcript the oracle's
database is put back to Zabbix's fresh-install state with
`setup.sh --restore` (so every transcript starts with only Admin and guest);
this needs root on the machine that runs the oracle.  Pass --no-restore to
skip that (then you must run `setup.sh --restore` yourself before EACH
transcript, e.g. by recording one transcript at a time with --only).

    tools/zabbix-oracle/setup.sh --reset        # once: install, load, start
    tools/zabbix-oracle/record.py               # record all transcripts
    tools/zabbix-oracle/record.py --only 09     # record one transcript
    tools/zabbix-oracle/record.py --verify      # replay the fixtures against the
                                                # oracle and check they match

The fixture format, the placeholder and capture rules are documented in
tools/zabbix-oracle/README.md; --verify is a reference replayer for them.

Only the standard library and `requests` are used.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "zabbix")
DEFAULT_URL = "http://127.0.0.1:8180"
DEFAULT_PATH = "/api_jsonrpc.php"
DEFAULT_CONTENT_TYPE = "application/json-rpc"

FAR = 1893456000      # 2030-01-01T00:00:00Z: a fixed far-future expires_at
FARTHER = 2000000000  # 2033-05-18T03:33:20Z
PAST = 1000000000     # 2001-09-09T01:46:40Z: a fixed expires_at in the past
MID = 1800000000      # 2027-01-15T08:00:00Z: a fixed point for valid_at / expired_at
ALICE_PW = "Looking-Glass-1"
ALICE_PW2 = "Looking-Glass-2"
BOB_PW = "Can-We-Fix-It-1"

PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TYPE_PATTERNS = {
    "<id>": re.compile(r"^[0-9]+$"),
    "<hex32>": re.compile(r"^[0-9a-f]{32}$"),
    "<hex64>": re.compile(r"^[0-9a-f]{64}$"),
    "<timestamp>": re.compile(r"^[0-9]+$"),
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP_KEYS = ("created_at", "lastaccess", "attempt_clock")


# --------------------------------------------------------------------------- step builders

def step(comment, method=None, params=None, auth=None, **kw):
    """A JSON-RPC call.  kw: id, request (whole body), raw_body, headers, path,
    http_method, capture, text_vars, delay_ms, no_auth_key."""
    s = {"comment": comment}
    if method is not None:
        s["method"] = method
        s["params"] = {} if params is None else params
        s["auth"] = auth
    s.update(kw)
    return s


def login(var="admin_session", username="Admin", password="zabbix"):
    return step("log in as %s" % username, "user.login",
                {"username": username, "password": password}, capture={var: "result"})


def create_alice(var="alice_id", admin="${admin_session}"):
    return step("create a plain user alice (roleid 1 = User role, group 7 = Zabbix administrators)",
                "user.create",
                {"username": "alice", "passwd": ALICE_PW, "roleid": "1",
                 "usrgrps": [{"usrgrpid": "7"}]},
                admin, capture={var: "result.userids[0]"})


A = "${admin_session}"


# --------------------------------------------------------------------------- transcripts

def t_apiinfo():
    return [
        step("apiinfo.version needs no auth", "apiinfo.version", {}),
        step("params may be an empty array too", "apiinfo.version", []),
        step("the same API at Debian's /zabbix/ alias", "apiinfo.version", {},
             path="/zabbix/api_jsonrpc.php"),
        step("method names are case-insensitive", "APIInfo.Version", {}),
        step("a string id is echoed as a string", "apiinfo.version", {}, id="abc"),
        step("a null id is echoed as null", "apiinfo.version", {}, id=None),
        login(),
        step("apiinfo.version with a valid session in auth: refused", "apiinfo.version", {}, A),
        step("apiinfo.version with a bogus auth: the same refusal (checked before auth)",
             "apiinfo.version", {}, "not-a-session"),
        step("apiinfo.version with auth null counts as no auth", "apiinfo.version", {},
             request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "auth": None, "id": 1}),
        step("apiinfo.version with an empty auth string", "apiinfo.version", {},
             request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "auth": "", "id": 1}),
        step("apiinfo.version with a Bearer header only (the header is not read by 6.0)",
             "apiinfo.version", {}, headers={"Authorization": "Bearer ${admin_session}"}),
        step("apiinfo.version with a parameter: it takes none", "apiinfo.version", {"foo": "bar"}),
        step("apiinfo.version (unknown method of a known API)", "apiinfo.get", {}),
    ]


def t_user_login():
    return [
        step("log in with username/password: the result is a 32-hex session id", "user.login",
             {"username": "Admin", "password": "zabbix"}, capture={"admin_session": "result"}),
        step("log in with the deprecated 'user' parameter: still accepted by 6.0", "user.login",
             {"user": "Admin", "password": "zabbix"}, capture={"admin_session2": "result"}),
        step("both 'user' and 'username': refused", "user.login",
             {"user": "Admin", "username": "Admin", "password": "zabbix"}),
        step("userData=true: the user object with a sessionid", "user.login",
             {"username": "Admin", "password": "zabbix", "userData": True},
             capture={"admin_session3": "result.sessionid"}),
        step("the session from userData works", "user.get",
             {"output": ["userid", "username"], "userids": "1"}, "${admin_session3}"),
        step("the first session still works (sessions are independent)", "user.get",
             {"output": ["userid", "username"], "userids": "1"}, A),
        step("userData=false: a plain session id", "user.login",
             {"username": "Admin", "password": "zabbix", "userData": False}),
        step("wrong password", "user.login", {"username": "Admin", "password": "wrong"}),
        step("login after a failed attempt, with userData: attempt_failed shows the failure", "user.login",
             {"username": "Admin", "password": "zabbix", "userData": True}),
        step("login again with userData: the counter has been reset", "user.login",
             {"username": "Admin", "password": "zabbix", "userData": True}),
        step("unknown user name", "user.login", {"username": "nobody", "password": "zabbix"}),
        step("user names are case-sensitive", "user.login", {"username": "admin", "password": "zabbix"}),
        step("missing password", "user.login", {"username": "Admin"}),
        step("missing username", "user.login", {"password": "zabbix"}),
        step("empty password", "user.login", {"username": "Admin", "password": ""}),
        step("password is not a string", "user.login", {"username": "Admin", "password": 12345}),
        step("an unexpected parameter", "user.login",
             {"username": "Admin", "password": "zabbix", "remember": 1}),
        step("user.login with an auth field: refused", "user.login",
             {"username": "Admin", "password": "zabbix"}, A),
        step("the guest user (empty password, guest group)", "user.login",
             {"username": "guest", "password": ""}),
    ]


def t_user_session():
    return [
        login(),
        step("checkAuthentication by session id: the user object with the sessionid",
             "user.checkAuthentication", {"sessionid": A}),
        step("checkAuthentication with extend=false", "user.checkAuthentication",
             {"sessionid": A, "extend": False}),
        step("checkAuthentication of an unknown session id", "user.checkAuthentication",
             {"sessionid": "0123456789abcdef0123456789abcdef"}),
        step("checkAuthentication with neither sessionid nor token", "user.checkAuthentication", {}),
        step("checkAuthentication with an unexpected parameter", "user.checkAuthentication",
             {"sessionid": A, "foo": 1}),
        step("checkAuthentication with an auth field: refused (it needs no auth)",
             "user.checkAuthentication", {"sessionid": A}, A),
        step("an unknown 32-hex session id in auth", "token.get", {},
             "0123456789abcdef0123456789abcdef"),
        step("no auth at all on a method that needs it", "token.get", {}),
        step("a session id in a Bearer header only (6.0 reads only the auth field)", "token.get", {},
             headers={"Authorization": "Bearer ${admin_session}"}),
        step("user.logout with an unexpected parameter", "user.logout", {"foo": 1}, A),
        step("user.logout", "user.logout", [], A),
        step("user.logout again with the same session", "user.logout", [], A),
        step("checkAuthentication after logout", "user.checkAuthentication", {"sessionid": A}),
        step("a call with the logged-out session", "token.get", {}, A),
        login("admin_session2"),
        step("user.logout with params {} works too", "user.logout", {}, "${admin_session2}"),
    ]


def t_user_crud():
    return [
        login(),
        step("the user groups of a fresh install", "usergroup.get",
             {"output": ["usrgrpid", "name", "gui_access", "users_status"], "sortfield": "usrgrpid"}, A),
        step("the user roles of a fresh install", "role.get",
             {"output": ["roleid", "name", "type"], "sortfield": "roleid"}, A),
        step("the users of a fresh install", "user.get",
             {"output": ["userid", "username", "name", "surname", "roleid"], "sortfield": "userid"}, A),
        create_alice(),
        step("create bob (roleid 2 = Admin role, group 8 = Guests)", "user.create",
             {"username": "bob", "passwd": BOB_PW, "roleid": "2", "usrgrps": [{"usrgrpid": "8"}],
              "name": "Bob", "surname": "Builder"}, A, capture={"bob_id": "result.userids[0]"}),
        step("a duplicate username", "user.create",
             {"username": "alice", "passwd": ALICE_PW, "roleid": "1", "usrgrps": [{"usrgrpid": "7"}]}, A),
        step("a password shorter than the default minimum of 8", "user.create",
             {"username": "carol", "passwd": "short", "roleid": "1", "usrgrps": [{"usrgrpid": "7"}]}, A),
        step("no user group", "user.create",
             {"username": "carol", "passwd": "Rabbit-Hole-77", "roleid": "1"}, A),
        step("an unknown role", "user.create",
             {"username": "carol", "passwd": "Rabbit-Hole-77", "roleid": "99",
              "usrgrps": [{"usrgrpid": "7"}]}, A),
        step("an unknown user group", "user.create",
             {"username": "carol", "passwd": "Rabbit-Hole-77", "roleid": "1",
              "usrgrps": [{"usrgrpid": "99"}]}, A),
        step("no username", "user.create",
             {"passwd": "Rabbit-Hole-77", "roleid": "1", "usrgrps": [{"usrgrpid": "7"}]}, A),
        step("user.get output extend, filter by username", "user.get",
             {"output": "extend", "filter": {"username": "alice"}}, A),
        step("user.get with a field list, sorted", "user.get",
             {"output": ["userid", "username", "name", "surname", "roleid"], "sortfield": "username"}, A),
        step("user.get by userids", "user.get",
             {"output": ["username", "roleid"], "userids": "${alice_id}"}, A),
        step("user.get countOutput", "user.get", {"countOutput": True}, A),
        step("user.get search by username", "user.get",
             {"output": ["username"], "search": {"username": "ob"}}, A),
        step("user.get filter by passwd: refused", "user.get",
             {"output": ["username"], "filter": {"passwd": "x"}}, A),
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice (User role) sees herself only", "user.get",
             {"output": ["userid", "username", "roleid"], "sortfield": "userid"}, "${alice_session}"),
        step("a User-role user may not create users", "user.create",
             {"username": "carol", "passwd": "Rabbit-Hole-77", "roleid": "1",
              "usrgrps": [{"usrgrpid": "7"}]}, "${alice_session}"),
        step("change alice's password (user.update passwd)", "user.update",
             {"userid": "${alice_id}", "passwd": ALICE_PW2}, A),
        step("alice's old session is still valid after the password change", "user.get",
             {"output": ["username"], "userids": "${alice_id}"}, "${alice_session}"),
        step("the old password no longer works", "user.login",
             {"username": "alice", "password": ALICE_PW}),
        step("the new password works", "user.login", {"username": "alice", "password": ALICE_PW2}),
        step("update name and surname", "user.update",
             {"userid": "${alice_id}", "name": "Alice", "surname": "Liddell"}, A),
        step("user.update of an unknown user", "user.update", {"userid": "99", "name": "X"}, A),
        step("rename alice to bob: duplicate", "user.update",
             {"userid": "${alice_id}", "username": "bob"}, A),
        step("user.get after the update", "user.get",
             {"output": ["userid", "username", "name", "surname"], "userids": ["${alice_id}"]}, A),
        step("delete bob", "user.delete", ["${bob_id}"], A),
        step("delete bob again", "user.delete", ["${bob_id}"], A),
        step("Admin may not delete himself", "user.delete", ["1"], A),
        step("the guest user cannot be deleted", "user.delete", ["2"], A),
        step("user.delete with an empty list", "user.delete", [], A),
        step("the users left", "user.get", {"output": ["userid", "username"], "sortfield": "userid"}, A),
        # lockout: login_attempts = 5, login_block = 30s in a fresh install
        step("wrong password for alice (1)", "user.login", {"username": "alice", "password": "wrong-1"}),
        step("wrong password for alice (2)", "user.login", {"username": "alice", "password": "wrong-2"}),
        step("wrong password for alice (3)", "user.login", {"username": "alice", "password": "wrong-3"}),
        step("wrong password for alice (4)", "user.login", {"username": "alice", "password": "wrong-4"}),
        step("wrong password for alice (5): now blocked", "user.login", {"username": "alice", "password": "wrong-5"}),
        step("the right password while blocked", "user.login", {"username": "alice", "password": ALICE_PW2}),
        step("alice's attempt counters", "user.get",
             {"output": ["username", "attempt_failed", "attempt_ip", "attempt_clock"], "userids": "${alice_id}"}, A),
        step("Admin unblocks alice", "user.unblock", ["${alice_id}"], A),
        step("the counters after user.unblock", "user.get",
             {"output": ["username", "attempt_failed", "attempt_ip", "attempt_clock"], "userids": "${alice_id}"}, A),
        step("alice can log in again", "user.login", {"username": "alice", "password": ALICE_PW2}),
    ]


def t_token_create():
    return [
        login(),
        step("token.create with one object: the ids of the new tokens", "token.create",
             {"name": "ci-deploy", "description": "CI deploy token", "status": 0, "expires_at": FAR},
             A, capture={"t1": "result.tokenids[0]"}),
        step("token.create with several objects at once", "token.create",
             [{"name": "backup"}, {"name": "monitoring", "status": 1, "expires_at": FARTHER,
                                   "description": "disabled until needed"}],
             A, capture={"t2": "result.tokenids[0]", "t3": "result.tokenids[1]"}),
        step("what was created (defaults: status 0, expires_at 0, description empty, userid = caller)",
             "token.get", {"output": "extend", "sortfield": "tokenid"}, A),
        step("an empty name", "token.create", {"name": ""}, A),
        step("an empty name in the second object", "token.create", [{"name": "ok-1"}, {"name": ""}], A),
        step("no name", "token.create", {"description": "nameless"}, A),
        step("a name of 64 characters (the column's length) is accepted", "token.create",
             {"name": "n" * 64}, A, capture={"t4": "result.tokenids[0]"}),
        step("a name of 65 characters", "token.create", {"name": "n" * 65}, A),
        step("a duplicate name for the same user", "token.create", {"name": "backup"}, A),
        step("a duplicate name within one call", "token.create", [{"name": "dup"}, {"name": "dup"}], A),
        step("status other than 0/1", "token.create", {"name": "bad-status", "status": 2}, A),
        step("status as a numeric string is accepted", "token.create", {"name": "status-string", "status": "1"},
             A, capture={"t5": "result.tokenids[0]"}),
        step("expires_at not an integer", "token.create", {"name": "bad-expiry", "expires_at": "soon"}, A),
        step("expires_at in the past is accepted", "token.create", {"name": "expired", "expires_at": PAST},
             A, capture={"t6": "result.tokenids[0]"}),
        step("expires_at beyond int32", "token.create", {"name": "too-far", "expires_at": 2147483648}, A),
        step("expires_at negative is accepted", "token.create", {"name": "negative", "expires_at": -1}, A,
             capture={"t_neg": "result.tokenids[0]"}),
        step("an unexpected field (token)", "token.create", {"name": "with-secret", "token": "x"}, A),
        step("an unexpected field (created_at)", "token.create", {"name": "with-created", "created_at": 1}, A),
        step("an empty array", "token.create", [], A),
        step("a non-ASCII name and description (JSON escapes as \\uXXXX)", "token.create",
             {"name": "ключ-ä", "description": "Grüße / 東京"}, A, capture={"t7": "result.tokenids[0]"}),
        step("read it back", "token.get", {"output": ["tokenid", "name", "description"], "tokenids": "${t7}"}, A),
        step("search is case-insensitive beyond ASCII too", "token.get",
             {"output": ["tokenid", "name"], "search": {"name": "КЛЮЧ-Ä"}}, A),
        create_alice(),
        step("Admin creates a token for alice", "token.create", {"name": "alice-by-admin", "userid": "${alice_id}"},
             A, capture={"t8": "result.tokenids[0]"}),
        step("the same name as one of Admin's tokens is fine for another user", "token.create",
             {"name": "backup", "userid": "${alice_id}"}, A, capture={"t9": "result.tokenids[0]"}),
        step("a duplicate name for alice", "token.create", {"name": "backup", "userid": "${alice_id}"}, A,
             text_vars=["alice_id"]),
        step("a duplicate (userid, name) pair within one call for alice", "token.create",
             [{"name": "pair", "userid": "${alice_id}"}, {"name": "pair", "userid": "${alice_id}"}], A,
             text_vars=["alice_id"]),
        step("a token for an unknown user", "token.create", {"name": "ghost", "userid": "9999"}, A),
        step("userid not an id", "token.create", {"name": "ghost", "userid": "abc"}, A),
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice creates her own token", "token.create", {"name": "alice-own", "expires_at": FAR},
             "${alice_session}", capture={"t10": "result.tokenids[0]"}),
        step("alice may name her own userid", "token.create", {"name": "alice-own-2", "userid": "${alice_id}"},
             "${alice_session}", capture={"t11": "result.tokenids[0]"}),
        step("alice may not create a token for Admin", "token.create", {"name": "for-admin", "userid": "1"},
             "${alice_session}"),
        step("alice's tokens: creator_userid shows who made each", "token.get",
             {"output": "extend", "sortfield": "tokenid"}, "${alice_session}"),
        step("all tokens as Admin", "token.get",
             {"output": ["tokenid", "name", "userid", "status", "expires_at", "creator_userid"],
              "sortfield": "tokenid"}, A),
    ]


def t_token_generate():
    return [
        login(),
        step("create two tokens", "token.create", [{"name": "gen-1", "expires_at": FAR}, {"name": "gen-2"}], A,
             capture={"t1": "result.tokenids[0]", "t2": "result.tokenids[1]"}),
        step("a token without a secret cannot be used yet: token.get shows no secret field", "token.get",
             {"output": "extend", "tokenids": "${t1}"}, A),
        step("token.generate: a 64-hex secret, returned once", "token.generate", ["${t1}"], A,
             capture={"s1": "result[0].token"}),
        step("the secret authenticates", "user.get", {"output": ["userid", "username"], "userids": "1"}, "${s1}"),
        step("token.generate again replaces the secret", "token.generate", ["${t1}"], A,
             capture={"s1b": "result[0].token"}),
        step("the old secret no longer works", "user.get", {"output": ["userid"], "userids": "1"}, "${s1}"),
        step("the new secret works", "user.get", {"output": ["userid"], "userids": "1"}, "${s1b}"),
        step("token.generate for several tokens", "token.generate", ["${t1}", "${t2}"], A,
             capture={"s1c": "result[0].token", "s2": "result[1].token"}),
        step("token.get by secret (the token parameter)", "token.get",
             {"output": ["tokenid", "name"], "token": "${s2}"}, A),
        step("token.get by an unknown 64-hex secret", "token.get",
             {"output": ["tokenid", "name"], "token": "f" * 64}, A),
        step("token.get by a secret of the wrong length", "token.get",
             {"output": ["tokenid", "name"], "token": "abc"}, A),
        step("token.generate for an unknown token id", "token.generate", ["9999"], A),
        step("token.generate with an empty list", "token.generate", [], A),
        step("token.generate with a repeated id", "token.generate", ["${t1}", "${t1}"], A, text_vars=["t1"]),
        step("token.generate with an object instead of ids", "token.generate", {"tokenid": "${t1}"}, A),
        step("token.generate with a non-id", "token.generate", ["abc"], A),
        create_alice(),
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice may not generate a secret for Admin's token", "token.generate", ["${t1}"], "${alice_session}"),
        step("alice creates a token", "token.create", {"name": "alice-gen"}, "${alice_session}",
             capture={"t3": "result.tokenids[0]"}),
        step("alice generates its secret", "token.generate", ["${t3}"], "${alice_session}",
             capture={"s3": "result[0].token"}),
        step("Admin may generate a secret for alice's token (replacing hers)", "token.generate", ["${t3}"], A,
             capture={"s3b": "result[0].token"}),
        step("alice's old secret is gone", "token.get", {"output": ["tokenid"]}, "${s3}"),
        step("the new one authenticates as alice", "token.get",
             {"output": ["tokenid", "name", "userid", "creator_userid"]}, "${s3b}"),
    ]


def t_token_update():
    return [
        login(),
        step("create two tokens", "token.create",
             [{"name": "upd-1", "description": "first"}, {"name": "upd-2", "expires_at": FAR}], A,
             capture={"t1": "result.tokenids[0]", "t2": "result.tokenids[1]"}),
        step("rename", "token.update", {"tokenid": "${t1}", "name": "upd-1-renamed"}, A),
        step("change the description", "token.update", {"tokenid": "${t1}", "description": "changed"}, A),
        step("disable", "token.update", {"tokenid": "${t1}", "status": 1}, A),
        step("set expires_at", "token.update", {"tokenid": "${t1}", "expires_at": FARTHER}, A),
        step("after the updates", "token.get", {"output": "extend", "tokenids": "${t1}"}, A),
        step("several tokens and fields at once", "token.update",
             [{"tokenid": "${t1}", "status": 0, "expires_at": 0},
              {"tokenid": "${t2}", "name": "upd-2-renamed", "description": "second", "status": 1}], A),
        step("after the multi-update", "token.get",
             {"output": ["tokenid", "name", "description", "status", "expires_at"], "sortfield": "tokenid"}, A),
        step("an update that changes nothing still answers the id", "token.update",
             {"tokenid": "${t2}", "name": "upd-2-renamed"}, A),
        step("rename to the name of the other token", "token.update",
             {"tokenid": "${t1}", "name": "upd-2-renamed"}, A),
        step("swap names within one call", "token.update",
             [{"tokenid": "${t1}", "name": "upd-2-renamed"}, {"tokenid": "${t2}", "name": "upd-1-renamed"}], A),
        step("give both the same new name in one call", "token.update",
             [{"tokenid": "${t1}", "name": "same"}, {"tokenid": "${t2}", "name": "same"}], A),
        step("an empty name", "token.update", {"tokenid": "${t1}", "name": ""}, A),
        step("status 5", "token.update", {"tokenid": "${t1}", "status": 5}, A),
        step("expires_at not an integer", "token.update", {"tokenid": "${t1}", "expires_at": "never"}, A),
        step("no tokenid", "token.update", {"name": "x"}, A),
        step("an unknown tokenid", "token.update", {"tokenid": "9999", "name": "x"}, A),
        step("the same tokenid twice", "token.update",
             [{"tokenid": "${t1}", "name": "a"}, {"tokenid": "${t1}", "name": "b"}], A, text_vars=["t1"]),
        step("userid cannot be changed", "token.update", {"tokenid": "${t1}", "userid": "2"}, A),
        step("an empty array", "token.update", [], A),
        create_alice(),
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice may not update Admin's token", "token.update", {"tokenid": "${t1}", "name": "mine"},
             "${alice_session}"),
        step("Admin's tokens are unchanged", "token.get",
             {"output": ["tokenid", "name", "description", "status", "expires_at"], "sortfield": "tokenid"}, A),
    ]


def t_token_delete():
    return [
        login(),
        step("create four tokens", "token.create",
             [{"name": "del-1"}, {"name": "del-2"}, {"name": "del-3"}, {"name": "del-4"}], A,
             capture={"t1": "result.tokenids[0]", "t2": "result.tokenids[1]",
                      "t3": "result.tokenids[2]", "t4": "result.tokenids[3]"}),
        step("delete one", "token.delete", ["${t1}"], A),
        step("delete several", "token.delete", ["${t2}", "${t3}"], A),
        step("delete an already deleted one", "token.delete", ["${t1}"], A),
        step("delete an unknown id", "token.delete", ["9999"], A),
        step("a known and an unknown id: nothing is deleted", "token.delete", ["${t4}", "9999"], A),
        step("delete with an empty list", "token.delete", [], A),
        step("the same id twice", "token.delete", ["${t4}", "${t4}"], A, text_vars=["t4"]),
        step("a non-id", "token.delete", ["abc"], A),
        step("an object instead of ids", "token.delete", {"tokenid": "${t4}"}, A),
        step("what is left", "token.get", {"output": ["tokenid", "name"], "sortfield": "tokenid"}, A),
        create_alice(),
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice may not delete Admin's token", "token.delete", ["${t4}"], "${alice_session}"),
        step("Admin's token for alice", "token.create", {"name": "alice-del", "userid": "${alice_id}"}, A,
             capture={"t5": "result.tokenids[0]"}),
        step("alice may delete a token of hers that Admin created", "token.delete", ["${t5}"],
             "${alice_session}"),
        step("a token of alice's, then delete alice", "token.create", {"name": "alice-gone"}, "${alice_session}",
             capture={"t6": "result.tokenids[0]"}),
        step("delete alice", "user.delete", ["${alice_id}"], A),
        step("her tokens went with her", "token.get", {"output": ["tokenid", "name"], "sortfield": "tokenid"}, A),
        step("count", "token.get", {"countOutput": True}, A),
    ]


def t_token_get():
    """token.get with every parameter of the seed, alone and combined.

    Tokens (Admin's unless said), created one second apart so that created_at differs:
      k1 alpha       "First token"           status 0  expires FAR (2030)
      k2 beta        "second one"            status 1  expires 0 (never)
      k3 Gamma-prod  "production gateway"    status 0  expires PAST (2001)
      k4 delta prod  ""                      status 1  expires FARTHER (2033)
      k5 alpha       "alice's alpha"         status 0  expires 0        (alice's)
      k6 omega_1%    "production replica"    status 0  expires MID      (alice's)
    """
    A_ = A
    out = ["tokenid", "name"]
    steps = [
        login(),
        create_alice(),
        step("k1", "token.create", {"name": "alpha", "description": "First token", "expires_at": FAR}, A_,
             capture={"k1": "result.tokenids[0]"}),
        step("k2", "token.create", {"name": "beta", "description": "second one", "status": 1}, A_,
             capture={"k2": "result.tokenids[0]"}, delay_ms=1100),
        step("k3", "token.create", {"name": "Gamma-prod", "description": "production gateway",
                                    "expires_at": PAST}, A_, capture={"k3": "result.tokenids[0]"}, delay_ms=1100),
        step("k4", "token.create", {"name": "delta prod", "status": 1, "expires_at": FARTHER}, A_,
             capture={"k4": "result.tokenids[0]"}, delay_ms=1100),
        step("k5 (alice's)", "token.create", {"name": "alpha", "description": "alice's alpha",
                                              "userid": "${alice_id}"}, A_,
             capture={"k5": "result.tokenids[0]"}, delay_ms=1100),
        step("k6 (alice's)", "token.create", {"name": "omega_1%", "description": "production replica",
                                              "userid": "${alice_id}", "expires_at": MID}, A_,
             capture={"k6": "result.tokenids[0]"}, delay_ms=1100),
        step("secrets for k1 and k4 (k1 is used first, k4 a second later: lastaccess differs)",
             "token.generate", ["${k1}", "${k4}"], A_, capture={"s1": "result[0].token", "s4": "result[1].token"}),
        step("use k1", "user.get", {"output": ["userid"], "userids": "1"}, "${s1}"),
        step("re-enable k4 for a moment to use it", "token.update", {"tokenid": "${k4}", "status": 0}, A_),
        step("use k4", "user.get", {"output": ["userid"], "userids": "1"}, "${s4}", delay_ms=1100),
        step("disable k4 again", "token.update", {"tokenid": "${k4}", "status": 1}, A_),
        # output
        step("no parameters at all: output defaults to extend (no 'token' field)", "token.get", {}, A_),
        step("output extend, sorted by tokenid", "token.get", {"output": "extend", "sortfield": "tokenid"}, A_),
        step("output as a field list (tokenid is not added)", "token.get",
             {"output": ["name", "status"], "sortfield": "tokenid"}, A_),
        step("output with every field, in a different order", "token.get",
             {"output": ["creator_userid", "created_at", "expires_at", "status", "lastaccess", "userid",
                         "description", "name", "tokenid"], "tokenids": "${k1}"}, A_),
        step("output [] gives empty objects", "token.get", {"output": [], "sortfield": "tokenid", "limit": 2}, A_),
        step("output 'count' is not valid for token.get", "token.get", {"output": "count"}, A_),
        step("output with the secret column 'token'", "token.get", {"output": ["tokenid", "token"]}, A_),
        step("output with an unknown field", "token.get", {"output": ["name", "nonexistent"]}, A_),
        step("output 'shorten'", "token.get", {"output": "shorten"}, A_),
        # countOutput
        step("countOutput: the count as a string", "token.get", {"countOutput": True}, A_),
        step("countOutput with a filter", "token.get", {"countOutput": True, "filter": {"status": 1}}, A_),
        step("countOutput with sortfield (sorting is dropped)", "token.get",
             {"countOutput": True, "sortfield": "name"}, A_),
        step("countOutput false", "token.get", {"countOutput": False, "output": out, "sortfield": "tokenid"}, A_),
        step("countOutput 'yes'", "token.get", {"countOutput": "yes"}, A_),
        step("countOutput with limit", "token.get", {"countOutput": True, "limit": 1}, A_),
        step("countOutput with no match", "token.get", {"countOutput": True, "tokenids": "9999"}, A_),
        # tokenids
        step("tokenids as a string", "token.get", {"output": out, "tokenids": "${k2}"}, A_),
        step("tokenids as an array", "token.get", {"output": out, "tokenids": ["${k2}", "${k3}"],
                                                  "sortfield": "tokenid"}, A_),
        step("tokenids unknown", "token.get", {"output": out, "tokenids": ["9999"]}, A_),
        step("tokenids empty array", "token.get", {"output": out, "tokenids": []}, A_),
        step("tokenids null", "token.get", {"output": out, "tokenids": None, "sortfield": "tokenid"}, A_),
        step("tokenids as a number (an unknown id, so that the result does not depend on the id sequence)",
             "token.get", {"output": out, "tokenids": 9999}, A_),
        step("tokenids not an id", "token.get", {"output": out, "tokenids": ["abc"]}, A_),
        # userids
        step("userids alice", "token.get", {"output": out, "userids": "${alice_id}", "sortfield": "tokenid"}, A_),
        step("userids Admin as an array", "token.get", {"output": out, "userids": ["1"], "sortfield": "tokenid"}, A_),
        step("userids both", "token.get", {"output": ["tokenid", "userid"], "userids": ["1", "${alice_id}"],
                                           "sortfield": "tokenid"}, A_),
        step("userids of a user without tokens", "token.get", {"output": out, "userids": "2"}, A_),
        step("tokenids and userids together (AND)", "token.get",
             {"output": out, "tokenids": ["${k1}", "${k5}"], "userids": "${alice_id}"}, A_),
        # token
        step("token (the secret)", "token.get", {"output": out, "token": "${s1}"}, A_),
        step("token with userids that do not match", "token.get",
             {"output": out, "token": "${s1}", "userids": "${alice_id}"}, A_),
        step("token null", "token.get", {"output": out, "token": None, "countOutput": True}, A_),
        # valid_at / expired_at
        step("valid_at MID: expires_at 0 or > MID", "token.get",
             {"output": ["tokenid", "name", "expires_at"], "valid_at": MID, "sortfield": "tokenid"}, A_),
        step("valid_at exactly at an expiry (expires_at > valid_at is required)", "token.get",
             {"output": ["tokenid", "expires_at"], "valid_at": MID, "userids": "${alice_id}",
              "sortfield": "tokenid"}, A_),
        step("expired_at MID: expires_at != 0 and <= MID", "token.get",
             {"output": ["tokenid", "name", "expires_at"], "expired_at": MID, "sortfield": "tokenid"}, A_),
        step("valid_at and expired_at together", "token.get",
             {"output": ["tokenid", "expires_at"], "valid_at": PAST, "expired_at": MID, "sortfield": "tokenid"}, A_),
        step("valid_at as a numeric string", "token.get",
             {"output": ["tokenid"], "valid_at": str(FARTHER), "sortfield": "tokenid"}, A_),
        step("valid_at not a number", "token.get", {"output": out, "valid_at": "tomorrow"}, A_),
        step("expired_at beyond int32", "token.get", {"output": out, "expired_at": 2147483648}, A_),
        step("valid_at 0", "token.get", {"output": ["tokenid", "expires_at"], "valid_at": 0,
                                         "sortfield": "tokenid"}, A_),
        # filter
        step("filter name exact (both 'alpha's)", "token.get",
             {"output": ["tokenid", "name", "userid"], "filter": {"name": "alpha"}, "sortfield": "tokenid"}, A_),
        step("filter is exact, not substring", "token.get", {"output": out, "filter": {"name": "alp"}}, A_),
        step("filter is case-sensitive", "token.get", {"output": out, "filter": {"name": "ALPHA"}}, A_),
        step("filter with an array of values (OR)", "token.get",
             {"output": out, "filter": {"name": ["beta", "delta prod"]}, "sortfield": "tokenid"}, A_),
        step("filter on two fields (AND)", "token.get",
             {"output": ["tokenid", "name", "userid"], "filter": {"name": "alpha", "userid": "1"}}, A_),
        step("filter status as an integer", "token.get",
             {"output": ["tokenid", "status"], "filter": {"status": 1}, "sortfield": "tokenid"}, A_),
        step("filter expires_at 0", "token.get",
             {"output": ["tokenid", "expires_at"], "filter": {"expires_at": 0}, "sortfield": "tokenid"}, A_),
        step("filter on creator_userid", "token.get",
             {"output": ["tokenid", "creator_userid"], "filter": {"creator_userid": "1"}, "countOutput": True}, A_),
        step("filter on description is not allowed", "token.get",
             {"output": out, "filter": {"description": "First token"}}, A_),
        step("filter on an unknown field", "token.get", {"output": out, "filter": {"foo": "x"}}, A_),
        step("filter not an object", "token.get", {"output": out, "filter": "alpha"}, A_),
        step("filter with an empty array value", "token.get",
             {"output": out, "filter": {"name": []}, "sortfield": "tokenid"}, A_),
        step("filter null value", "token.get", {"output": out, "filter": {"name": None}, "sortfield": "tokenid"}, A_),
        # search
        step("search name substring, case-insensitive", "token.get",
             {"output": ["tokenid", "name"], "search": {"name": "ALP"}, "sortfield": "tokenid"}, A_),
        step("search name 'prod'", "token.get",
             {"output": out, "search": {"name": "prod"}, "sortfield": "tokenid"}, A_),
        step("search description 'prod'", "token.get",
             {"output": ["tokenid", "description"], "search": {"description": "prod"}, "sortfield": "tokenid"}, A_),
        step("search two fields: AND by default", "token.get",
             {"output": out, "search": {"name": "alp", "description": "prod"}, "sortfield": "tokenid"}, A_),
        step("search two fields with searchByAny: OR", "token.get",
             {"output": out, "search": {"name": "alp", "description": "prod"}, "searchByAny": True,
              "sortfield": "tokenid"}, A_),
        step("search with an array of values: joined with AND like the fields, so nothing matches both",
             "token.get", {"output": out, "search": {"name": ["bet", "ome"]}, "sortfield": "tokenid"}, A_),
        step("search with an array of values and searchByAny: OR", "token.get",
             {"output": out, "search": {"name": ["bet", "ome"]}, "searchByAny": True, "sortfield": "tokenid"}, A_),
        step("search array with searchByAny across two fields", "token.get",
             {"output": out, "search": {"name": ["bet", "gam"], "description": "replica"}, "searchByAny": True,
              "sortfield": "tokenid"}, A_),
        step("startSearch: prefix match", "token.get",
             {"output": out, "search": {"name": "ga"}, "startSearch": True, "sortfield": "tokenid"}, A_),
        step("without startSearch the same string matches anywhere", "token.get",
             {"output": out, "search": {"name": "ga"}, "sortfield": "tokenid"}, A_),
        step("excludeSearch (Zabbix 6.0.14 ignores it: the same rows as without it)", "token.get",
             {"output": out, "search": {"name": "prod"}, "excludeSearch": True, "sortfield": "tokenid"}, A_),
        step("excludeSearch with startSearch", "token.get",
             {"output": out, "search": {"name": "al"}, "excludeSearch": True, "startSearch": True,
              "sortfield": "tokenid"}, A_),
        step("searchWildcardsEnabled: '*' matches any run", "token.get",
             {"output": out, "search": {"name": "*prod"}, "searchWildcardsEnabled": True, "sortfield": "tokenid"}, A_),
        step("searchWildcardsEnabled: the pattern must match the whole value ('a*a' is not found in 'Gamma-prod')",
             "token.get",
             {"output": out, "search": {"name": "a*a"}, "searchWildcardsEnabled": True, "sortfield": "tokenid"}, A_),
        step("searchWildcardsEnabled with startSearch (startSearch changes nothing then)", "token.get",
             {"output": out, "search": {"name": "a*a"}, "searchWildcardsEnabled": True, "startSearch": True,
              "sortfield": "tokenid"}, A_),
        step("searchWildcardsEnabled: '*' alone", "token.get",
             {"output": out, "search": {"name": "*"}, "searchWildcardsEnabled": True, "sortfield": "tokenid"}, A_),
        step("without searchWildcardsEnabled '*' is literal", "token.get",
             {"output": out, "search": {"name": "*prod"}, "sortfield": "tokenid"}, A_),
        step("'%' and '_' are literal in search (no SQL LIKE leak)", "token.get",
             {"output": out, "search": {"name": "_1%"}, "sortfield": "tokenid"}, A_),
        step("'_' alone is literal", "token.get",
             {"output": out, "search": {"name": "_"}, "sortfield": "tokenid"}, A_),
        step("search is case-insensitive (BETA finds beta)", "token.get",
             {"output": out, "search": {"name": "BETA"}, "sortfield": "tokenid"}, A_),
        step("search with an empty string matches everything", "token.get",
             {"output": out, "search": {"name": ""}, "sortfield": "tokenid"}, A_),
        step("search on a field that is not searchable", "token.get",
             {"output": out, "search": {"status": "1"}}, A_),
        step("search null", "token.get", {"output": out, "search": None, "sortfield": "tokenid", "limit": 2}, A_),
        step("startSearch without search does nothing", "token.get",
             {"output": out, "startSearch": True, "sortfield": "tokenid", "limit": 2}, A_),
        step("searchByAny as a string", "token.get",
             {"output": out, "search": {"name": "alp"}, "searchByAny": "true"}, A_),
        # sortfield / sortorder
        step("sortfield tokenid DESC", "token.get",
             {"output": out, "sortfield": "tokenid", "sortorder": "DESC"}, A_),
        step("sortfield name ASC (Admin's tokens; byte order in this C.UTF-8 database)", "token.get",
             {"output": out, "userids": "1", "sortfield": "name", "sortorder": "ASC"}, A_),
        step("sortfield name DESC", "token.get",
             {"output": out, "userids": "1", "sortfield": "name", "sortorder": "DESC"}, A_),
        step("sortfield lastaccess", "token.get",
             {"output": ["tokenid", "lastaccess"], "tokenids": ["${k1}", "${k2}", "${k4}"],
              "sortfield": "lastaccess"}, A_),
        step("sortfield lastaccess DESC", "token.get",
             {"output": ["tokenid", "lastaccess"], "tokenids": ["${k1}", "${k2}", "${k4}"],
              "sortfield": "lastaccess", "sortorder": "DESC"}, A_),
        step("sortfield status (two tokens)", "token.get",
             {"output": ["tokenid", "status"], "tokenids": ["${k2}", "${k3}"], "sortfield": "status"}, A_),
        step("sortfield status DESC (two tokens)", "token.get",
             {"output": ["tokenid", "status"], "tokenids": ["${k1}", "${k2}"], "sortfield": "status",
              "sortorder": "DESC"}, A_),
        step("sortfield expires_at (Admin's)", "token.get",
             {"output": ["tokenid", "expires_at"], "userids": "1", "sortfield": "expires_at"}, A_),
        step("sortfield expires_at DESC (Admin's)", "token.get",
             {"output": ["tokenid", "expires_at"], "userids": "1", "sortfield": "expires_at",
              "sortorder": "DESC"}, A_),
        step("sortfield created_at", "token.get",
             {"output": out, "sortfield": "created_at"}, A_),
        step("sortfield created_at DESC", "token.get",
             {"output": out, "sortfield": "created_at", "sortorder": "DESC"}, A_),
        step("several sortfields, one sortorder for all", "token.get",
             {"output": ["tokenid", "status", "name"], "sortfield": ["status", "name", "tokenid"],
              "sortorder": "DESC"}, A_),
        step("several sortfields with a per-field sortorder array", "token.get",
             {"output": ["tokenid", "status", "name"], "sortfield": ["status", "name", "tokenid"],
              "sortorder": ["DESC", "ASC", "ASC"]}, A_),
        step("sortorder array shorter than sortfield", "token.get",
             {"output": ["tokenid", "status", "expires_at"], "sortfield": ["status", "expires_at"],
              "sortorder": ["DESC"]}, A_),
        step("sortorder in lower case", "token.get", {"output": out, "sortfield": "tokenid", "sortorder": "desc"}, A_),
        step("an invalid sortorder", "token.get", {"output": out, "sortfield": "tokenid", "sortorder": "DOWN"}, A_),
        step("an invalid sortfield", "token.get", {"output": out, "sortfield": "description"}, A_),
        step("a repeated sortfield", "token.get", {"output": out, "sortfield": ["name", "name"]}, A_),
        step("sortfield userid is not allowed", "token.get", {"output": out, "sortfield": "userid"}, A_),
        step("sortorder without sortfield", "token.get", {"output": out, "sortorder": "DESC",
                                                          "tokenids": "${k1}"}, A_),
        # limit
        step("limit 2 with sortfield", "token.get", {"output": out, "sortfield": "tokenid", "limit": 2}, A_),
        step("limit larger than the result", "token.get", {"output": out, "sortfield": "tokenid", "limit": 100}, A_),
        step("limit 0", "token.get", {"output": out, "limit": 0}, A_),
        step("limit negative", "token.get", {"output": out, "limit": -1}, A_),
        step("limit as a numeric string", "token.get", {"output": out, "sortfield": "tokenid", "limit": "1"}, A_),
        step("limit null", "token.get", {"output": out, "sortfield": "tokenid", "limit": None}, A_),
        # preservekeys
        step("preservekeys: an object keyed by tokenid, in sort order", "token.get",
             {"output": ["name"], "sortfield": ["name", "tokenid"], "preservekeys": True}, A_),
        step("preservekeys with output extend and limit", "token.get",
             {"output": "extend", "sortfield": "tokenid", "sortorder": "DESC", "limit": 2,
              "preservekeys": True}, A_),
        step("preservekeys with no result: []", "token.get",
             {"output": out, "tokenids": "9999", "preservekeys": True}, A_),
        step("preservekeys false", "token.get",
             {"output": out, "sortfield": "tokenid", "limit": 1, "preservekeys": False}, A_),
        # combined
        step("combined: search + filter + valid_at + sort + limit", "token.get",
             {"output": ["tokenid", "name", "status", "expires_at"], "search": {"description": "o"},
              "filter": {"status": 0}, "valid_at": PAST, "sortfield": ["expires_at", "tokenid"],
              "sortorder": ["DESC", "ASC"], "limit": 3}, A_),
        step("combined: userids + searchWildcardsEnabled + excludeSearch + preservekeys", "token.get",
             {"output": ["name", "userid"], "userids": ["1", "${alice_id}"], "search": {"name": "*a"},
              "searchWildcardsEnabled": True, "excludeSearch": True, "sortfield": ["name", "tokenid"],
              "preservekeys": True},
             A_),
        # wrong parameters
        step("an invalid parameter name", "token.get", {"output": out, "selectUsers": "extend"}, A_),
        step("a misspelt parameter", "token.get", {"output": out, "sortfeld": "name"}, A_),
        step("preservekeys not a boolean", "token.get", {"output": out, "preservekeys": "maybe"}, A_),
        step("params as an array", "token.get", [], A_),
        step("params as a non-empty array", "token.get", ["x"], A_),
        # a plain user
        step("alice logs in", "user.login", {"username": "alice", "password": ALICE_PW},
             capture={"alice_session": "result"}),
        step("alice sees only her own tokens", "token.get",
             {"output": ["tokenid", "name", "userid"], "sortfield": "tokenid"}, "${alice_session}"),
        step("alice asking for Admin's tokens by userids gets nothing", "token.get",
             {"output": out, "userids": "1"}, "${alice_session}"),
        step("alice asking for Admin's token by tokenids gets nothing", "token.get",
             {"output": out, "tokenids": "${k1}"}, "${alice_session}"),
        step("alice's count", "token.get", {"countOutput": True}, "${alice_session}"),
        step("alice searching", "token.get",
             {"output": out, "search": {"name": "a"}, "sortfield": "name"}, "${alice_session}"),
    ]
    return steps


def t_token_auth():
    return [
        login(),
        create_alice(),
        step("tokens: ok (far expiry), disabled, expired (expires_at in the past), to-delete, alice's",
             "token.create",
             [{"name": "ok", "expires_at": FAR}, {"name": "disabled", "status": 1},
              {"name": "expired", "expires_at": PAST}, {"name": "doomed"},
              {"name": "alice-token", "userid": "${alice_id}"}], A,
             capture={"t_ok": "result.tokenids[0]", "t_dis": "result.tokenids[1]",
                      "t_exp": "result.tokenids[2]", "t_del": "result.tokenids[3]",
                      "t_alice": "result.tokenids[4]"}),
        step("generate their secrets", "token.generate",
             ["${t_ok}", "${t_dis}", "${t_exp}", "${t_del}", "${t_alice}"], A,
             capture={"s_ok": "result[0].token", "s_dis": "result[1].token", "s_exp": "result[2].token",
                      "s_del": "result[3].token", "s_alice": "result[4].token"}),
        step("lastaccess is 0 before any use", "token.get",
             {"output": ["tokenid", "lastaccess"], "tokenids": "${t_ok}"}, A),
        step("a call authenticated by the token in the auth field", "user.get",
             {"output": ["userid", "username"], "sortfield": "userid"}, "${s_ok}"),
        step("lastaccess is set by the use", "token.get",
             {"output": ["tokenid", "lastaccess"], "tokenids": "${t_ok}"}, A),
        step("the token in an Authorization: Bearer header only: 6.0 ignores the header", "user.get",
             {"output": ["userid"], "userids": "1"}, headers={"Authorization": "Bearer ${s_ok}"}),
        step("Bearer header and auth field together: the auth field counts", "user.get",
             {"output": ["userid"], "userids": "1"}, "${s_ok}", headers={"Authorization": "Bearer ${s_ok}"}),
        step("Bearer header with a bad token and a good auth field", "user.get",
             {"output": ["userid"], "userids": "1"}, "${s_ok}", headers={"Authorization": "Bearer " + "0" * 64}),
        step("checkAuthentication with the token: the user, no sessionid", "user.checkAuthentication",
             {"token": "${s_ok}"}),
        step("checkAuthentication with token and sessionid together", "user.checkAuthentication",
             {"token": "${s_ok}", "sessionid": A}),
        step("checkAuthentication with token and extend", "user.checkAuthentication",
             {"token": "${s_ok}", "extend": True}),
        step("a token may call token methods too", "token.create", {"name": "made-by-token"}, "${s_ok}",
             capture={"t_new": "result.tokenids[0]"}),
        step("a token may generate secrets", "token.generate", ["${t_new}"], "${s_ok}",
             capture={"s_new": "result[0].token"}),
        step("a token may not log out (a database error leaks through)", "user.logout", [], "${s_ok}"),
        step("apiinfo.version with a token in auth", "apiinfo.version", {}, "${s_ok}"),
        step("a disabled token", "user.get", {"output": ["userid"], "userids": "1"}, "${s_dis}"),
        step("checkAuthentication with a disabled token", "user.checkAuthentication", {"token": "${s_dis}"}),
        step("an expired token", "user.get", {"output": ["userid"], "userids": "1"}, "${s_exp}"),
        step("checkAuthentication with an expired token", "user.checkAuthentication", {"token": "${s_exp}"}),
        step("the doomed token works", "user.get", {"output": ["userid"], "userids": "1"}, "${s_del}"),
        step("delete it", "token.delete", ["${t_del}"], A),
        step("a deleted token", "user.get", {"output": ["userid"], "userids": "1"}, "${s_del}"),
        step("an unknown 64-hex token", "user.get", {"output": ["userid"], "userids": "1"}, "a" * 64),
        step("a 64-character non-hex token", "user.get", {"output": ["userid"], "userids": "1"}, "z" * 64),
        step("a 63-hex auth is taken as a session id", "user.get", {"output": ["userid"], "userids": "1"},
             "a" * 63),
        step("enable the disabled token", "token.update", {"tokenid": "${t_dis}", "status": 0}, A),
        step("it works now", "user.get", {"output": ["userid"], "userids": "1"}, "${s_dis}"),
        step("give the expired token a future expiry", "token.update",
             {"tokenid": "${t_exp}", "expires_at": FAR}, A),
        step("it works now", "user.get", {"output": ["userid"], "userids": "1"}, "${s_exp}"),
        step("expire the ok token by update", "token.update", {"tokenid": "${t_ok}", "expires_at": PAST}, A),
        step("it is expired now", "user.get", {"output": ["userid"], "userids": "1"}, "${s_ok}"),
        step("alice's token acts as alice: she sees only her tokens", "token.get",
             {"output": ["tokenid", "name", "userid"]}, "${s_alice}"),
        step("alice's token cannot create users", "user.create",
             {"username": "mallory", "passwd": "Rabbit-Hole-78", "roleid": "1", "usrgrps": [{"usrgrpid": "7"}]},
             "${s_alice}"),
        step("move alice into the Disabled group (9)", "user.update",
             {"userid": "${alice_id}", "usrgrps": [{"usrgrpid": "9"}]}, A),
        step("a disabled user's token", "token.get", {"output": ["tokenid"]}, "${s_alice}"),
        step("lastaccess after all this (non-zero ones normalised)", "token.get",
             {"output": ["tokenid", "name", "status", "expires_at", "lastaccess"], "sortfield": "tokenid"}, A),
    ]


def t_jsonrpc():
    ok = '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}'
    return [
        step("invalid JSON", raw_body='{"jsonrpc":"2.0","method":'),
        step("an empty body", raw_body=""),
        step("JSON that is a string", raw_body='"apiinfo.version"'),
        step("an empty object", raw_body="{}"),
        step("an empty array", raw_body="[]"),
        step("missing jsonrpc", request={"method": "apiinfo.version", "params": {}, "id": 1}),
        step("jsonrpc 1.0", request={"jsonrpc": "1.0", "method": "apiinfo.version", "params": {}, "id": 1}),
        step("jsonrpc as a number", request={"jsonrpc": 2.0, "method": "apiinfo.version", "params": {}, "id": 1}),
        step("missing method", request={"jsonrpc": "2.0", "params": {}, "id": 1}),
        step("method not a string", request={"jsonrpc": "2.0", "method": 5, "params": {}, "id": 1}),
        step("missing params", request={"jsonrpc": "2.0", "method": "apiinfo.version", "id": 1}),
        step("params a string", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": "x", "id": 1}),
        step("params a number", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": 1, "id": 1}),
        step("params null", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": None, "id": 1}),
        step("an unexpected member", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {},
                                               "id": 1, "extra": True}),
        step("id an object", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": {"a": 1}}),
        step("id a float", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": 1.5}),
        step("id a large integer", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {},
                                            "id": 9007199254740991}),
        step("id a boolean", request={"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": True}),
        step("an unknown API", "foo.bar", {}),
        step("an unknown method of a known API", "token.foo", {}),
        step("a method without a dot", "apiinfo", {}),
        step("an empty method", "", {}),
        step("a method with two dots", "token.get.extra", {}),
        step("auth not a string", request={"jsonrpc": "2.0", "method": "token.get", "params": {}, "auth": 123,
                                           "id": 1}),
        step("a notification (no id): nothing is answered", request={"jsonrpc": "2.0", "method": "apiinfo.version",
                                                                     "params": {}}),
        step("a notification that fails: nothing is answered either",
             request={"jsonrpc": "2.0", "method": "foo.bar", "params": {}}),
        step("a notification with a bad jsonrpc is answered (id null)",
             request={"jsonrpc": "1.0", "method": "apiinfo.version", "params": {}}),
        step("a batch: an array of calls, answered in order",
             request=[{"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": 1},
                      {"jsonrpc": "2.0", "method": "apiinfo.version", "params": [], "id": "two"},
                      {"jsonrpc": "2.0", "method": "nope.nope", "params": {}, "id": 3}]),
        step("a batch with a notification: it is left out",
             request=[{"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": 1},
                      {"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}}]),
        step("a batch of notifications only: empty body",
             request=[{"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}},
                      {"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}}]),
        step("a batch of non-objects", raw_body="[1,2]"),
        step("a batch with an invalid member",
             request=[{"jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": 1},
                      {"jsonrpc": "2.0", "method": "apiinfo.version", "id": 2}]),
        step("a batch with a login and a call using a session (each call is independent)",
             request=[{"jsonrpc": "2.0", "method": "user.login",
                       "params": {"username": "Admin", "password": "zabbix"}, "id": 1},
                      {"jsonrpc": "2.0", "method": "token.get", "params": {}, "auth": "0" * 32, "id": 2}]),
        step("Content-Type application/json", raw_body=ok, headers={"Content-Type": "application/json"}),
        step("Content-Type application/jsonrequest", raw_body=ok,
             headers={"Content-Type": "application/jsonrequest"}),
        step("Content-Type with a charset parameter", raw_body=ok,
             headers={"Content-Type": "application/json-rpc; charset=UTF-8"}),
        step("Content-Type text/plain: 412, empty body", raw_body=ok, headers={"Content-Type": "text/plain"}),
        step("Content-Type application/x-www-form-urlencoded: 412", raw_body=ok,
             headers={"Content-Type": "application/x-www-form-urlencoded"}),
        step("no Content-Type: 412", raw_body=ok, headers={"Content-Type": None}),
        step("Content-Type in upper case", raw_body=ok, headers={"Content-Type": "APPLICATION/JSON"}),
        step("GET with a JSON body", raw_body=ok, http_method="GET"),
        step("GET without a body", raw_body="", http_method="GET"),
        step("OPTIONS (CORS preflight): 200, empty body", raw_body="", http_method="OPTIONS",
             headers={"Content-Type": None}),
        step("a UTF-8 BOM before the JSON", raw_body="\ufeff" + ok),
        step("whitespace around the JSON", raw_body="\n  " + ok + "  \n"),
        step("trailing garbage after the JSON", raw_body=ok + "x"),
    ]


TRANSCRIPTS = [
    ("01_apiinfo_version", "apiinfo.version without and with auth, ids, paths", t_apiinfo),
    ("02_user_login", "user.login: username, the deprecated user, userData, wrong and missing credentials",
     t_user_login),
    ("03_user_session", "user.checkAuthentication and user.logout with session ids", t_user_session),
    ("04_user_crud", "user.create/get/update/delete as far as tokens need them", t_user_crud),
    ("05_token_create", "token.create: one, several, validation errors, for another user, as a plain user",
     t_token_create),
    ("06_token_generate", "token.generate: secrets, regeneration, token.get by secret", t_token_generate),
    ("07_token_update", "token.update: name, description, status, expires_at, errors", t_token_update),
    ("08_token_delete", "token.delete: one, several, unknown ids, permissions, user deletion", t_token_delete),
    ("09_token_get", "token.get with every parameter of the seed, alone and combined", t_token_get),
    ("10_token_auth", "authenticating with API tokens: auth field, Bearer header, disabled, expired, deleted",
     t_token_auth),
    ("11_jsonrpc_errors", "malformed JSON-RPC, batches, notifications, Content-Type and HTTP methods", t_jsonrpc),
]


# --------------------------------------------------------------------------- helpers

def subst(obj, vars_):
    """Replace ${name} in every string (values and keys) of obj."""
    if isinstance(obj, str):
        def rep(m):
            if m.group(1) not in vars_:
                raise KeyError("undefined variable ${%s}" % m.group(1))
            return vars_[m.group(1)]
        return PLACEHOLDER_RE.sub(rep, obj)
    if isinstance(obj, list):
        return [subst(x, vars_) for x in obj]
    if isinstance(obj, dict):
        return {subst(k, vars_): subst(v, vars_) for k, v in obj.items()}
    return obj


def get_path(obj, path):
    """'result.tokenids[0]' / 'result[1].token' / 'result' -> value."""
    cur = obj
    for part in path.split("."):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$", part)
        if not m:
            raise ValueError("bad capture path %r" % path)
        cur = cur[m.group(1)]
        for idx in re.findall(r"\[(\d+)\]", m.group(2)):
            cur = cur[int(idx)]
    return cur


def php_json(obj):
    """The bytes PHP's json_encode(..., JSON_UNESCAPED_SLASHES) gives for decoded data."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def build_body(s, vars_):
    """-> (template body as stored in the fixture, bytes to send)."""
    if "raw_body" in s:
        tmpl = s["raw_body"]
        return ("raw_body", tmpl), subst(tmpl, vars_).encode("utf-8")
    if "request" in s:
        tmpl = copy.deepcopy(s["request"])
    else:
        tmpl = {"jsonrpc": "2.0", "method": s["method"], "params": s["params"]}
        if s.get("auth") is not None:
            tmpl["auth"] = s["auth"]
        tmpl["id"] = s.get("id", s["_seq"])
    real = subst(tmpl, vars_)
    return ("request", tmpl), json.dumps(real, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send(base_url, s, body, vars_):
    headers = {"Content-Type": DEFAULT_CONTENT_TYPE}
    for k, v in (s.get("headers") or {}).items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = subst(v, vars_)
    if "Content-Type" not in headers:
        headers["Content-Type"] = None  # requests: do not send one
    url = base_url + s.get("path", DEFAULT_PATH)
    method = s.get("http_method", "POST")
    r = requests.request(method, url, data=body, headers=headers, timeout=30)
    return r


# --------------------------------------------------------------------------- normalisation

class Normaliser:
    """Replaces the values that must differ between two servers (see README)."""

    def __init__(self):
        self.vars = {}           # name -> real value
        self.kinds = {}          # name -> token_id / user_id / session / secret
        self.new_ids = {"token_id": set(), "user_id": set()}
        self.notes = set()

    def kind_of_capture(self, path, value):
        last = re.sub(r"\[\d+\]", "", path.split(".")[-1])
        if isinstance(value, str) and HEX64.match(value):
            return "secret"
        if isinstance(value, str) and HEX32.match(value):
            return "session"
        if last in ("tokenids", "tokenid"):
            return "token_id"
        if last in ("userids", "userid"):
            return "user_id"
        raise ValueError("cannot tell the kind of capture %s=%r" % (path, value))

    def var_for(self, value, kind):
        for name, v in self.vars.items():
            if v == value and self.kinds[name] == kind:
                return "${%s}" % name
        return None

    def norm_id(self, value, kind, where):
        if value in self.new_ids[kind]:
            ph = self.var_for(value, kind) or "<id>"
            self.notes.add("%s: %s from Zabbix's id sequence -> captured variable or \"<id>\"" %
                           (where, "token id" if kind == "token_id" else "user id of a created user"))
            return ph
        return value

    def norm(self, obj, key, where, ctx):
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                nk = k
                if ctx.get("preservekeys") and where == "result" and re.match(r"^\d+$", k):
                    nk = self.norm_id(k, ctx["preservekeys"], "result keys (preservekeys)")
                    if nk == "<id>":
                        raise ValueError("an uncaptured id as an object key: capture it first")
                out[nk] = self.norm(v, k, where + "." + k if where else k, ctx)
            return out
        if isinstance(obj, list):
            return [self.norm(x, key, where + "[]", ctx) for x in obj]
        if not isinstance(obj, str):
            return obj
        wh = re.sub(r"\.\d+(?=\.|$)", ".<tokenid>", where) if ctx.get("preservekeys") else where
        if key in ("tokenid", "tokenids"):
            return self.norm_id(obj, "token_id", wh)
        if key in ("userid", "userids", "creator_userid"):
            return self.norm_id(obj, "user_id", wh)
        if key == "sessionid" or (ctx.get("login") and where == "result"):
            if HEX32.match(obj):
                self.notes.add("%s: session id (32 hex) -> captured variable or \"<hex32>\"" % wh)
                return self.var_for(obj, "session") or "<hex32>"
        if key == "token" and HEX64.match(obj):
            self.notes.add("%s: API token secret (64 hex) -> captured variable or \"<hex64>\"" % wh)
            return self.var_for(obj, "secret") or "<hex64>"
        if key in TIMESTAMP_KEYS and obj != "0":
            self.notes.add("%s: timestamp taken from the server's clock -> \"<timestamp>\"" % wh)
            return "<timestamp>"
        if key == "data" and ctx.get("text_vars"):
            # an id inside an error message: "3" / (3, / (3) -> "${var}" / (${var}, / (${var})
            s = obj
            for name in ctx["text_vars"]:
                s = re.sub(r'(?<=[("])%s(?=[)",])' % re.escape(self.vars[name]), "${%s}" % name, s)
            if s == obj:
                raise ValueError("text_vars %r: nothing replaced in %r" % (ctx["text_vars"], obj))
            self.notes.add("%s: an id from Zabbix's id sequence inside an error message -> captured variable" % wh)
            return s
        return obj


# --------------------------------------------------------------------------- recording

def restore(setup, log):
    r = subprocess.run([setup, "--restore"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    if r.returncode != 0:
        sys.exit("setup.sh --restore failed:\n" + r.stdout.decode(errors="replace"))
    log(r.stdout.decode(errors="replace").strip())


def wait_ready(base_url):
    body = b'{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}'
    deadline = time.time() + 30
    last = None
    while time.time() < deadline:
        try:
            r = requests.post(base_url + DEFAULT_PATH, data=body,
                              headers={"Content-Type": DEFAULT_CONTENT_TYPE}, timeout=5)
            if r.status_code == 200 and '"result":"6.0.' in r.text:
                return r.json()["result"]
            last = r.text
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.5)
    sys.exit("the oracle at %s is not answering apiinfo.version: %s" % (base_url, last))


def make_ctx(method, params, s):
    ctx = {
        "login": method is not None and method.lower() == "user.login",
        "preservekeys": None,
        "text_vars": s.get("text_vars"),
    }
    if isinstance(params, dict) and params.get("preservekeys") and method:
        ctx["preservekeys"] = {"token.get": "token_id", "user.get": "user_id"}.get(method.lower())
    return ctx


def record_one(base_url, name, description, fn, version):
    nz = Normaliser()
    steps_out = []
    for seq, s in enumerate(fn(), start=1):
        s = dict(s)
        s["_seq"] = seq
        if s.get("delay_ms"):
            time.sleep(s["delay_ms"] / 1000.0)
        (body_kind, tmpl), body = build_body(s, nz.vars)
        r = send(base_url, s, body, nz.vars)
        text = r.content.decode("utf-8")
        parsed = None
        if text != "":
            parsed = json.loads(text)
            if php_json(parsed) != text:
                raise AssertionError("%s step %d: the body does not re-encode byte for byte: %r" %
                                     (name, seq, text))
        # learn the ids that come from Zabbix's id sequence
        req = s.get("request")
        method = s["method"] if "method" in s else (req.get("method") if isinstance(req, dict) else None)
        if not isinstance(method, str):
            method = None
        if isinstance(parsed, dict) and isinstance(parsed.get("result"), dict):
            if method == "token.create":
                nz.new_ids["token_id"].update(parsed["result"].get("tokenids", []))
            if method == "user.create":
                nz.new_ids["user_id"].update(parsed["result"].get("userids", []))
        # capture
        for var, path in (s.get("capture") or {}).items():
            try:
                value = get_path(parsed, path)
            except (KeyError, IndexError, TypeError):
                raise SystemExit("%s step %d (%s): cannot capture %s from %s" % (name, seq, s["comment"], path, text))
            nz.kinds[var] = nz.kind_of_capture(path, value)
            nz.vars[var] = value
        params = s.get("params")
        if params is None and isinstance(req, dict):
            params = req.get("params")
        if isinstance(parsed, list) and isinstance(req, list):
            # a batch: each answer is normalised as the answer of the call with its id
            by_id = {json.dumps(c.get("id")): c for c in req if isinstance(c, dict) and "id" in c}
            normalised = []
            for e in parsed:
                c = by_id.get(json.dumps(e.get("id")), {})
                m = c.get("method") if isinstance(c.get("method"), str) else None
                normalised.append(nz.norm(e, None, "", make_ctx(m, c.get("params"), s)))
        else:
            normalised = None if parsed is None else nz.norm(parsed, None, "", make_ctx(method, params, s))
        out = {"comment": s["comment"]}
        if s.get("delay_ms"):
            out["delay_ms"] = s["delay_ms"]
        if s.get("http_method"):
            out["http_method"] = s["http_method"]
        if s.get("path"):
            out["path"] = s["path"]
        if s.get("headers"):
            out["headers"] = s["headers"]
        out[body_kind] = tmpl
        out["status"] = r.status_code
        out["content_type"] = r.headers.get("Content-Type")
        out["response"] = normalised
        # order of rows not fixed by a sortfield
        if method and method.lower().endswith(".get") and not (isinstance(params, dict) and params.get("sortfield")):
            res = parsed.get("result") if isinstance(parsed, dict) else None
            if isinstance(res, (list, dict)) and len(res) > 1:
                out["unordered"] = True
        if s.get("capture"):
            out["capture"] = s["capture"]
        steps_out.append(out)
    return {
        "name": name,
        "description": description,
        "zabbix_version": version,
        "normalized": sorted(nz.notes),
        "steps": steps_out,
    }


def write_fixture(fx):
    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, fx["name"] + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fx, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return path


# --------------------------------------------------------------------------- verification (reference replayer)

def match(expected, actual, vars_, where, unordered=False):
    """Compare a fixture's response with a real one; returns a list of differences."""
    if isinstance(expected, str):
        if expected in TYPE_PATTERNS:
            ok = isinstance(actual, str) and TYPE_PATTERNS[expected].match(actual)
            return [] if ok else ["%s: %r does not match %s" % (where, actual, expected)]
        exp = subst(expected, vars_)
        return [] if exp == actual else ["%s: expected %r, got %r" % (where, exp, actual)]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return ["%s: expected an object, got %r" % (where, actual)]
        exp_keys = [subst(k, vars_) for k in expected]
        if (sorted(exp_keys) if unordered else exp_keys) != (sorted(actual) if unordered else list(actual)):
            return ["%s: keys %r != %r" % (where, exp_keys, list(actual))]
        diffs = []
        for k, v in expected.items():
            rk = subst(k, vars_)
            diffs += match(v, actual[rk], vars_, "%s.%s" % (where, rk))
        return diffs
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return ["%s: expected %d items, got %r" % (where, len(expected), actual)]
        if unordered:
            remaining = list(actual)
            for i, e in enumerate(expected):
                for j, a in enumerate(remaining):
                    if not match(e, a, vars_, where):
                        del remaining[j]
                        break
                else:
                    return ["%s[%d]: no matching item for %r" % (where, i, e)]
            return []
        diffs = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            diffs += match(e, a, vars_, "%s[%d]" % (where, i))
        return diffs
    if type(expected) is not type(actual) or expected != actual:
        return ["%s: expected %r, got %r" % (where, expected, actual)]
    return []


def verify_one(base_url, fx):
    vars_ = {}
    problems = []
    for i, s in enumerate(fx["steps"], start=1):
        if s.get("delay_ms"):
            time.sleep(s["delay_ms"] / 1000.0)
        if "raw_body" in s:
            body = subst(s["raw_body"], vars_).encode("utf-8")
        else:
            req = subst(s["request"], vars_)
            body = json.dumps(req, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        r = send(base_url, s, body, vars_)
        text = r.content.decode("utf-8")
        actual = json.loads(text) if text else None
        where = "%s step %d (%s)" % (fx["name"], i, s["comment"])
        if r.status_code != s["status"]:
            problems.append("%s: status %d != %d" % (where, r.status_code, s["status"]))
        if r.headers.get("Content-Type") != s.get("content_type"):
            problems.append("%s: content type %r != %r" % (where, r.headers.get("Content-Type"), s.get("content_type")))
        # captures first: the response may refer to values captured in this very step
        for var, path in (s.get("capture") or {}).items():
            vars_[var] = get_path(actual, path)
        if s["response"] is None:
            if text != "":
                problems.append("%s: expected an empty body, got %r" % (where, text))
        else:
            problems += match(s["response"], actual, vars_, where, bool(s.get("unordered")))
    return problems


# --------------------------------------------------------------------------- main

def main():
    global FIXTURES
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("ZABBIX_ORACLE_URL", DEFAULT_URL))
    ap.add_argument("--only", action="append", default=[], help="record only transcripts whose name starts so")
    ap.add_argument("--no-restore", action="store_true", help="do not run setup.sh --restore before each transcript")
    ap.add_argument("--verify", action="store_true", help="replay the fixtures and compare, record nothing")
    ap.add_argument("--setup", default=os.path.join(HERE, "setup.sh"))
    ap.add_argument("--fixtures", default=FIXTURES, help="the fixture directory (default: %(default)s)")
    args = ap.parse_args()
    FIXTURES = os.path.abspath(args.fixtures)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    version = wait_ready(args.url)
    chosen = [t for t in TRANSCRIPTS if not args.only or any(t[0].startswith(o) for o in args.only)]
    if not chosen:
        sys.exit("no transcript matches %r" % args.only)
    total = 0
    failures = 0
    for name, description, fn in chosen:
        if not args.no_restore:
            restore(args.setup, log)
            wait_ready(args.url)
        if args.verify:
            with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as f:
                fx = json.load(f)
            problems = verify_one(args.url, fx)
            total += len(fx["steps"])
            failures += len(problems)
            for p in problems:
                log("MISMATCH " + p)
            log("%-22s %3d steps  %s" % (name, len(fx["steps"]), "ok" if not problems else "%d problems" % len(problems)))
        else:
            fx = record_one(args.url, name, description, fn, version)
            path = write_fixture(fx)
            total += len(fx["steps"])
            log("%-22s %3d steps -> %s" % (name, len(fx["steps"]), os.path.relpath(path, REPO)))
    log("%d transcripts, %d steps%s" % (len(chosen), total,
                                         (", %d mismatches" % failures) if args.verify else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
