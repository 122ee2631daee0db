"""One per worktree: supervisor-state.json, the events journal, the plans and the design doc
-> the syncer.

Every file is read through `tina.local.files` (regular files only, never blocking): a state
file that is not a regular file or is over its cap is logged once (`file.refused`) and skipped
until it changes; the journal is read in chunks of at most `JOURNAL_CHUNK` bytes, and a line
longer than that is skipped (`journal.line_too_long`).

Documents: each phase's `plan_path` and the orchestration's design doc (`spec_doc`, unless it
lives in Convex: `convex://...`) are watched through the hub (their directory is subscribed; a
directory too broad to watch recursively, such as the worktree itself or the home directory, is
checked every `DOC_POLL_INTERVAL` instead). A document is handed to the syncer when its content
hash or its missing state changes (its path too), and again, whatever it is, after a reconcile.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from functools import partial
from pathlib import Path

import attrs
import structlog
import trio

from tina.daemon.projection import (
    Unsendable,
    document_snapshot,
    event_record,
    orchestration_snapshot,
)
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import Inbox, WatchHub
from tina.local import ReadError, SupervisorState, parse_journal, parse_supervisor_state
from tina.local.files import (
    JOURNAL_CHUNK,
    STATE_MAX,
    FileData,
    FileRefused,
    MiB,
    read_chunk,
    read_file,
)
from tina.local.paths import journal_path, state_path, tina_dir
from tina.messages import DocumentKind

log = structlog.get_logger("tina.worktree")

DISK_THREADS = 4
"""Blocking file operations at once: the daemon's one limiter (watchers, outbox) and the
default of a watcher run without it."""

Sig = tuple[int, int, int]  # (size, mtime_ns, inode)

DOCUMENT_READ_MAX = 16 * MiB
"""A plan or design doc larger than this is refused (logged once), not hashed: real ones are a
few KiB, and only the first `DOCUMENT_MAX` bytes are sent anyway."""
DOC_POLL_INTERVAL = 2.0
"""How often a document in a directory too broad to watch is checked (one `stat`)."""

DocKey = tuple[DocumentKind, str | None]  # ("plan", phase) or ("design", None)


@attrs.define
class _Doc:
    """A document the watcher follows: where it is, what was last read and last sent."""

    kind: DocumentKind
    phase: str | None
    path: Path
    polled: bool  # its directory is not watched: checked every DOC_POLL_INTERVAL
    sig: Sig | None = None  # the file as last read (None: missing)
    read: bool = False  # read at least once
    sent: tuple[str, str | None, bool] | None = None  # (path, hash, missing) handed over last


def _read_doc(path: Path) -> tuple[Sig | None, FileData | None]:
    """The file's signature, then its bytes (None, None if it does not exist)."""
    sig = _sig(path)
    if sig is None:
        return None, None
    return sig, read_file(path, limit=DOCUMENT_READ_MAX)


def _broad(directory: Path, worktree: Path) -> bool:
    """A directory not to watch recursively: the file system root, the worktree or the home
    directory, or one of their ancestors."""
    try:
        home: Path | None = Path.home()
    except (KeyError, RuntimeError):
        home = None
    for top in (worktree, home):
        if top is not None and (directory == top or directory in top.parents):
            return True
    return directory == Path(directory.anchor)


