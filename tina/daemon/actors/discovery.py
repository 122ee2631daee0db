"""Session discovery: ~/.claude/tina-sessions/*.json -> one worktree watcher per orchestration.

Orchestrations that appear while the daemon runs are picked up at once (no restart); a
removed lookup stops its watcher. A lookup that cannot be read (half-written, not a regular
file, over its cap, a name that is not UTF-8) is logged once for as long as it stays so.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import structlog
import trio

from tina.convex import LatestValue
from tina.daemon.watch import WatchHub
from tina.local import ReadError, list_session_lookups
from tina.local.files import FileRefused, UndecodableName
from tina.supervision import ChildSpec, DynamicSupervisor

log = structlog.get_logger("tina.discovery")

SpecFactory = Callable[[str, Path, str | None], ChildSpec]


def _scan(
    sessions_dir: Path,
) -> tuple[dict[str, tuple[Path, str | None]], set[str], list[ReadError]]:
    """Lookups by feature, the features whose lookup could not be read right now, and why."""
    found: dict[str, tuple[Path, str | None]] = {}
    lookups, errors = list_session_lookups(sessions_dir)
    unreadable = {Path(problem.path).stem for problem in errors}
    for lookup in lookups:
        found[lookup.feature] = (Path(lookup.worktree_path), lookup.repo_root)
    return found, unreadable, errors


def _log_problem(problem: ReadError) -> None:
    if isinstance(problem, FileRefused):
        log.warning("file.refused", path=problem.path, error=str(problem), limit=problem.limit)
    elif isinstance(problem, UndecodableName):
        log.warning("file.undecodable_name", path=problem.path, error=str(problem))
    else:
        log.warning("file.unreadable", path=problem.path, error=str(problem))


async def run(
    sessions_dir: Path,
    hub: WatchHub,
    worktrees: DynamicSupervisor,
    make_spec: SpecFactory,
    *,
    worktrees_up: LatestValue[bool] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """`worktrees_up`: whether the worktrees supervisor runs; a restarted one has lost its
    children, so they are started again when it comes back."""
    await trio.to_thread.run_sync(partial(sessions_dir.mkdir, parents=True, exist_ok=True))
    inbox = hub.subscribe(sessions_dir)
    running: dict[str, tuple[Path, str | None]] = {}
    reported: set[tuple[str, str]] = set()  # (path, problem) logged, that still holds
    # Watchers started by an earlier run of this actor are unknown to this one: start afresh.
    for child_id in worktrees.child_ids:
        await worktrees.terminate_child(child_id)

    async def sync() -> None:
        found, unreadable, errors = await trio.to_thread.run_sync(_scan, sessions_dir)
        problems = {(problem.path, str(problem)): problem for problem in errors}
        for key in sorted(problems.keys() - reported):
            _log_problem(problems[key])
        reported.clear()
        reported.update(problems)
        if worktrees_up is not None and not worktrees_up.value:
            return  # the worktrees supervisor is restarting: sync again once it is back
        alive = set(worktrees.child_ids)
        for feature in [f for f in running if f"wt:{f}" not in alive]:
            del running[feature]  # lost with a restarted worktrees supervisor: start it again
        for feature, where in list(running.items()):
            if feature in unreadable:
                continue  # half-written: keep watching until it reads again
            if found.get(feature) != where:
                await worktrees.terminate_child(f"wt:{feature}")
                del running[feature]
                log.info("worktree.forgotten", feature=feature, worktree=str(where[0]))
        for feature, where in found.items():
            if feature not in running:
                if not await worktrees.start_child(make_spec(feature, where[0], where[1])):
                    return  # the worktrees supervisor is stopping: its restart brings a new sync
                running[feature] = where
                log.info("worktree.watched", feature=feature, worktree=str(where[0]))

    async def on_worktrees_restart(up: LatestValue[bool], version: int) -> None:
        while True:
            version, value = await up.wait_newer(version)
            if value:
                inbox.request_rescan()

    # Taken before the first sync, so a restart that completes during it is not missed.
    up_version = worktrees_up.version if worktrees_up is not None else 0
    try:
        await sync()
        async with trio.open_nursery() as nursery:
            if worktrees_up is not None:
                nursery.start_soon(on_worktrees_restart, worktrees_up, up_version)
            task_status.started()
            while True:
                await inbox.get()
                await sync()
    finally:
        hub.unsubscribe(sessions_dir, inbox)
