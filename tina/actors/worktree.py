"""One per worktree: supervisor-state.json and the events journal -> the syncer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import structlog
import trio

from tina.local import ReadError, parse_journal, parse_supervisor_state
from tina.local.paths import journal_path, state_path, tina_dir
from tina.projection import event_record, orchestration_snapshot
from tina.syncer import Syncer
from tina.watch import WatchHub

log = structlog.get_logger("tina.worktree")

DISK = trio.CapacityLimiter(4)


def _read(path: Path, offset: int = 0) -> bytes | None:
    try:
        with path.open("rb") as f:
            if offset:
                f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class WorktreeWatcher:
    """Reads the two files of one worktree when they change; remembers what it sent."""

    def __init__(self, worktree: Path, repo_root: str | None, syncer: Syncer) -> None:
        self.worktree = worktree
        self.repo_root = repo_root
        self.syncer = syncer
        self.state_file = state_path(worktree)
        self.journal_file = journal_path(worktree)
        self._state_digest: bytes | None = None
        self._offset = 0
        self.reads = 0

    async def refresh(self, paths: set[Path], rescan: bool, *, force: bool = False) -> None:
        if rescan or force or self.state_file in paths:
            await self._refresh_state(force)
        if rescan or force or self.journal_file in paths:
            await self._refresh_journal()

    async def _refresh_state(self, force: bool) -> None:
        data = await trio.to_thread.run_sync(_read, self.state_file, limiter=DISK)
        self.reads += 1
        if data is None:
            return
        digest = hashlib.sha256(data).digest()
        if digest == self._state_digest and not force:
            return
        try:
            state = parse_supervisor_state(data, path=str(self.state_file))
        except ReadError as exc:
            # A half-written file: keep what was sent last; the next write event retries.
            log.warning("file.unreadable", path=str(self.state_file), error=str(exc))
            return
        self._state_digest = digest
        snapshot, phases = orchestration_snapshot(state, self.repo_root)
        self.syncer.put_orchestration(str(self.worktree), snapshot, phases)

    async def _refresh_journal(self) -> None:
        size = await trio.to_thread.run_sync(_size, self.journal_file, limiter=DISK)
        if size < self._offset:
            log.warning(
                "journal.truncated", path=str(self.journal_file), size=size, offset=self._offset
            )
            self._offset = 0
        if size == self._offset:
            return
        data = await trio.to_thread.run_sync(_read, self.journal_file, self._offset, limiter=DISK)
        self.reads += 1
        if not data:
            return
        chunk = parse_journal(data, path=str(self.journal_file), offset=self._offset)
        for problem in chunk.errors:
            log.warning("file.unreadable", path=str(self.journal_file), error=str(problem))
        self._offset = chunk.end
        self.syncer.put_events(str(self.worktree), [event_record(e) for e in chunk.entries])


async def run(
    worktree: Path,
    repo_root: str | None,
    hub: WatchHub,
    syncer: Syncer,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    watcher = WorktreeWatcher(worktree, repo_root, syncer)
    root = tina_dir(worktree)
    inbox = hub.subscribe(root)
    try:
        await watcher.refresh(set(), rescan=True)
        task_status.started()
        seen_reconcile = syncer.reconcile.version
        async with trio.open_nursery() as nursery:

            async def on_reconcile() -> None:
                nonlocal seen_reconcile
                while True:
                    seen_reconcile, _ = await syncer.reconcile.wait_newer(seen_reconcile)
                    await watcher.refresh(set(), rescan=False, force=True)

            nursery.start_soon(on_reconcile)
            while True:
                paths, rescan = await inbox.get()
                await watcher.refresh(paths, rescan)
    finally:
        hub.unsubscribe(root, inbox)
