"""Fixtures for tests that need a Convex backend: the local one (``convex-local/``).

- ``convex_backend``: the repository's ``convex/`` functions, one server per
  test session, emptied before each test (``BackendProcess.reset``). Use
  ``.url`` with any Convex client.
- ``backend_factory``: starts servers of your own, e.g. with ``--env`` values,
  another functions folder, a fixed port, a ``state_file`` (the database then
  survives ``process.restart()``, as a real deployment's does; without one a
  restart comes back empty) or ``verify_tokens=True``; all are stopped after
  the test.

Fixtures are synchronous (they block for the ~0.5 s a start takes). In trio
tests, call ``restart`` through ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tina.dev.backend import DEFAULT_FUNCTIONS_DIR, BackendOptions, BackendProcess

BackendFactory = Callable[..., BackendProcess]


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[BackendFactory]:
    started: list[BackendProcess] = []

    def start(
        *,
        functions_dir: Path = DEFAULT_FUNCTIONS_DIR,
        env: Mapping[str, str] | None = None,
        port: int = 0,
        ping_ms: int | None = None,
        trace: bool = False,
        state_file: Path | None = None,
        verify_tokens: bool = False,
    ) -> BackendProcess:
        options = BackendOptions(
            port=port,
            functions_dir=functions_dir,
            env=dict(env or {}),
            ping_ms=ping_ms,
            trace=trace,
            state_file=state_file,
            verify_tokens=verify_tokens,
        )
        process = BackendProcess(options, log_path=tmp_path / f"backend-{len(started)}.log")
        started.append(process)
        process.start()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="session")
def _session_convex_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("convex-backend") / "backend.log"
    process = BackendProcess(BackendOptions(port=0), log_path=log_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def convex_backend(_session_convex_backend: BackendProcess) -> BackendProcess:
    """The repository's functions on a local backend, with empty tables."""
    return _session_convex_backend.fresh()
