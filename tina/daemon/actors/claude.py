"""Claude Code teams and task boards -> one snapshot per changed team.

`~/.claude/teams/<dir>/config.json` gives a team's members, `~/.claude/tasks/<dir>/<id>.json`
its tasks. The watcher keeps the parsed files in memory, so a change to one task file reads
that one file and produces one team snapshot (one mutation). A rescan compares each file's
size and modification time with what was read, so it re-reads only what changed.
Task directories without a team config (plain sessions) are read but never sent.

Files are read through `tina.local.files` (regular files only, capped, never blocking): a FIFO,
a device or an oversized file is logged once (`file.refused`, with the cap) and skipped, and so
is a name that is not UTF-8 (`file.undecodable_name`); everything else keeps syncing.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import structlog
import trio

from tina.convex import ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.worktree import DISK_THREADS
from tina.daemon.projection import Unsendable, member_problem, task_snapshot, team_snapshot
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.local import ReadError, parse_task, parse_team_config
from tina.local.files import (
    TASK_MAX,
    TEAM_CONFIG_MAX,
    FileRefused,
    display_path,
    is_undecodable,
    read_file,
)
from tina.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot

log = structlog.get_logger("tina.claude")

Sig = tuple[int, int]  # (size, mtime_ns)
T = TypeVar("T")


class _Gone(enum.Enum):
    GONE = enum.auto()


_GONE: Final = _Gone.GONE  # the file does not exist


def _sig(path: Path) -> Sig | None:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return (-1, -1)  # a symlink loop, no permission: the reader refuses it (logged once)
    return (st.st_size, st.st_mtime_ns)


def _read(path: Path, limit: int) -> tuple[Sig, bytes] | None:
    """None if the file is gone; `FileRefused` if it is not a regular file or over `limit`."""
    got = read_file(path, limit=limit)
    return None if got is None else ((got.size, got.mtime_ns), got.data)


def _list(root: Path) -> tuple[dict[str, list[str]], list[Path]]:
    """{dir name: [file names]} one level down, and apart the paths whose name is not UTF-8
    (never opened, never sent)."""
    out: dict[str, list[str]] = {}
    undecodable: list[Path] = []
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if is_undecodable(entry.name):
                        undecodable.append(Path(entry.path))
                        continue
                    names = out[entry.name] = []
                    try:
                        with os.scandir(entry.path) as files:
                            for f in files:
                                if not f.name.endswith(".json"):
                                    continue
                                if is_undecodable(f.name):
                                    undecodable.append(Path(f.path))
                                else:
                                    names.append(f.name)
                    except OSError:
                        pass
    except FileNotFoundError:
        pass
    return out, undecodable


class ClaudeWatcher:
    def __init__(
        self, claude_dir: Path, syncer: Syncer, *, disk: trio.CapacityLimiter | None = None
    ) -> None:
        self.disk = disk or trio.CapacityLimiter(DISK_THREADS)
        self.teams_dir = claude_dir / "teams"
        self.tasks_dir = claude_dir / "tasks"
        self.syncer = syncer
        self.configs: dict[str, tuple[Sig, TeamSnapshot, list[MemberSnapshot]]] = {}
        self.tasks: dict[str, dict[str, tuple[Sig, TaskSnapshot]]] = {}
        self.sent: set[str] = set()  # team dirs Convex knows about
        self.reads = 0
        # Files refused (FIFO, device, over the cap) as they were then: logged once, skipped
        # until they change.
        self.refused: dict[Path, Sig] = {}
        self.undecodable: set[Path] = set()  # names that are not UTF-8, logged once

    def detail(self) -> dict[str, Any]:
        return {
            "teams": len(self.configs),
            "tasks": sum(len(t) for t in self.tasks.values()),
            "reads": self.reads,
        }

    def _classify(self, paths: Iterable[Path]) -> tuple[set[str], set[tuple[str, str]]]:
        team_dirs: set[str] = set()
        task_files: set[tuple[str, str]] = set()
        for p in paths:
            if self.teams_dir in p.parents:
                rel = p.relative_to(self.teams_dir).parts
                team_dirs.add(rel[0])
            elif self.tasks_dir in p.parents:
                rel = p.relative_to(self.tasks_dir).parts
                if len(rel) == 1:
                    team_dirs.add(rel[0])  # a whole task dir appeared or vanished
                    task_files.add((rel[0], "*"))
                elif len(rel) == 2 and rel[1].endswith(".json"):
                    task_files.add((rel[0], rel[1]))
        return team_dirs, task_files

    async def on_changes(self, paths: set[Path], rescan: bool) -> None:
        if rescan:
            dirty = await self.rescan()
        else:
            team_dirs, task_files = self._classify(paths)
            dirty = set()
            for d in team_dirs:
                if await self._load_config(d):
                    dirty.add(d)
            for d, name in task_files:
                if name == "*":
                    if await self._rescan_tasks(d):
                        dirty.add(d)
                elif await self._load_task(d, name):
                    dirty.add(d)
        await self.emit(dirty)

    async def rescan(self, *, force: bool = False) -> set[str]:
        """Re-read whatever changed on disk since it was last read (all of it when forced)."""
        listing = await self._listing(self.teams_dir)
        dirty: set[str] = set()
        for d in set(listing) | set(self.configs):
            if await self._load_config(d, force=force):
                dirty.add(d)
        tasks_listing = await self._listing(self.tasks_dir)
        for d in set(tasks_listing) | set(self.tasks):
            if await self._rescan_tasks(d, tasks_listing.get(d), force=force):
                dirty.add(d)
        if force:
            dirty |= set(self.configs)
        for d in sorted(dirty & set(self.configs)):
            # A team deleted while we read it (Claude Code removes the config, then the tasks):
            # its config was read, its tasks were not there. Sending the team without them would
            # report every task removed; the team is going, so drop it instead.
            if (
                await trio.to_thread.run_sync(
                    _sig, self.teams_dir / d / "config.json", limiter=self.disk
                )
                is None
            ):
                del self.configs[d]
                self.tasks.pop(d, None)
        return dirty

    async def _listing(self, root: Path) -> dict[str, list[str]]:
        listing, undecodable = await trio.to_thread.run_sync(_list, root, limiter=self.disk)
        for path in undecodable:
            if path not in self.undecodable:
                self.undecodable.add(path)
                log.warning(
                    "file.undecodable_name",
                    path=display_path(path),
                    error="the name is not valid UTF-8: skipped",
                )
        return listing

    async def _read_changed(
        self,
        path: Path,
        known: Sig | None,
        force: bool,
        parse: Callable[..., T],
        limit: int,
    ) -> tuple[Sig, T] | _Gone | None:
        """The file parsed, if it changed since ``known`` (or ``force``): ``_GONE`` if it does
        not exist, None if unchanged or unreadable (a half-written file is skipped with a
        warning: its next write brings a new event), or refused (not a regular file, over
        ``limit``: logged once, skipped until it changes)."""
        sig = await trio.to_thread.run_sync(_sig, path, limiter=self.disk)
        if sig is None:
            self.refused.pop(path, None)
            return _GONE
        if (known == sig and not force) or self.refused.get(path) == sig:
            return None
        try:
            got = await trio.to_thread.run_sync(_read, path, limit, limiter=self.disk)
        except FileRefused as exc:
            self.refused[path] = sig
            log.warning("file.refused", path=exc.path, error=str(exc), limit=exc.limit)
            return None
        self.refused.pop(path, None)
        self.reads += 1
        if got is None:
            return None
        sig, data = got
        try:
            return sig, parse(data, path=str(path))
        except ReadError as exc:
            log.warning("file.unreadable", path=str(path), error=str(exc))
            return None

    async def _load_config(self, d: str, *, force: bool = False) -> bool:
        path = self.teams_dir / d / "config.json"
        known = self.configs.get(d)
        fresh = await self._read_changed(
            path, known and known[0], force, parse_team_config, TEAM_CONFIG_MAX
        )
        if fresh is _GONE:
            if known is not None:
                del self.configs[d]
                return True
            return False
        if fresh is None:
            return False
        sig, config = fresh
        team, members = team_snapshot(config, d)
        for m in config.members:
            problem = member_problem(m.agent_id, m.name)
            if problem is not None:
                log.warning("file.unsendable", path=str(path), error=problem)
        self.configs[d] = (sig, team, members)
        return True

    async def _rescan_tasks(
        self, d: str, names: list[str] | None = None, *, force: bool = False
    ) -> bool:
        if names is None:
            names = (await self._listing(self.tasks_dir)).get(d, [])
        changed = False
        known = self.tasks.get(d, {})
        for name in set(names) | set(known):
            if await self._load_task(d, name, force=force):
                changed = True
        return changed

    async def _load_task(self, d: str, name: str, *, force: bool = False) -> bool:
        path = self.tasks_dir / d / name
        board = self.tasks.setdefault(d, {})
        known = board.get(name)
        fresh = await self._read_changed(path, known and known[0], force, parse_task, TASK_MAX)
        if fresh is _GONE:
            if known is not None:
                del board[name]
                if not board:
                    del self.tasks[d]
                if (
                    d in self.configs
                    and await trio.to_thread.run_sync(
                        _sig, self.teams_dir / d / "config.json", limiter=self.disk
                    )
                    is None
                ):
                    # The whole team is being deleted, not this task: its config went first
                    # (an event still on its way). Remove the team; never report the task removed.
                    del self.configs[d]
                return True
            if not board:
                self.tasks.pop(d, None)
            return False
        if fresh is None:
            return False
        sig, task = fresh
        try:
            snap = task_snapshot(task)
        except Unsendable as exc:
            log.warning("file.unsendable", path=str(path), error=str(exc))
            return False
        if known is not None and known[1] == snap:
            board[name] = (sig, snap)
            return False
        board[name] = (sig, snap)
        return True

    async def emit(self, dirty: set[str]) -> None:
        """Hand the changed teams to the syncer, then wait until the outbox holds them: the
        next change is read only once this one would survive a SIGKILL."""
        self._emit(dirty)
        if dirty:
            await self.syncer.durable()

    def _emit(self, dirty: set[str]) -> None:
        for d in sorted(dirty):
            config = self.configs.get(d)
            if config is None:
                if d in self.sent:
                    self.sent.discard(d)
                    self.syncer.remove_team(d)
                continue
            _, team, members = config
            tasks = sorted((snap for _, snap in self.tasks.get(d, {}).values()), key=_task_order)
            self.syncer.put_team(d, team, members, tasks)
            self.sent.add(d)


async def remove_vanished(
    watcher: ClaudeWatcher, cell: LatestValue[GatewayProtocol | None]
) -> None:
    """Teams deleted while the daemon was not running are still live in Convex: remove them."""
    gateway = await cell.wait_for(lambda g: g is not None)
    assert gateway is not None
    try:
        known = await gateway.active_team_dirs()
    except ConvexClientError as exc:
        log.info("claude.reconcile_deferred", error=str(exc))
        return
    # Teams restored from the outbox may not have reached Convex yet: they count as known.
    for d in sorted(set(known) | watcher.syncer.restored_dirs):
        if d not in watcher.configs:
            log.info("team.vanished", team=d)
            watcher.sent.add(d)
            await watcher.emit({d})


def _task_order(task: TaskSnapshot) -> tuple[int, str]:
    return (int(task.task_id), "") if task.task_id.isdigit() else (1 << 62, task.task_id)


async def run(
    claude_dir: Path,
    hub: WatchHub,
    syncer: Syncer,
    *,
    watcher: ClaudeWatcher | None = None,
    gateway: LatestValue[GatewayProtocol | None] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    watcher = watcher or ClaudeWatcher(claude_dir, syncer)
    for d in (watcher.teams_dir, watcher.tasks_dir):
        await trio.to_thread.run_sync(partial(d.mkdir, parents=True, exist_ok=True))
    inboxes = [(root, hub.subscribe(root)) for root in (watcher.teams_dir, watcher.tasks_dir)]
    merged = trio.Event()
    try:
        await watcher.emit(await watcher.rescan(force=True))
        task_status.started()
        async with trio.open_nursery() as nursery:
            pending: list[tuple[set[Path], bool]] = []

            async def pump(inbox_root: Path) -> None:
                inbox = dict(inboxes)[inbox_root]
                while True:
                    pending.append(await inbox.get())
                    merged.set()

            async def on_reconcile() -> None:
                seen = syncer.reconcile.version
                while True:
                    seen, _ = await syncer.reconcile.wait_newer(seen)
                    await watcher.emit(await watcher.rescan(force=True))
                    if gateway is not None:
                        await remove_vanished(watcher, gateway)

            if gateway is not None:
                nursery.start_soon(remove_vanished, watcher, gateway)

            for root, _ in inboxes:
                nursery.start_soon(pump, root)
            nursery.start_soon(on_reconcile)
            while True:
                await merged.wait()
                merged = trio.Event()
                batch, pending[:] = list(pending), []
                paths: set[Path] = set().union(*(p for p, _ in batch))
                await watcher.on_changes(paths, any(r for _, r in batch))
    finally:
        for root, inbox in inboxes:
            hub.unsubscribe(root, inbox)
