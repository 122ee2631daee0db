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


def test_minimal_roots_many_and_nested(tmp_path: Path) -> None:
    worktrees = [
        tmp_path / "repos" / f"r{i}" / ".worktrees" / f"f{i}" / ".claude" / "tina"
        for i in range(300)
    ]
    claude = tmp_path / "home" / ".claude"
    got = _roots([*worktrees, claude, claude / "teams", claude / "tasks", worktrees[0] / "phase-1"])
    assert got == sorted([claude, *worktrees], key=lambda p: (len(p.parts), str(p)))


def test_a_change_goes_to_every_root_that_contains_it(tmp_path: Path) -> None:
    hub = WatchHub()
    outer, inner, other = tmp_path / "a", tmp_path / "a" / "b", tmp_path / "c"
    inboxes = {root: hub.subscribe(root) for root in (outer, inner, other)}
    hub._route(
        {(1, str(inner / "x.json")), (1, str(outer / "y.json")), (1, str(tmp_path / "elsewhere"))}
    )
    assert inboxes[outer].depth == 2
    assert inboxes[inner].depth == 1
    assert inboxes[other].depth == 0


@pytest.mark.timeout(30)
async def test_a_burst_of_new_subscriptions_restarts_the_watch_once(tmp_path: Path) -> None:
    """Discovery starts one watcher per worktree at start-up: one restart for all, not one each."""
    starts: list[int] = []

    async def fake_awatch(*roots: Path, stop_event: trio.Event, **_: object):  # type: ignore[no-untyped-def]
        starts.append(len(roots))
        await stop_event.wait()
        return
        yield  # an async generator

    roots = [tmp_path / f"wt{i}" for i in range(50)]
    for root in roots:
        root.mkdir()
    hub = WatchHub(awatch=fake_awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        hub.subscribe(tmp_path / "claude-missing")
        await trio.sleep(0.2)
        for root in roots:
            hub.subscribe(root)
            await trio.sleep(0.001)
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    assert starts[-1] == 50
    assert len(starts) <= 3
