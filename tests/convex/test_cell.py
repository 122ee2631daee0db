"""LatestValue: what a waiter is handed holds when it gets it."""

from __future__ import annotations

import pytest
import trio

from tina.convex import LatestValue


async def test_wait_for_never_hands_out_a_value_replaced_during_its_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The presence actor waited for a gateway, found one, and got None back because the
    # connection actor crashed (and cleared the cell) while it yielded: an AssertionError, a
    # restart of an actor that had nothing to do with the fault.
    cell: LatestValue[str | None] = LatestValue("gateway-1")
    real_checkpoint = trio.lowlevel.checkpoint

    armed = [True]

    async def connection_drops_meanwhile() -> None:
        if armed:  # the waiter's checkpoint only; later checkpoints are trio's own
            armed.clear()
            cell.set(None)
        await real_checkpoint()

    monkeypatch.setattr(trio.lowlevel, "checkpoint", connection_drops_meanwhile)
    got: list[str | None] = []

    async def waiter() -> None:
        got.append(await cell.wait_for(lambda g: g is not None))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # parked: None does not satisfy the predicate
        cell.set("gateway-2")
    assert got == ["gateway-2"]


async def test_wait_for_returns_at_once_when_the_value_already_holds() -> None:
    cell = LatestValue(3)
    assert await cell.wait_for(lambda v: v > 2) == 3
