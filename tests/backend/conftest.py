"""Fixtures of the local backend's contract tests: the fixture project in
``convex-local/contract/convex`` (message lists, errors, identity, scheduler,
an internal function, HTTP routes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tina.dev.backend import REPO_ROOT, BackendOptions, BackendProcess

CONTRACT_FUNCTIONS_DIR = REPO_ROOT / "convex-local" / "contract" / "convex"
SCENARIOS = Path(__file__).with_name("convex_py_scenarios.py")

ScenarioArgv = Callable[..., list[str]]
RunScenario = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def contract_functions_dir() -> Path:
    return CONTRACT_FUNCTIONS_DIR


@pytest.fixture(scope="session")
def _contract_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("contract-backend") / "backend.log"
    options = BackendOptions(
        port=0,
        functions_dir=CONTRACT_FUNCTIONS_DIR,
        env={"CONTRACT_GREETING": "hello from pytest"},
    )
    process = BackendProcess(options, log_path=log_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def contract_backend(_contract_process: BackendProcess) -> BackendProcess:
    """The contract fixture project on a shared local backend, with empty tables."""
    return _contract_process.fresh()


@pytest.fixture(scope="session")
def scenario_argv() -> ScenarioArgv:
    """The command that runs one official-Python-client scenario in its own interpreter."""

    def argv(name: str, url: str, *args: str) -> list[str]:
        return [sys.executable, str(SCENARIOS), name, url, *args]

    return argv


@pytest.fixture(scope="session")
def run_scenario(scenario_argv: ScenarioArgv) -> RunScenario:
    """Runs a scenario to completion and returns its JSON lines."""

    def run(name: str, url: str, *args: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        done = subprocess.run(
            scenario_argv(name, url, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"scenario {name} failed:\n{done.stdout}\n{done.stderr}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    return run
