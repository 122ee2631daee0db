"""One per worktree: supervisor-state.json and the events journal -> the syncer.

Both files are read through `tina.local.files` (regular files only, never blocking): a state
file that is not a regular file or is over its cap is logged once (`file.refused`) and skipped
until it changes; the journal is read in chunks of at most `JOURNAL_CHUNK` bytes, and a line
longer than that is skipped (`journal.line_too_long`).
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

import structlog
import trio

from tina.daemon.projection import event_record, orchestration_snapshot
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.local import ReadError, parse_journal, parse_supervisor_state
from tina.local.files import JOURNAL_CHUNK, STATE_MAX, FileData, FileRefused, read_chunk, read_file
from tina.local.paths import journal_path, state_path, tina_dir

log = structlog.get_logger("tina.worktree")

DISK_THREADS = 4
"""Blocking file operations at once: the daemon's one limiter (watchers, outbox) and the
default of a watcher run without it."""

Sig = tuple[int, int, int]  # (size, mtime_ns, inode)


def _sig(path: Path) -> Sig | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return (-1, -1, -1)  # e.g. a symlink loop: let the reader refuse it
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class WorktreeWatcher:
    """Reads the two files of one worktree when they change; remembers what it sent."""

    def __init__(
        self,
        worktree: Path,
        repo_root: str | None,
        syncer: Syncer,
        *,
        disk: trio.CapacityLimiter | None = None,
    ) -> None:
        self.worktree = worktree
        self.disk = disk or trio.CapacityLimiter(DISK_THREADS)
        self.repo_root = repo_root
        self.syncer = syncer
        self.state_file = state_path(worktree)
        self.journal_file = journal_path(worktree)
        self._state_digest: bytes | None = None
        self._offset = 0
        self._skip_line = False  # inside a journal line longer than JOURNAL_CHUNK
        self._refused: dict[Path, Sig | None] = {}  # logged once, skipped until they change
        self.reads = 0

    async def refresh(self, paths: set[Path], rescan: bool, *, force: bool = False) -> None:
        if rescan or force or self.state_file in paths:
            await self._refresh_state(force)
        if rescan or force or self.journal_file in paths:
            await self._refresh_journal()

    async def _refused_again(self, path: Path) -> bool:
        """Whether ``path`` was refused and has not changed since."""
        if path not in self._refused:
            return False
        if self._refused[path] == await trio.to_thread.run_sync(_sig, path, limiter=self.disk):
            return True
        del self._refused[path]
        return False

    async def _refuse(self, path: Path, exc: FileRefused) -> None:
        self._refused[path] = await trio.to_thread.run_sync(_sig, path, limiter=self.disk)
        log.warning("file.refused", path=exc.path, error=str(exc), limit=exc.limit)

    async def _refresh_state(self, force: bool) -> None:
        if await self._refused_again(self.state_file):
            return
        try:
            got = await trio.to_thread.run_sync(
                partial(read_file, self.state_file, limit=STATE_MAX), limiter=self.disk
            )
        except FileRefused as exc:
            await self._refuse(self.state_file, exc)
            return
        self.reads += 1
        if got is None:
            return
        data = got.data
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
        """Read what was appended since the last read, a chunk at a time."""
        if await self._refused_again(self.journal_file):
            return
        while True:
            try:
                got: FileData | None = await trio.to_thread.run_sync(
                    partial(read_chunk, self.journal_file, offset=self._offset, size=JOURNAL_CHUNK),
                    limiter=self.disk,
                )
            except FileRefused as exc:
                await self._refuse(self.journal_file, exc)
                return
            if got is None:
                return
            if got.size < self._offset:
                log.warning(
                    "journal.truncated",
                    path=str(self.journal_file),
                    size=got.size,
                    offset=self._offset,
                )
                self._offset, self._skip_line = 0, False
                continue
            if not got.data:
                return
            self.reads += 1
            if not self._consume(got.data):
                return

    def _consume(self, data: bytes) -> bool:
        """Parse one chunk read at ``self._offset``. True when more may follow at once (the
        chunk was full and something was consumed)."""
        read_at = start = self._offset
        full = len(data) == JOURNAL_CHUNK
        if self._skip_line:
            newline = data.find(b"\n")
            if newline < 0:
                self._offset = read_at + len(data)
                return full
            self._skip_line = False
            start = read_at + newline + 1
            data = data[newline + 1 :]
        chunk = parse_journal(data, path=str(self.journal_file), offset=start)
        for problem in chunk.errors:
            log.warning("file.unreadable", path=str(self.journal_file), error=str(problem))
        self._offset = chunk.end
        if chunk.entries:
            self.syncer.put_events(str(self.worktree), [event_record(e) for e in chunk.entries])
        if full and start == read_at and chunk.end == start:
            # A whole chunk without a newline: a line longer than any real one. Skip it.
            log.warning(
                "journal.line_too_long",
                path=str(self.journal_file),
                offset=start,
                limit=JOURNAL_CHUNK,
            )
            self._skip_line = True
            self._offset = read_at + len(data)
        return full and self._offset > read_at


async def run(
    worktree: Path,
    repo_root: str | None,
    hub: WatchHub,
    syncer: Syncer,
    *,
    disk: trio.CapacityLimiter | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    watcher = WorktreeWatcher(worktree, repo_root, syncer, disk=disk)
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
