"""The watch hub over real files and its real backends (real clock): inotify on Linux, and
watchfiles (what macOS gets, and the fallback)."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
import trio
import trio.testing
import watchfiles

import tina.daemon.watch as watch_module
from tina.daemon import inotify
from tina.daemon.pace import Pace
from tina.daemon.watch import Inbox, WatchHub, _roots, undecodable_path

BACKENDS = [
    pytest.param(watchfiles.awatch, id="watchfiles"),
    pytest.param(
        inotify.awatch,
        id="inotify",
        marks=pytest.mark.skipif(not inotify.available(), reason="no inotify here"),
    ),
]


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
@pytest.mark.parametrize("backend", BACKENDS)
async def test_routes_changes_by_prefix_and_rescans_on_new_roots(
    tmp_path: Path, backend: Callable[..., object]
) -> None:
    claude, wt = tmp_path / "claude", tmp_path / "wt" / ".claude" / "tina"
    claude.mkdir()
    wt.mkdir(parents=True)
    hub = WatchHub(debounce_ms=30, step_ms=10, awatch=backend)
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
@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_missing_root_is_picked_up_when_it_appears(
    tmp_path: Path, backend: Callable[..., object]
) -> None:
    later, present = tmp_path / "later", tmp_path / "present"
    present.mkdir()
    hub = WatchHub(awatch=backend)
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


@pytest.mark.timeout(60)
@pytest.mark.skipif(not inotify.available(), reason="no inotify here")
async def test_with_inotify_roots_added_one_by_one_grow_the_watch_without_restarts(
    tmp_path: Path,
) -> None:
    """Worktree watchers that start one by one, slower than a burst settles (a busy start-up):
    each new root joins the running inotify watch and only its own subscriber rescans; the
    first root is neither watched again nor rescanned (it was once per new root: quadratic)."""
    first = tmp_path / "first"
    first.mkdir()
    roots = [tmp_path / f"wt{i}" for i in range(12)]
    for root in roots:
        root.mkdir()
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(first)
        await rescanned(inbox)
        await write_until_seen(inbox, first / "x")
        restarts = hub.restarts
        inboxes = []
        for root in roots:
            inboxes.append(hub.subscribe(root))
            await trio.sleep(0.08)  # longer than a burst's settle time: no coalescing
        for root, mine in zip(roots, inboxes, strict=True):
            await rescanned(mine)  # its own rescan, once its tree is watched
            await write_until_seen(mine, root / "supervisor-state.json")
        assert hub.restarts == restarts
        assert hub.grown >= 1
        # The first root's inbox saw no rescan request since: only its own change, if any.
        assert not inbox.rescan_requested
        while inbox.depth:
            paths, rescan = await inbox.get()
            assert not rescan
            assert all(first in p.parents for p in paths)
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(30)
@pytest.mark.skipif(not inotify.available(), reason="no inotify here")
async def test_with_inotify_a_new_watch_asks_for_its_rescan_once_it_is_watching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """inotify sets up a new watch in a worker thread. A subscriber asked to rescan before that
    thread is done could rescan, then miss a file written before the watch existed: no event
    comes for it, and no rescan after it (a team config written just as the daemon started was
    never synced). The request must come once the watch is in place."""
    root = tmp_path / "root"
    root.mkdir()
    entered, gate = threading.Event(), threading.Event()
    real = inotify._watch_roots

    def held(roots: list[bytes], drop: int = 0) -> inotify.Inotify:
        entered.set()
        gate.wait(20)
        return real(roots, drop)

    monkeypatch.setattr(inotify, "_watch_roots", held)
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(root)
        await until(entered.is_set)
        await trio.testing.wait_all_tasks_blocked()
        # The subscriber does what it was asked so far (a rescan would find nothing yet)...
        while inbox.rescan_requested or inbox.depth:
            await inbox.get()
        # ...then a file is written while the watch is still being set up.
        (root / "late.json").write_text("{}")
        gate.set()
        paths, rescan = await next_paths(inbox, timeout=10)
        assert rescan or root / "late.json" in paths
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(30)
async def test_with_inotify_a_root_given_up_restarts_the_watch_without_a_change_on_disk(
    tmp_path: Path,
) -> None:
    """A root whose last subscriber goes shrinks the watch: the running watch, waiting on the
    OS with nothing changing on disk, is woken to stop and a new one starts over the roots
    left (a subscriber there is asked to rescan)."""
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    kept.mkdir()
    dropped.mkdir()
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(kept)
        other = hub.subscribe(dropped)
        await rescanned(inbox)
        await write_until_seen(other, dropped / "x")
        restarts = hub.restarts
        hub.unsubscribe(dropped, other)
        await until(lambda: hub.restarts > restarts)
        await rescanned(inbox)
        await write_until_seen(inbox, kept / "y")
        nursery.cancel_scope.cancel()


def test_routing_walks_every_ancestor_absolute_or_relative(tmp_path: Path) -> None:
    """A change goes to each subscribed root that holds it, up to "/" (or "." for a relative
    path), and to no other."""
    hub = WatchHub()
    roots = [tmp_path, tmp_path / "a", Path("rel"), Path("."), tmp_path / "b"]
    inboxes = [hub.subscribe(root) for root in roots]
    hub._route({(1, str(tmp_path / "a" / "f.json")), (1, "rel/sub/g.json")})
    assert [inbox.depth for inbox in inboxes] == [1, 1, 1, 1, 0]


def test_routing_remembers_a_directory_s_roots_only_until_subscriptions_change(
    tmp_path: Path,
) -> None:
    """A directory's roots are looked up once; a root subscribed or dropped afterwards gets (or
    stops getting) the directory's changes, and a root that is a file gets its own changes."""
    hub = WatchHub()
    project = tmp_path / "projects" / "p"
    outer = hub.subscribe(tmp_path / "projects")
    change = {(1, str(project / "s.jsonl"))}
    hub._route(change)
    assert outer.depth == 1
    inner = hub.subscribe(project)  # after the directory was routed once
    hub._route({(1, str(project / "t.jsonl"))})
    assert (outer.depth, inner.depth) == (2, 1)
    hub.unsubscribe(tmp_path / "projects", outer)
    hub._route({(1, str(project / "u.jsonl"))})
    assert (outer.depth, inner.depth) == (2, 2)
    single = hub.subscribe(project / "v.json")
    hub._route({(1, str(project / "v.json"))})
    assert (single.depth, inner.depth) == (1, 3)


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
    hub = WatchHub(awatch=watchfiles.awatch)
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


