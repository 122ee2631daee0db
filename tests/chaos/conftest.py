"""Fixtures of the chaos suite: a local backend that keeps its database across its own restarts
(a state file), the deployment's offline threshold from the suite's size, sandbox laptops that
are always cleaned up, and the dashboard's owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import Api, Sizes, auth_env, make_laptop, sign_up, sizes


@pytest.fixture
def chaos() -> Sizes:
    return sizes()


@pytest.fixture
def backend(
    backend_factory: Callable[..., BackendProcess], tmp_path: Path, chaos: Sizes
) -> BackendProcess:
    env = auth_env(TINA_OFFLINE_AFTER_MS=str(chaos.offline_after_ms))
    return backend_factory(env=env, state_file=tmp_path / "convex-state.json")


@pytest.fixture
def owner(backend: BackendProcess) -> Api:
    return sign_up(backend.url, "owner@example.com")


@pytest.fixture
def laptop_factory(tmp_path: Path, backend: BackendProcess) -> Iterator[Callable[[str], Laptop]]:
    made: list[Laptop] = []

    def make(name: str) -> Laptop:
        laptop = make_laptop(tmp_path, name, backend.url)
        made.append(laptop)
        return laptop

    try:
        yield make
    finally:
        for laptop in made:
            laptop.close()
