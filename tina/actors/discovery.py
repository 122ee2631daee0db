"""Session discovery: ~/.claude/tina-sessions/*.json -> one worktree watcher per orchestration.

Orchestrations that appear while the daemon runs are picked up at once (no restart); a
removed lookup stops its watcher.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import structlog
import trio

from tina.local import list_session_lookups
from tina.supervision import ChildSpec, DynamicSupervisor
from tina.watch import WatchHub

log = structlog.get_logger("tina.discovery")

SpecFactory = Callable[[str, Path, str | None], ChildSpec]


def _scan(sessions_dir: Path) -> tuple[dict[str, tuple[Path, str | None]], set[str]]:
    """Lookups by feature, and the features whose lookup could not be read right now."""
    found: dict[str, tuple[Path, str | None]] = {}
    lookups, errors = list_session_lookups(sessions_dir)
    unreadable = set()
    for problem in errors:
        log.warning("file.unreadable", path=problem.path, error=str(problem))
        unreadable.add(Path(problem.path).stem)
    for lookup in lookups:
        found[lookup.feature] = (Path(lookup.worktree_path), lookup.repo_root)
    return found, unreadable


async def run(
    sessions_dir: Path,
    hub: WatchHub,
    worktrees: DynamicSupervisor,
    make_spec: SpecFactory,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await trio.to_thread.run_sync(partial(sessions_dir.mkdir, parents=True, exist_ok=True))
    inbox = hub.subscribe(sessions_dir)
    running: dict[str, tuple[Path, str | None]] = {}

    async def sync() -> None:
        found, unreadable = await trio.to_thread.run_sync(_scan, sessions_dir)
        for feature, where in list(running.items()):
            if feature in unreadable:
                continue  # half-written: keep watching until it reads again
            if found.get(feature) != where:
                await worktrees.terminate_child(f"wt:{feature}")
                del running[feature]
                log.info("worktree.forgotten", feature=feature, worktree=str(where[0]))
        for feature, where in found.items():
            if feature not in running:
                await worktrees.start_child(make_spec(feature, where[0], where[1]))
                running[feature] = where
                log.info("worktree.watched", feature=feature, worktree=str(where[0]))

    try:
        await sync()
        task_status.started()
        while True:
            await inbox.get()
            await sync()
    finally:
        hub.unsubscribe(sessions_dir, inbox)