def _sig(path: Path) -> Sig | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return (-1, -1, -1)  # e.g. a symlink loop: let the reader refuse it
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class WorktreeWatcher:
    """Reads the state file, the journal and the documents of one worktree when they change;
    remembers what it sent."""

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
        self.docs: dict[DocKey, _Doc] = {}
        self._run: tuple[str, datetime] | None = None  # (feature, start) of the orchestration
        self._unsendable: set[Path] = set()  # documents Convex cannot take, logged once

    async def refresh(
        self, paths: set[Path], rescan: bool, *, force: bool = False, poll: bool = False
    ) -> None:
        """Read what changed: `paths` named by the watch hub, everything whose signature changed
        on a `rescan`, everything on `force` (a reconcile: every document is sent again), the
        documents of unwatched directories on `poll`."""
        if rescan or force or self.state_file in paths:
            await self._refresh_state(force)
        if rescan or force or self.journal_file in paths:
            await self._refresh_journal()
        await self._refresh_docs(paths, rescan=rescan, force=force, poll=poll)

    def watched_dirs(self) -> set[Path]:
        """The directories of the documents, to subscribe to (broad ones are polled instead)."""
        return {doc.path.parent for doc in self.docs.values() if not doc.polled}

    @property
    def polls(self) -> bool:
        return any(doc.polled for doc in self.docs.values())

    def _resolve(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else self.worktree / path

    def _follow(self, state: SupervisorState) -> None:
        """Follow the documents the state names now."""
        wanted: dict[DocKey, Path] = {}
        for number, phase in state.phases.items():
            if phase.plan_path:
                wanted[("plan", number)] = self._resolve(phase.plan_path)
        if state.spec_doc and "://" not in state.spec_doc:  # convex://<id>: not on this laptop
            wanted[("design", None)] = self._resolve(state.spec_doc)
        run = (state.feature, state.orchestration_started_at)
        if self._run is not None and run != self._run:
            for followed in self.docs.values():
                # A new run in this worktree: its orchestration has none of them yet.
                followed.sent, followed.read = None, False
        self._run = run
        for key in [k for k in self.docs if k not in wanted]:
            del self.docs[key]
        for key, path in wanted.items():
            doc = self.docs.get(key)
            if doc is None or doc.path != path:
                self.docs[key] = _Doc(
                    kind=key[0], phase=key[1], path=path, polled=_broad(path.parent, self.worktree)
                )

    async def _refresh_docs(
        self, paths: set[Path], *, rescan: bool, force: bool, poll: bool
    ) -> None:
        for doc in list(self.docs.values()):
            named = doc.path in paths
            if force or named or not doc.read:
                await self._refresh_doc(doc, force=force)
            elif rescan or (poll and doc.polled) or doc.path.parent in paths:
                sig = await trio.to_thread.run_sync(_sig, doc.path, limiter=self.disk)
                if sig != doc.sig:
                    await self._refresh_doc(doc, force=False)

    async def _refresh_doc(self, doc: _Doc, *, force: bool) -> None:
        if await self._refused_again(doc.path):
            return
        try:
            sig, got = await trio.to_thread.run_sync(_read_doc, doc.path, limiter=self.disk)
        except FileRefused as exc:
            await self._refuse(doc.path, exc)
            doc.sig, doc.read = self._refused[doc.path], True
            return
        self._refused.pop(doc.path, None)
        self.reads += 1
        doc.sig, doc.read = sig, True
        try:
            snapshot = document_snapshot(
                doc.kind,
                str(doc.path),
                None if got is None else got.data,
                phase=doc.phase,
                mtime_ns=None if got is None else got.mtime_ns,
            )
        except Unsendable as exc:
            if doc.path not in self._unsendable:
                self._unsendable.add(doc.path)
                log.warning("file.unsendable", path=str(doc.path), error=str(exc))
            return
        mark = (snapshot.path, snapshot.hash, snapshot.missing)
        if mark != doc.sent or force:
            doc.sent = mark
            self.syncer.put_document(str(self.worktree), snapshot)

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
        self._follow(state)
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


class _Changes:
    """What the watcher's sources asked for since the last refresh, merged."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.rescan = self.force = self.poll = False
        self.event = trio.Event()

    def wake(self) -> None:
        self.event.set()

    async def take(self) -> tuple[set[Path], bool, bool, bool]:
        await self.event.wait()
        self.event = trio.Event()
        out = (self.paths, self.rescan, self.force, self.poll)
        self.paths, self.rescan, self.force, self.poll = set(), False, False, False
        return out


async def run(
    worktree: Path,
    repo_root: str | None,
    hub: WatchHub,
    syncer: Syncer,
    *,
    disk: trio.CapacityLimiter | None = None,
    poll_interval: float = DOC_POLL_INTERVAL,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    watcher = WorktreeWatcher(worktree, repo_root, syncer, disk=disk)
    root = tina_dir(worktree)
    inbox = hub.subscribe(root)
    followed: dict[Path, tuple[Inbox, trio.CancelScope]] = {}  # document directories
    changes = _Changes()
    try:
        await watcher.refresh(set(), rescan=True)
        task_status.started()
        seen_reconcile = syncer.reconcile.version
        async with trio.open_nursery() as nursery:

            async def pump(source: Inbox, scope: trio.CancelScope) -> None:
                with scope:
                    while True:
                        paths, rescan = await source.get()
                        changes.paths |= paths
                        changes.rescan |= rescan
                        changes.wake()

            def follow() -> None:
                """Subscribe to the directories of the documents the state names now."""
                wanted = watcher.watched_dirs()
                for directory in [d for d in followed if d not in wanted]:
                    source, scope = followed.pop(directory)
                    scope.cancel()
                    hub.unsubscribe(directory, source)
                for directory in wanted - followed.keys():
                    source, scope = hub.subscribe(directory), trio.CancelScope()
                    followed[directory] = (source, scope)
                    nursery.start_soon(pump, source, scope)

            async def on_reconcile() -> None:
                nonlocal seen_reconcile
                while True:
                    seen_reconcile, _ = await syncer.reconcile.wait_newer(seen_reconcile)
                    changes.force = True
                    changes.wake()

            # Set while the watcher follows a document it polls: no timer otherwise, so an idle
            # worktree never wakes the daemon.
            polling = trio.Event()

            async def poll() -> None:
                while True:
                    await polling.wait()
                    await trio.sleep(poll_interval)
                    if watcher.polls:
                        changes.poll = True
                        changes.wake()

            nursery.start_soon(pump, inbox, trio.CancelScope())
            nursery.start_soon(on_reconcile)
            nursery.start_soon(poll)
            while True:
                follow()
                if watcher.polls:
                    polling.set()
                elif polling.is_set():
                    polling = trio.Event()
                paths, rescan, force, polled = await changes.take()
                await watcher.refresh(paths, rescan, force=force, poll=polled)
    finally:
        hub.unsubscribe(root, inbox)
        for directory, (source, _) in followed.items():
            hub.unsubscribe(directory, source)