# --- the inotify backend ------------------------------------------------------------------------

needs_inotify = pytest.mark.skipif(not inotify.available(), reason="no inotify here")


class Seen:
    """What an `inotify.awatch` over `roots` has yielded, as it runs in a nursery."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.rescans: set[str] = set()
        self.ended = trio.Event()
        self.stop = trio.Event()
        self.changed = trio.Event()

    async def run(self, *roots: Path) -> None:
        async for changes in inotify.awatch(*roots, stop_event=self.stop, debounce=30, step=10):
            for kind, path in changes:
                (self.rescans if kind == inotify.RESCAN else self.paths).add(path)
            self.changed.set()
            self.changed = trio.Event()
        self.ended.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await self.changed.wait()

    async def write_until_seen(self, path: Path, timeout: float = 10.0) -> None:
        """Write `path` until it is reported (the watch may still be setting up)."""
        with trio.fail_after(timeout):
            for attempt in range(10**6):
                path.write_text(str(attempt))
                with trio.move_on_after(0.25):
                    await self.until(lambda: str(path) in self.paths)
                if str(path) in self.paths:
                    return


@needs_inotify
@pytest.mark.timeout(30)
async def test_inotify_reports_changes_in_new_and_moved_directories(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "old").mkdir(parents=True)
    seen = Seen()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(seen.run, root)
        await seen.write_until_seen(root / "a.json")  # the watch is up
        # A directory tree made at once: what it holds when its watch is added is reported too.
        deep = root / "new" / "b" / "c"
        deep.mkdir(parents=True)
        (deep / "f.json").write_text("x")
        await seen.until(lambda: str(deep / "f.json") in seen.paths)
        (deep / "g.json").write_text("y")  # and it is watched from then on
        await seen.until(lambda: str(deep / "g.json") in seen.paths)
        # A subdirectory that existed at the start is watched.
        (root / "old" / "h.json").write_text("z")
        await seen.until(lambda: str(root / "old" / "h.json") in seen.paths)
        # A directory renamed inside the root: its files are reported under the new name.
        (root / "old").rename(root / "renamed")
        (root / "renamed" / "i.json").write_text("w")
        await seen.until(lambda: str(root / "renamed" / "i.json") in seen.paths)
        assert str(root / "old" / "i.json") not in seen.paths
        # A directory moved in from outside is watched; moved out, it is no longer reported.
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "j.json").write_text("v")
        outside.rename(root / "moved-in")
        await seen.until(lambda: str(root / "moved-in" / "j.json") in seen.paths)
        (root / "moved-in" / "k.json").write_text("u")
        await seen.until(lambda: str(root / "moved-in" / "k.json") in seen.paths)
        (root / "moved-in").rename(tmp_path / "gone")
        await seen.until(lambda: str(root / "moved-in") in seen.paths)
        seen.stop.set()
        await seen.ended.wait()


@needs_inotify
@pytest.mark.timeout(30)
async def test_inotify_names_that_are_not_utf8_are_reported_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    bad_dir = make_bad_dir(root, b"dir\xfe")
    seen = Seen()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(seen.run, root)
        await seen.write_until_seen(root / "a.json")
        fd = os.open(bad_dir + b"/bad\xff.json", os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
        await seen.until(lambda: os.fsdecode(bad_dir + b"/bad\xff.json") in seen.paths)
        await seen.write_until_seen(root / "b.json")
        seen.stop.set()


@needs_inotify
@pytest.mark.timeout(60)
async def test_inotify_lingering_takes_a_busy_batch_on_its_timer_and_idles_on_the_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `linger`, a change made while the last batch is handed over comes in on the
    look-again timer (no wait on the fd); a look that finds nothing goes back to the fd."""
    waits = 0
    real = trio.lowlevel.wait_readable

    async def counting(fd: int) -> None:
        nonlocal waits
        waits += 1
        await real(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_readable", counting)
    root = tmp_path / "root"
    root.mkdir()
    stop = trio.Event()
    send, receive = trio.open_memory_channel[set[Path]](100)

    async def run() -> None:
        async for changes in inotify.awatch(
            root, stop_event=stop, step=1000, debounce=1000, linger=True
        ):
            await send.send({Path(p) for _, p in changes})

    async def batch_with(path: Path, timeout: float) -> set[Path]:
        seen: set[Path] = set()
        with trio.move_on_after(timeout):
            while path not in seen:
                seen |= await receive.receive()
        return seen

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        a, b, c = root / "a.jsonl", root / "b.jsonl", root / "c.jsonl"
        await until(lambda: waits == 1)  # the watch is set up and waits on the fd
        a.write_text("a")
        assert a in await batch_with(a, 10)
        b.write_text("b")  # while the watch lingers
        assert b in await batch_with(b, 10)
        await until(lambda: waits == 2)  # a look found nothing: back on the fd
        c.write_text("c")
        assert c in await batch_with(c, 10)
        assert waits == 2  # a's wait, then the one after the empty look: none for b
        stop.set()
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(60)
async def test_watchfiles_takes_its_waits_from_the_pace_and_starts_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS's backend takes its waits once, as it starts: while lazy, what is written gathers
    into one batch for the lazy wait (not the quick 600 ms); a change of pace starts the watch
    again with the other waits, and its subscribers rescan what changed meanwhile."""
    calls: list[tuple[int, int, int]] = []

    def spy(*roots: Path, **kwargs: object) -> object:
        calls.append((kwargs["debounce"], kwargs["step"], kwargs["rust_timeout"]))  # type: ignore[arg-type]
        return watchfiles.awatch(*roots, **kwargs)  # type: ignore[arg-type]

    # A lazy batch ends after 2 s without a write (so only a stall of the writes that long, not
    # a busy machine, could end it early), or 4 s after it began.
    monkeypatch.setattr(watch_module, "LAZY_STEP_MS", 2000)
    pace = Pace(lazy_s=4.0)
    pace.set_quick(False)
    hub = WatchHub(debounce_ms=600, step_ms=600, awatch=spy, pace=pace)
    root = tmp_path / "root"
    root.mkdir()
    inbox = hub.subscribe(root)
    written = root / "a.jsonl"
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        assert (await next_paths(inbox))[1]  # the first watch's rescan: it is in place
        assert calls == [(4000, 2000, 4000)]
        began = trio.current_time()
        paths: set[Path] = set()
        with trio.fail_after(20):
            for i in itertools.count():  # written until the batch comes, 100 ms apart at most
                written.write_text(str(i))
                with trio.move_on_after(0.1):
                    paths, _ = await inbox.get()
                if paths:
                    break
        assert written in paths
        # Never 2 s without a write: only the lazy wait (4 s) ends the batch; quick, ~1.2 s.
        assert trio.current_time() - began >= 3.5
        pace.set_quick(True)  # a dashboard opened
        await rescanned(inbox, timeout=20)
        assert hub.repaced == 1
        assert calls[1:] == [(600, 600, 500)]
        written.write_text("quick")
        assert written in await changed(inbox, written, timeout=20)
        pace.set_quick(False)
        await rescanned(inbox, timeout=20)
        assert calls[2:] == [(4000, 2000, 4000)]
        nursery.cancel_scope.cancel()


@needs_inotify
@pytest.mark.timeout(60)
async def test_inotify_with_a_lazy_pace_holds_a_batch_until_the_pace_goes_quick(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lazy pace stretches the batch (and the look again after it) to its lazy wait (an
    hour, on a clock that jumps); going quick cuts a wait in progress short and the batch comes
    at once."""
    on_fd = trio.Event()  # the watch waits on the OS again
    real = trio.lowlevel.wait_readable

    async def waiting(fd: int) -> None:
        on_fd.set()
        await real(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_readable", waiting)
    root = tmp_path / "root"
    root.mkdir()
    stop = trio.Event()
    pace = Pace(lazy_s=3600)
    pace.set_quick(False)
    grow = inotify.Grow()
    batches: list[tuple[float, set[Path]]] = []
    watching = trio.Event()
    batched = trio.Event()  # a batch came (waited on, not polled: the clock would tick to it)

    async def run() -> None:
        async for changes in inotify.awatch(
            root,
            stop_event=stop,
            step=50,
            debounce=50,
            linger=True,
            grow=grow,
            pace=pace,
            watching=watching,
        ):
            batches.append((trio.current_time(), {Path(p) for _, p in changes}))
            batched.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await watching.wait()
        began = trio.current_time()
        (root / "a.jsonl").write_text("a")
        await batched.wait()
        at, paths = batches[0]
        assert paths == {root / "a.jsonl"}
        assert at - began >= 3600  # the lazy wait, not the 50 ms step
        on_fd = trio.Event()
        await on_fd.wait()  # its look again an hour later found nothing
        assert trio.current_time() - at >= 3600
        # From here the clock runs at the real rate and never jumps: a batch held for its
        # lazy hour can only come early because the pace went quick.
        autojump_clock.autojump_threshold = math.inf
        autojump_clock.rate = 1.0
        (root / "b.jsonl").write_text("b")
        await trio.testing.wait_all_tasks_blocked()  # the watch read it and sleeps its hour
        assert len(batches) == 1
        assert pace.holding == 1  # what the daemon's status shows as changes waiting
        batched = trio.Event()
        pace.set_quick(True)  # a dashboard opened
        await batched.wait()
        assert batches[1][1] == {root / "b.jsonl"}
        stop.set()
        grow.interrupt()


@needs_inotify
@pytest.mark.timeout(30)
async def test_inotify_ends_when_its_root_goes_away(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    seen = Seen()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(seen.run, root)
        await seen.write_until_seen(root / "sub" / "a.json")
        shutil.rmtree(root)
        with trio.fail_after(10):
            await seen.ended.wait()  # without its stop event being set
        assert not seen.stop.is_set()


@needs_inotify
@pytest.mark.timeout(60)
async def test_inotify_queue_overflow_makes_every_subscriber_rescan(tmp_path: Path) -> None:
    """More events than the kernel queues (fs.inotify.max_queued_events) arrive while the hub
    cannot read: they are lost, so the watches are set up again and every subscriber rescans."""
    root, other = tmp_path / "root", tmp_path / "other"
    (root / "sub").mkdir(parents=True)
    other.mkdir()
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox, nested = hub.subscribe(root), hub.subscribe(root / "sub")
        await rescanned(inbox)
        await rescanned(nested)
        await write_until_seen(inbox, root / "a.json")
        # No checkpoint in this loop: the hub reads nothing until it is done. Two files in turn,
        # since the kernel merges an event identical to the one queued last.
        a, b = root / "a.json", root / "sub" / "b.json"
        b.write_text("b")
        for _ in range(limit // 2 + 100):
            os.utime(a)
            os.utime(b)
        await rescanned(inbox)
        await rescanned(nested)
        assert hub.detail()["backend"] == "inotify"
        await write_until_seen(nested, root / "sub" / "c.json")  # still watched afterwards
        nursery.cancel_scope.cancel()


@needs_inotify
def test_inotify_events_are_parsed_and_an_overflow_is_flagged(tmp_path: Path) -> None:
    import struct

    data = struct.pack("iIII", 1, inotify.IN_CREATE, 0, 16) + b"name.json".ljust(16, b"\0")
    data += struct.pack("iIII", -1, inotify.IN_Q_OVERFLOW, 0, 0)
    events = inotify.parse_events(data)
    assert events == [(1, inotify.IN_CREATE, 0, b"name.json"), (-1, inotify.IN_Q_OVERFLOW, 0, b"")]
    ino = inotify.Inotify()
    try:
        wd = ino.add(os.fsencode(tmp_path), root=True)
        assert wd is not None
        events[0] = (wd, *events[0][1:])
        batch = inotify._Batch()
        inotify._apply(ino, {os.fsencode(tmp_path)}, events, batch)
        assert batch.overflow
        assert batch.changes == {(watchfiles.Change.added, str(tmp_path / "name.json"))}
    finally:
        ino.close()


@needs_inotify
def test_inotify_for_files_only_appended_to_a_write_is_one_event(tmp_path: Path) -> None:
    """The transcripts' watch: an append is its IN_MODIFY alone (no IN_CLOSE_WRITE after it),
    a chmod nothing; creating, writing and deleting are all still seen."""

    def kinds(drop: int) -> list[list[int]]:
        ino = inotify.Inotify(drop=drop)
        try:
            assert ino.add(os.fsencode(tmp_path), root=True) is not None
            out = []
            path = tmp_path / "s.jsonl"

            def append() -> None:
                with path.open("ab") as f:
                    f.write(b"{}\n")

            for act in (lambda: path.write_bytes(b"{}\n"), append, lambda: path.chmod(0o600)):
                act()
                out.append([mask for _, mask, _, _ in ino.read()])
            path.unlink()
            out.append([mask for _, mask, _, _ in ino.read()])
            return out
        finally:
            ino.close()

    m, c, a = inotify.IN_MODIFY, inotify.IN_CLOSE_WRITE, inotify.IN_ATTRIB
    assert kinds(0) == [[inotify.IN_CREATE, m, c], [m, c], [a], [inotify.IN_DELETE]]
    assert kinds(inotify.APPENDS_ONLY_DROP) == [
        [inotify.IN_CREATE, m],
        [m],
        [],
        [inotify.IN_DELETE],
    ]


@needs_inotify
@pytest.mark.timeout(30)
async def test_a_hub_of_files_only_appended_to_still_sees_each_append(tmp_path: Path) -> None:
    hub = WatchHub(debounce_ms=30, step_ms=10, awatch=inotify.awatch, appends_only=True)
    transcript = tmp_path / "s.jsonl"
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox = hub.subscribe(tmp_path)
        assert (await next_paths(inbox))[1] is True  # the first watch starts with a rescan
        await write_until_seen(inbox, transcript)
        for n in range(3):
            with transcript.open("ab") as f:
                f.write(b"{}\n" * (n + 1))
            assert transcript in await changed(inbox, transcript)
        nursery.cancel_scope.cancel()


@pytest.mark.timeout(30)
async def test_the_hub_falls_back_to_watchfiles_when_inotify_runs_out(tmp_path: Path) -> None:
    async def out_of_watches(*_roots: Path, **_: object):  # type: ignore[no-untyped-def]
        raise inotify.Unavailable(28, "inotify watches exhausted (fs.inotify.max_user_watches)")
        yield  # an async generator

    root = tmp_path / "root"
    root.mkdir()
    hub = WatchHub(awatch=out_of_watches)
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            inbox = hub.subscribe(root)
            await write_until_seen(inbox, root / "a.json")
            assert hub.detail()["backend"] == "watchfiles"
            nursery.cancel_scope.cancel()
    assert [e["fallback"] for e in logs if e["event"] == "watch.inotify_unavailable"] == [
        "watchfiles"
    ]


async def no_timer_pending() -> None:
    """Wait until no task of the run holds a timer (bounded by the test's timeout)."""
    while True:
        await trio.testing.wait_all_tasks_blocked(0.05)
        if trio.lowlevel.current_statistics().seconds_to_next_deadline == math.inf:
            return
        await trio.sleep(0.05)


@needs_inotify
@pytest.mark.timeout(30)
async def test_with_inotify_a_missing_root_is_waited_for_without_a_timer(tmp_path: Path) -> None:
    """Its nearest existing ancestor is watched for new entries: nothing wakes the hub until one
    appears (the directories on the way to it too)."""
    present, later = tmp_path / "present", tmp_path / "a" / "b" / "later"
    present.mkdir()
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox, sentinel = hub.subscribe(later), hub.subscribe(present)
        await rescanned(sentinel)
        await write_until_seen(sentinel, present / "s")  # the watch runs
        await no_timer_pending()
        (tmp_path / "a").mkdir()  # on the way: the hub now waits on `a`
        await no_timer_pending()
        later.mkdir(parents=True)
        await rescanned(inbox)
        await write_until_seen(inbox, later / "x")
        nursery.cancel_scope.cancel()


@needs_inotify
@pytest.mark.timeout(30)
async def test_with_inotify_a_root_made_just_before_its_parent_is_watched_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub sees that a root is missing, then watches its parent for the root to appear. A
    root made between the two raises no event: the hub must look again once the parent is
    watched, or it would wait for a change that already happened."""
    present, later = tmp_path / "present", tmp_path / "later"
    present.mkdir()
    real_add = inotify.Inotify.add
    armed = False

    def add_after_mkdir(
        self: inotify.Inotify, path: bytes, *, root: bool = False, mask: int | None = None
    ) -> int | None:
        if armed and mask == inotify.APPEAR_MASK and os.fsdecode(path) == str(tmp_path):
            later.mkdir(exist_ok=True)  # after the hub saw it missing, before the watch exists
        return real_add(self, path, root=root, mask=mask)

    monkeypatch.setattr(inotify.Inotify, "add", add_after_mkdir)
    hub = WatchHub(awatch=inotify.awatch)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        inbox, sentinel = hub.subscribe(later), hub.subscribe(present)
        await rescanned(sentinel)
        await write_until_seen(sentinel, present / "s")  # the watch runs; `later` is waited for
        while inbox.rescan_requested:
            await inbox.get()
        armed = True
        (tmp_path / "other").write_text("")  # an entry in the parent: the hub looks again
        await rescanned(inbox)
        await write_until_seen(inbox, later / "x")
        nursery.cancel_scope.cancel()
