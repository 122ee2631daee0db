"""The watch hub over real files and the real watchfiles backend (real clock)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
import trio

from tina.daemon.watch import Inbox, WatchHub, _roots, undecodable_path


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


async def write_until_seen(inbox: Inbox, path: Path, timeout: float = 10.0) -> set[Path]:
    """Write ``path`` until its change reaches ``inbox``: the OS watch may still be starting
    (a sentinel instead of a fixed sleep before the write)."""
    seen: set[Path] = set()
    with trio.fail_after(timeout):
        for attempt in range(10**6):
            path.write_text(str(attempt))
            with trio.move_on_after(0.25):
                while path not in seen:
                    paths, _ = await inbox.get()
                    seen |= paths
            if path in seen:
                return seen
    raise AssertionError("unreachable")


async def rescanned(inbox: Inbox, timeout: float = 10.0) -> None:
    """Wait for a rescan request (changed paths seen on the way are dropped)."""
    with trio.fail_after(timeout):
        while not (await inbox.get())[1]:
            pass


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


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
        got = await write_until_seen(teams, claude / "t.json")
        assert all(claude in p.parents for p in got)
        worktree = hub.subscribe(wt)
        _, rescan = await next_paths(worktree)
        assert rescan
        await write_until_seen(worktree, wt / "supervisor-state.json")
        # Routing is synchronous: what reached `teams` meanwhile (a late event of t.json at
        # most) is all under its own root.
        if teams.depth:
            paths, _ = await teams.get()
            assert all(claude in p.parents for p in paths)
        hub.unsubscribe(wt, worktree)
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(30)
async def test_a_missing_root_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    later, present = tmp_path / "later", tmp_path / "present"
    present.mkdir()
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(later)
        sentinel = hub.subscribe(present)
        await rescanned(sentinel)
        await write_until_seen(sentinel, present / "s")  # the watch runs
        assert inbox.depth == 0  # nothing routed to a root that does not exist
        later.mkdir()
        await rescanned(inbox, timeout=8)
        await write_until_seen(inbox, later / "x")
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
        inboxes = []
        for root in roots:
            inboxes.append(hub.subscribe(root))
            await trio.sleep(0.001)
        for inbox in inboxes:  # every subscriber is rescanned once the burst is watched
            await rescanned(inbox)
        assert starts[-1] == 50
        nursery.cancel_scope.cancel()
    assert len(starts) <= 3


# --- names that are not UTF-8 -------------------------------------------------------------------


def make_bad_dir(parent: Path, name: bytes) -> bytes:
    path = os.fsencode(parent) + b"/" + name
    os.mkdir(path)
    return path


def test_the_path_in_watchfiles_error_is_read_back_as_bytes() -> None:
    message = (
        'Unable to decode path "/tmp/c/q\\"b\\\\s\\nn\\tt\\u{1}\u00e9\\u{200b} z\\xFF" to string'
    )
    assert undecodable_path(message) == '/tmp/c/q"b\\s\nn\tt\x01\u00e9\u200b z'.encode() + b"\xff"
    assert undecodable_path("error in underlying watcher: boom") is None


@pytest.mark.timeout(60)
async def test_a_name_that_is_not_utf8_never_stops_the_watch(tmp_path: Path) -> None:
    """watchfiles raises on such a name (at once when it is a directory: its own walk opens it)
    and poisons that watcher for good. The hub logs the path once, rescans that root every
    second instead, keeps watching the others, and watches it again once the name is gone."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    bad_dir = make_bad_dir(bad, b"dir\xfe")
    hub = WatchHub()
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            good_inbox, bad_inbox = hub.subscribe(good), hub.subscribe(bad)
            await until(lambda: hub.detail()["polled"] == 1)
            await write_until_seen(good_inbox, good / "1.json")  # the other root is watched
            await rescanned(bad_inbox)  # the restart's rescan (or the first poll)
            await rescanned(bad_inbox)  # polled: again and again
            await write_until_seen(good_inbox, good / "2.json")

            shutil.rmtree(bad_dir)
            await write_until_seen(bad_inbox, bad / "3.json", timeout=15)  # watched again
            assert hub.detail()["polled"] == 0

            # A bad file appearing later in a watched root: polled again, logged once.
            bad_file = os.fsencode(good) + b"/bad\xff.json"
            fd = os.open(bad_file, os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
            await until(lambda: hub.detail()["polled"] == 1)
            await rescanned(good_inbox)  # a rescan left from a restart, or the first poll
            await rescanned(good_inbox)  # polled
            await write_until_seen(bad_inbox, bad / "4.json")  # the other root is still watched
            nursery.cancel_scope.cancel()
    warnings = [e for e in logs if e["event"] == "watch.undecodable_path"]
    assert [(e["path"], e["root"]) for e in warnings] == [
        (repr(bad_dir), str(bad)),
        (repr(bad_file), str(good)),
    ]
