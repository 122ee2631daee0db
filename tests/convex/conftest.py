"""Fixtures for the Convex client's tests: the in-memory fake peer, a client factory, and a
local backend running the contract fixture project (`convex-local/contract/convex`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio
from convex_fakes import CONTRACT_FUNCTIONS_DIR, ClientFactory, FakeConvex

from tina.convex import Backoff, ConvexClient, open_convex_client
from tina.dev.backend import BackendOptions, BackendProcess


@pytest.fixture
def transport() -> str:
    """The client's WebSocket implementation; parametrize ``transport`` to run others."""
    return "wsproto"


@pytest.fixture
async def fake(transport: str) -> AsyncIterator[FakeConvex]:
    async with trio.open_nursery() as nursery:
        try:
            yield FakeConvex(nursery, transport)
        finally:
            nursery.cancel_scope.cancel()


@pytest.fixture
def open_client(fake: FakeConvex) -> ClientFactory:
    """``async with open_client(**overrides) as client`` against the fake; no jitter."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[ConvexClient]:
        options: dict[str, Any] = {
            "connect": fake.connect,
            "rand": lambda: 0.5,
            "backoff": Backoff(initial=1.0, maximum=16.0, jitter=0.5),
            "session_id": "11111111-2222-3333-4444-555555555555",
        }
        options.update(overrides)
        return open_convex_client("http://fake.convex", **options)

    return factory


@pytest.fixture(scope="session")
def _client_contract_backend(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("convex-client-backend") / "backend.log"
    process = BackendProcess(
        BackendOptions(port=0, functions_dir=CONTRACT_FUNCTIONS_DIR), log_path=log_path
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def contract_backend_url(_client_contract_backend: BackendProcess) -> str:
    """URL of a local backend running the contract fixture project, with empty tables."""
    return _client_contract_backend.fresh().url
