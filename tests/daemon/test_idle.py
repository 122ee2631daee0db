"""An idle daemon sleeps: with nothing changing, its actors hold no timer (real clock)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import claude, worktree
from tina.daemon.actors import needs as needs_actor
from tina.daemon.actors.hooks import Hooks, WorktreeIndex
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes" / "teams"
STATE = Path(__file__).resolve().parent.parent / "fixtures" / "state" / "spec-doc-head.json"


def write_state(wt: Path, *, plans: dict[str, str]) -> None:
    doc: dict[str, Any] = json.loads(STATE.read_text())
    doc["worktree_path"] = str(wt)
    doc["spec_doc"] = "convex://x"
    for number, phase in doc["phases"].items():
        phase["plan_path"] = plans.get(number)
    path = wt / ".claude/tina/supervisor-state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def next_deadline() -> float:
    return trio.lowlevel.current_statistics().seconds_to_next_deadline


async def no_timer_pending() -> None:
    """Wait until no task of the run holds a timer (bounded by the test's timeout: a deadline
    of our own would be one)."""
    while True:
        await trio.testing.wait_all_tasks_blocked(0.05)
        if next_deadline() == math.inf:
            return
        await trio.sleep(0.05)


async def a_timer_pending() -> None:
    while True:
        await trio.testing.wait_all_tasks_blocked(0.05)
        if next_deadline() != math.inf:
            return
        await trio.sleep(0.05)


async def until_sent(syncer: Syncer, wt: Path, digest: str) -> None:
    with trio.fail_after(10):
        while True:
            doc = syncer._documents.get((str(wt), "plan", "1"))
            if doc is not None and doc.hash == digest:
                return
            await trio.sleep(0.01)


async def quiet_backend(*_roots: Path, stop_event: trio.Event, **_: object):  # type: ignore[no-untyped-def]
    """A watch backend with nothing to report: what an idle inotify watch is to trio."""
    await stop_event.wait()
    return
    yield  # an async generator


@pytest.mark.timeout(30)
async def test_an_idle_worktree_holds_no_timer_and_polls_only_a_broad_document(
    tmp_path: Path,
) -> None:
    wt = tmp_path / "wt"
    plan = wt / "docs/plans/phase-1.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("v1")
    write_state(wt, plans={"1": str(plan)})
    cell: LatestValue[GatewayProtocol | None] = LatestValue(FakeGateway())
    syncer = Syncer(cell)
    hub = WatchHub(awatch=quiet_backend)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(worktree.run, wt, None, hub, syncer)
        await no_timer_pending()  # a plan in its own directory is watched, not polled

        # A plan in the worktree itself is polled (watching it would watch the whole tree).
        broad = wt / "PLAN.md"
        broad.write_text("broad v1")
        write_state(wt, plans={"1": str(broad)})
        hub._route({(2, str(wt / ".claude/tina/supervisor-state.json"))})
        await until_sent(syncer, wt, sha(b"broad v1"))
        await a_timer_pending()
        broad.write_text("broad v2, polled")
        await until_sent(syncer, wt, sha(b"broad v2, polled"))

        # Back to a watched plan: the poll stops.
        write_state(wt, plans={"1": str(plan)})
        hub._route({(2, str(wt / ".claude/tina/supervisor-state.json"))})
        await until_sent(syncer, wt, sha(b"v1"))
        await no_timer_pending()
        nursery.cancel_scope.cancel()


class Panes:
    """A stand-in for `tmux list-panes`, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> frozenset[str] | None:
        self.calls += 1
        return frozenset({"%21", "%22", "%23"})


@pytest.mark.timeout(30)
async def test_the_claude_actor_lists_panes_on_a_timer_only_while_a_team_has_pane_teammates(
    tmp_path: Path,
) -> None:
    claude_dir = tmp_path / ".claude"
    shutil.copytree(REAL / "session-7c1e0b2a", claude_dir / "teams" / "solo")
    config = json.loads((claude_dir / "teams/solo/config.json").read_text())
    config["members"] = config["members"][:1]  # the lead only: no pane teammate
    (claude_dir / "teams/solo/config.json").write_text(json.dumps(config))
    panes = Panes()
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = claude.ClaudeWatcher(claude_dir, syncer, panes=panes)
    hub = WatchHub(awatch=quiet_backend)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(
            partial(claude.run, claude_dir, hub, syncer, watcher=watcher, pane_interval=0.05)
        )
        await no_timer_pending()
        assert panes.calls == 0

        # A team with pane teammates: a pane can die without any file changing, so the panes
        # are listed on the timer.
        shutil.copytree(REAL / "api-audit", claude_dir / "teams" / "api-audit")
        hub._route({(1, str(claude_dir / "teams/api-audit/config.json"))})
        with trio.fail_after(10):
            while panes.calls < 4:  # one for the refresh, the rest from the timer
                await trio.sleep(0.01)

        # It goes away: the timer stops.
        shutil.rmtree(claude_dir / "teams" / "api-audit")
        hub._route({(3, str(claude_dir / "teams/api-audit/config.json"))})
        await no_timer_pending()
        nursery.cancel_scope.cancel()


class CountedWorktrees(dict[str, str]):
    """The hooks actor's feature -> worktree map, counting full walks of it."""

    walks = 0

    def items(self):  # type: ignore[no-untyped-def]
        CountedWorktrees.walks += 1
        return super().items()


async def test_the_needs_pass_looks_worktrees_up_once_not_once_per_team(tmp_path: Path) -> None:
    """Re-evaluated every 30 s even when idle: with 100 teams and 200 worktrees, testing every
    worktree for every team's lead was 20,000 path normalisations each time."""
    claude_dir = tmp_path / ".claude"
    for n in range(5):
        shutil.copytree(REAL / "api-audit", claude_dir / "teams" / f"team-{n}")
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = claude.ClaudeWatcher(claude_dir, syncer, panes=Panes())
    await watcher.emit(await watcher.rescan(force=True))
    assert len(watcher.team_views()) == 5
    cwd = next(m.cwd for _, team, members in watcher.configs.values() for m in members if m.cwd)
    assert cwd is not None
    hooks = Hooks(team_of=watcher.team_of_session)
    worktrees = CountedWorktrees({f"f{i}": f"/elsewhere/wt{i}" for i in range(200)})
    worktrees["api-audit"] = cwd
    hooks.worktrees = worktrees
    needs = needs_actor.Needs(watcher, hooks)
    CountedWorktrees.walks = 0
    needs.compute()
    assert CountedWorktrees.walks == 1
    assert {v.feature_name for v in watcher.team_views(WorktreeIndex(worktrees))} == {"api-audit"}


def test_the_status_counts_cpu_finer_than_the_kernels_ticks_and_threads_gone() -> None:
    """`process_usage` (the status's `process`): CPU of a thread that has ended counts, and a
    few ms of work show as such, not as a 10 ms tick or nothing (what /proc's ticks give)."""
    import threading

    from tina.daemon.app import process_usage

    def busy(seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    def total() -> float:
        used = process_usage()
        return used["cpu_user_s"] + used["cpu_system_s"]

    before = total()
    worker = threading.Thread(target=busy, args=(0.03,))
    worker.start()
    worker.join()
    assert total() - before >= 0.029  # the ended thread's 30 ms are in the process's count
    steps = []
    for _ in range(5):
        start = total()
        busy(0.003)
        steps.append(round((total() - start) * 1000))
    # 3 ms of work reads 3 ms, not 0 or 10 (the least of five: another thread may add to one)
    assert 3 <= min(steps) < 10, steps
