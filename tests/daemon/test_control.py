from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tina.daemon import control


@pytest.fixture
def sock_path() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~100 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tina-") as d:
        yield Path(d) / "state" / "daemon.sock"


async def test_status_round_trip_and_private_socket(sock_path: Path) -> None:
    calls = 0

    def snapshot() -> dict[str, object]:
        nonlocal calls
        calls += 1
        return {"node": "a", "calls": calls}

    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, sock_path, snapshot)
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock_path.parent.stat().st_mode) == 0o700
        first = await trio.to_thread.run_sync(control.request_status, sock_path)
        second = await trio.to_thread.run_sync(control.request_status, sock_path)
        assert (first, second) == ({"node": "a", "calls": 1}, {"node": "a", "calls": 2})
        nursery.cancel_scope.cancel()
    assert not sock_path.exists()


async def test_a_stale_socket_is_replaced(sock_path: Path) -> None:
    sock_path.parent.mkdir(parents=True)
    sock_path.write_text("stale")
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, sock_path, lambda: {"ok": True})
        assert await trio.to_thread.run_sync(control.request_status, sock_path) == {"ok": True}
        nursery.cancel_scope.cancel()


def test_no_daemon(sock_path: Path) -> None:
    with pytest.raises(control.ControlError, match="no daemon is running"):
        control.request_status(sock_path)
