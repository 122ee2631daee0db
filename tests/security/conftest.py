"""Fixtures of the over-the-wire security tests: the repository's ``convex/`` functions on a
local backend that can run Convex Auth (test-only JWT keys) and laptop enrollment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from security_wire import Wire

from tina.dev.backend import REPO_ROOT, BackendOptions, BackendProcess

# A committed, test-only key pair (see its README): tokens signed with it prove nothing.
AUTH_KEYS = REPO_ROOT / "tests" / "fixtures" / "auth-keys"
ENROLLMENT_SECRET = "wire-test-enrollment-secret-0123456789"
PASSWORD = "correct horse battery staple"


def backend_env() -> dict[str, str]:
    env = {name: (AUTH_KEYS / name).read_text().strip() for name in ("JWT_PRIVATE_KEY", "JWKS")}
    return {**env, "TINA_ENROLLMENT_SECRET": ENROLLMENT_SECRET}


@pytest.fixture(scope="session")
def security_backend_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("security-backend") / "backend.log"
    process = BackendProcess(BackendOptions(port=0, env=backend_env()), log_path=log_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def wire(security_backend_process: BackendProcess) -> Wire:
    """The functions on a local backend with empty tables, spoken to over HTTP."""
    return Wire(security_backend_process.fresh().url)
