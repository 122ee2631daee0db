"""The watch hub over real files and the real watchfiles backend (real clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tina.watch import Inbox, WatchHub, _roots


async def next_paths(inbox: Inbox, timeout: float = 5.0) -> tuple[set[Path], bool]:
    with trio.fail_after(timeout):
        return await inbox.get()


async def changed(inbox: Inbox, want: Path, timeout: float = 5.0) -> set[Path]:
    seen: set[Path] = set()
    with trio.fail_after(timeout):
        while want not in seen:
            paths, _ = await inbox.get()
            seen |= paths
    return seen


def test_minimal_roots(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert _roots([a / "x", a, b, b / "y" / "z"]) == [a, b]


@pytest.mark.timeout(30)
async def test_routes_changes_by_prefix_and_rescans_on_new_roots(tmp_path: Path) -> None:
    claude, wt = tmp_path / "claude", tmp_path / "wt" / ".claude" / "tina"
    claude.mkdir()
    wt.mkdir(parents=True)
    hub = WatchHub(debounce_ms=30, step_ms=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        teams = hub.subscribe(claude)
        assert (await next_paths(teams))[1] is True  # the first watch starts with a rescan
        await trio.sleep(0.3)
        (claude / "t.json").write_text("{}")
        got = await changed(teams, claude / "t.json")
        assert all(claude in p.parents for p in got)
        worktree = hub.subscribe(wt)
        _, rescan = await next_paths(worktree)
        assert rescan
        await trio.sleep(0.3)
        (wt / "supervisor-state.json").write_text("{}")
        await changed(worktree, wt / "supervisor-state.json")
        assert teams.depth == 0  # not routed to the other subscriber
        hub.unsubscribe(wt, worktree)
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(30)
async def test_a_missing_root_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    later = tmp_path / "later"
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(later)
        await trio.sleep(0.1)
        assert inbox.depth == 0
        later.mkdir()
        _, rescan = await next_paths(inbox, timeout=8)
        assert rescan
        await trio.sleep(0.3)
        (later / "x").write_text("1")
        await changed(inbox, later / "x")
        nursery.cancel_scope.cancel()
