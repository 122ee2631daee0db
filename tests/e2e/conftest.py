"""End-to-end fixtures: a local backend with auth keys and an enrollment secret, laptops
running the real daemon over real files, real git worktrees and a real tmux server, and a
signed-in dashboard user talking to the backend over its HTTP API."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import Api
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


def sign_up(url: str, email: str, password: str = "correct horse battery staple") -> Api:
    return Api(url).signed_in(email, password, flow="signUp")


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
