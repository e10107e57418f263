"""Session fixtures for the interoperability tests.

One real tessera server runs for the whole session, on a free loopback port, with a fresh
SQLite database in a temporary directory. Tests create their own clients and users through
the real CLI (`tessera client add`, `tessera user add`, `tessera token issue`) against the
same database, and talk to the server only over HTTP, through third-party OAuth clients.

Every password, client secret and token string a test sees is remembered with
`Tessera.remember`, so that the last test can check the server never logged any of them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# Both libraries refuse plain http unless told otherwise; the server listens on loopback only.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 10.0

# Cheap password hashing: these tests are about the protocol, not about Argon2's cost.
FAST_HASHING = {"TESSERA_ARGON2_MEMORY_KIB": "1024", "TESSERA_ARGON2_ITERATIONS": "1"}

ADMIN_USERNAME = "Admin"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "last: run after every other test of the session (log checks)"
    )


def pytest_collection_modifyitems(session, config, items):
    """Move tests marked `last` to the end, whatever their file is called."""
    last = [item for item in items if item.get_closest_marker("last")]
    items[:] = [item for item in items if not item.get_closest_marker("last")] + last


def tessera_bin() -> Path:
    configured = os.environ.get("TESSERA_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "tessera"
    return path.resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Client:
    client_id: str
    client_secret: str


@dataclass
class Tessera:
    """A running tessera server and the CLI that manages its database."""

    binary: Path
    base_url: str
    database_url: str
    admin_password: str = field(repr=False)
    env: dict = field(repr=False)
    log_paths: list = field(repr=False)
    secrets: list = field(default_factory=list, repr=False)

    # ----- bookkeeping -----

    def remember(self, *values) -> None:
        """Remember secret strings (passwords, client secrets, tokens) for the log check."""
        for value in values:
            if isinstance(value, str) and value:
                self.secrets.append(value)

    def remember_token(self, token) -> None:
        """Remember the secret parts of a token response (a dict or an OAuth2Token)."""
        self.remember(token.get("access_token"), token.get("refresh_token"))

    def watch_log(self, *paths: Path) -> None:
        """Also look for this session's secrets in these files (another server's output)."""
        self.log_paths.extend(paths)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def token_url(self) -> str:
        return self.url("/oauth/token")

    @property
    def introspect_url(self) -> str:
        return self.url("/oauth/introspect")

    @property
    def revoke_url(self) -> str:
        return self.url("/oauth/revoke")

    @property
    def whoami_url(self) -> str:
        return self.url("/api/v1/whoami")

    # ----- the CLI -----

    def cli(self, *args: str, stdin: str | None = None) -> dict:
        """Run `tessera ARGS --json --database URL` and return its JSON output."""
        command = [str(self.binary), *args, "--json", "--database", self.database_url]
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CLI_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`tessera {' '.join(args)}` exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            pytest.fail(f"`tessera {' '.join(args)}` printed no JSON ({error}):\n{result.stdout}")

    def add_client(
        self,
        grants=("client_credentials", "password", "refresh_token"),
        scope: str = "read write",
    ) -> Client:
        client_id = unique("interop")
        args = ["client", "add", client_id]
        for grant in grants:
            args += ["--grant", grant]
        args += ["--scope", scope]
        output = self.cli(*args)
        assert output["client_id"] == client_id, output
        secret = output["client_secret"]
        assert isinstance(secret, str) and secret.startswith("tsr_"), output
        self.remember(secret)
        return Client(client_id, secret)

    def add_user(self, username: str | None = None) -> tuple[str, str]:
        username = username or unique("user")
        password = new_secret()
        self.remember(password)
        self.cli("user", "add", username, "--password-stdin", stdin=password + "\n")
        return username, password

    def issue_token(self, username: str) -> dict:
        output = self.cli("token", "issue", "--user", username)
        self.remember(output.get("token"))
        return output

    # ----- plain HTTP helpers (for what the libraries do not cover) -----

    def whoami(self, access_token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return requests.get(self.whoami_url, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def introspect(self, token: str, client: Client) -> requests.Response:
        return requests.post(
            self.introspect_url,
            data={"token": token},
            auth=(client.client_id, client.client_secret),
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    def server_log(self) -> str:
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in self.log_paths
            if path.exists()
        )


def _wait_until_ready(process: subprocess.Popen, base_url: str, stderr_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"tessera serve exited with {process.returncode} before it was ready\n"
                f"stderr:\n{stderr_path.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            response = requests.get(base_url + "/readyz", timeout=2)
            if response.status_code == 200:
                return
            last_problem = f"/readyz answered {response.status_code}"
        except requests.RequestException as error:
            last_problem = f"{type(error).__name__}: {error}"
        time.sleep(0.2)
    pytest.fail(
        f"tessera serve was not ready after {READY_TIMEOUT_SECONDS:.0f} s ({last_problem})\n"
        f"stderr:\n{stderr_path.read_text(errors='replace')}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def tessera(tmp_path_factory) -> Tessera:
    binary = tessera_bin()
    if not binary.is_file():
        pytest.fail(
            f"no tessera binary at {binary}: run `cargo build -p tessera` or set TESSERA_BIN",
            pytrace=False,
        )

    workdir = tmp_path_factory.mktemp("tessera")
    database_url = f"sqlite://{workdir / 'tessera.db'}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    admin_password = new_secret()

    env = {**os.environ, **FAST_HASHING}
    # As much logging as the server has, so the log check at the end sees everything.
    env.setdefault("TESSERA_LOG_LEVEL", "debug")
    env.setdefault("RUST_BACKTRACE", "1")
    server_env = {**env, "TESSERA_BOOTSTRAP_ADMIN_PASSWORD": admin_password}

    stdout_path = workdir / "server.stdout.log"
    stderr_path = workdir / "server.stderr.log"
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
        server = Tessera(
            binary=binary,
            base_url=base_url,
            database_url=database_url,
            admin_password=admin_password,
            env=env,
            log_paths=[stderr_path, stdout_path],
        )
        server.remember(admin_password)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def client(tessera) -> Client:
    """A fresh confidential client allowed every grant and the scope "read write"."""
    return tessera.add_client()
