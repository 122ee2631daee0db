"""End-to-end fixtures: a local backend with auth keys and an enrollment secret, laptops
running the real daemon over real files, real git worktrees and a real tmux server, and a
signed-in dashboard user talking to the backend over its HTTP API."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import BIN, Laptop

ENROLLMENT_SECRET = "e2e-enrollment-secret-0123456789"
KEYS = Path(__file__).parents[1] / "fixtures" / "auth-keys"


def auth_env() -> dict[str, str]:
    env = {"TINA_ENROLLMENT_SECRET": ENROLLMENT_SECRET}
    for name in ("JWT_PRIVATE_KEY", "JWKS"):
        path = KEYS / name
        if path.exists():
            env[name] = path.read_text().strip()
    return env


class Api:
    """Convex's HTTP function API, as the dashboard's user (or anonymous)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        body = json.dumps({"path": path, "format": "convex_encoded_json", "args": [args]}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            f"{self.url}/api/{kind}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            doc = json.loads(err.read() or b"{}")
            raise ApiError(doc.get("errorMessage", str(err)), doc.get("errorData")) from None
        return doc["value"]

    def query(self, path: str, **args: Any) -> Any:
        return self.call("query", path, args)

    def mutation(self, path: str, **args: Any) -> Any:
        return self.call("mutation", path, args)

    def action(self, path: str, **args: Any) -> Any:
        return self.call("action", path, args)


class ApiError(Exception):
    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.data = data


def sign_up(url: str, email: str, password: str = "correct horse battery staple") -> Api:
    out = Api(url).action(
        "auth:signIn",
        provider="password",
        params={"email": email, "password": password, "flow": "signUp"},
    )
    return Api(url, out["tokens"]["token"])


@pytest.fixture
def backend(backend_factory: Callable[..., BackendProcess]) -> BackendProcess:
    return backend_factory(env=auth_env())


@pytest.fixture
def owner(backend: BackendProcess) -> Api:
    """The first account on the deployment: the owner."""
    return sign_up(backend.url, "owner@example.com")


@pytest.fixture
def laptop_factory(tmp_path: Path, backend: BackendProcess) -> Iterator[Callable[[str], Laptop]]:
    made: list[Laptop] = []

    def make(name: str = "laptop-a") -> Laptop:
        lt = Laptop(tmp_path / name, name, backend.url, enrollment_secret=ENROLLMENT_SECRET)
        made.append(lt)
        return lt

    try:
        yield make
    finally:
        for lt in made:
            lt.close()


@pytest.fixture
def laptop(laptop_factory: Callable[[str], Laptop]) -> Laptop:
    return laptop_factory("laptop-a")


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns a truthy value (returned) or raises no AssertionError."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError as exc:
            last = exc
        time.sleep(interval)
    if last is not None:
        raise last
    raise AssertionError(f"condition not met within {timeout} s")


def run_hook(laptop: Laptop, event: dict[str, Any], env: dict[str, str] | None = None) -> None:
    """`tina hook` with the event on stdin, as Claude Code runs it (`env`: more environment,
    e.g. the `TMUX_PANE` of a pane teammate's hooks)."""
    done = subprocess.run(
        [str(BIN / "tina"), "hook"],
        input=json.dumps(event).encode(),
        env=laptop.env(env),
        capture_output=True,
        cwd=laptop.root,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
