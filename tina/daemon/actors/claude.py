"""Claude Code teams and task boards -> one snapshot per changed team.

`~/.claude/teams/<dir>/config.json` gives a team's members, `~/.claude/tasks/<dir>/<id>.json`
its tasks. The watcher keeps the parsed files in memory, so a change to one task file reads
that one file and produces one team snapshot (one mutation). A rescan compares each file's
size and modification time with what was read, so it re-reads only what changed.
Task directories without a team config (plain sessions) are read but never sent.

Inboxes (`~/.claude/teams/<dir>/inboxes/<agent>.json`) are read when they change, like the other
files. Their messages go to the syncer only when they are new or their `read` flag flipped since
they were handed over (remembered per team and inbox; the first read of an inbox after a start
hands over its last `FIRST_READ_MESSAGES`, which Convex dedupes by key). The inboxes and the live
tmux panes also give each member its liveness (`tina.daemon.projection.member_liveness`): a team
is sent again when a member's liveness changes. The panes are listed once per refresh that needs
them (a team with pane teammates) and every `PANE_INTERVAL`, since a pane dies without writing
any file. The lead's Claude Code session, as its hook events tell it (`session_of`), has the last
word on the lead and, once it ended, on its in-process teammates
(`tina.daemon.projection.merge_hook_liveness`); the hooks actor calls `hook_changed` when it
changes, and the team is checked again at once.

Claude Code keeps teams and tasks in its config dir: ``~/.claude`` unless ``CLAUDE_CONFIG_DIR``
names another, and people keep one per account. The watcher reads the one it is given and any
other added later (`add_config_dir`: those of the transcript directories the usage actor reads,
configured or learnt from hooks). A team lives in one of them (its home, the first one listed
that has it); a team of the same name in another is not read (logged once, `team.shadowed`).

Files are read through `tina.local.files` (regular files only, capped, never blocking): a FIFO,
a device or an oversized file is logged once (`file.refused`, with the cap) and skipped, and so
is a name that is not UTF-8 (`file.undecodable_name`); everything else keeps syncing.
"""

from __future__ import annotations

import enum
import os
import re
import subprocess
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import structlog
import trio

from tina.convex import ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.worktree import DISK_THREADS
from tina.daemon.needs import TeamView
from tina.daemon.projection import (
    Unsendable,
    inbox_message,
    member_problem,
    merge_hook_liveness,
    task_snapshot,
    team_snapshot,
    with_liveness,
)
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import Inbox as WatchInbox
from tina.daemon.watch import WatchHub
from tina.local import (
    Inbox,
    ReadError,
    list_inbox_files,
    parse_inbox,
    parse_task,
    parse_team_config,
)
from tina.local.files import (
    INBOX_MAX,
    TASK_MAX,
    TEAM_CONFIG_MAX,
    FileRefused,
    display_path,
    is_undecodable,
    read_file,
)
from tina.messages import InboxMessage, LeadSession, MemberSnapshot, TaskSnapshot, TeamSnapshot

log = structlog.get_logger("tina.claude")

Sig = tuple[int, int]  # (size, mtime_ns)
T = TypeVar("T")

FIRST_READ_MESSAGES = 500
"""Messages of an inbox handed to the syncer when it is first read after a start (the newest)."""
PANE_INTERVAL = 15.0
"""How often the panes of pane teammates are checked when no file changes."""
SETTLE_WAIT = 30.0
"""How long the removal of teams gone while the daemon was stopped waits for the config dirs
known at start (`ClaudeWatcher.settle`) at most."""
RESCAN_CHUNK = 50
"""Changed teams a full rescan hands over at a time while it reads the rest (one
`teams:syncTeams` batch's worth at a cold start)."""

PaneLister = Callable[[], Awaitable[frozenset[str] | None]]
"""The ids of the live tmux panes (`%3`); None when they cannot be known."""
SessionOf = Callable[[str], LeadSession | None]
"""What a Claude Code session's hook events say of it (`Hooks.lead_session`)."""

# What tmux says when there is no server (no panes at all), on its default or a given socket.
_NO_SERVER = re.compile(r"no server running|error connecting to|no such file or directory", re.I)


class TmuxPanes:
    """Lists the live tmux panes with one `tmux [-L|-S socket] list-panes -a` (argv only).

    No server means no panes (an empty set); tmux that cannot be run or fails otherwise means
    not known (None: no member is called gone for it), logged once per problem."""

    def __init__(
        self,
        tmux: Sequence[str] = ("tmux",),
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.argv = [*tmux, "list-panes", "-a", "-F", "#{pane_id}"]
        self.env = dict(env) if env is not None else None
        self.timeout = timeout
        self.calls = 0
        self._logged: str | None = None

    async def __call__(self) -> frozenset[str] | None:
        self.calls += 1
        try:
            with trio.fail_after(self.timeout):
                done = await trio.run_process(
                    self.argv,
                    capture_stdout=True,
                    capture_stderr=True,
                    check=False,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                )
        except trio.TooSlowError:
            self._unknown(f"tmux did not answer within {self.timeout:g} s")
            return None
        except OSError as exc:
            self._unknown(f"could not run tmux: {exc}")
            return None
        if done.returncode != 0:
            error = done.stderr.decode("utf-8", "replace").strip()
            if _NO_SERVER.search(error):
                return frozenset()
            self._unknown(f"tmux list-panes failed: {error or done.returncode}")
            return None
        self._logged = None
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        return frozenset(line.strip() for line in lines if line.strip())

    def _unknown(self, problem: str) -> None:
        if problem != self._logged:
            self._logged = problem
            log.warning("tmux.panes_unknown", error=problem)


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


Fetched = tuple[str, Sig | None, bytes | FileRefused | None]
"""What `_fetch` found: ("gone"|"same"|"refused"|"vanished"|"read", the file's sig, its bytes
or the refusal)."""


def _fetch(path: Path, known: Sig | None, force: bool, refused: Sig | None, limit: int) -> Fetched:
    """In a worker thread: the file's sig and, if it changed since `known` (or `force`) and is
    not the version refused before, its bytes."""
    sig = _sig(path)
    if sig is None:
        return ("gone", None, None)
    if (known == sig and not force) or refused == sig:
        return ("same", sig, None)
    try:
        got = read_file(path, limit=limit)
    except FileRefused as exc:
        return ("refused", sig, exc)
    if got is None:
        return ("vanished", sig, None)
    return ("read", (got.size, got.mtime_ns), got.data)


FETCH_BYTES = 1024 * 1024
"""Bytes `_fetch_many` reads in one worker-thread hop at most (past the first file)."""


def _fetch_many(
    paths: Sequence[tuple[Path, Sig | None, Sig | None]], force: bool, limit: int
) -> list[Fetched]:
    """`_fetch` of the first files of `paths` in one worker-thread hop, until `FETCH_BYTES` are
    read (a directory's task files at a rescan: one hop per file made a cold start of 10,000
    tasks wait on 20,000 thread hand-overs under load)."""
    out: list[Fetched] = []
    read = 0
    for path, known, refused in paths:
        if out and read >= FETCH_BYTES:
            break
        got = _fetch(path, known, force, refused, limit)
        if isinstance(got[2], bytes):
            read += len(got[2])
        out.append(got)
    return out


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
        self,
        claude_dir: Path,
        syncer: Syncer,
        *,
        disk: trio.CapacityLimiter | None = None,
        panes: PaneLister | None = None,
        session_of: SessionOf | None = None,
        on_change: Callable[[], None] | None = None,
        settled: bool = True,
    ) -> None:
        self.disk = disk or trio.CapacityLimiter(DISK_THREADS)
        # The lead sessions' hook liveness, merged into their teams' (None: files only), and
        # who to tell after each emit (the needs actor).
        self.session_of = session_of
        self.on_change = on_change
        # Bumped when a lead's hook liveness changed (`hook_changed`); the run loop emits.
        self.hook_wake: LatestValue[int] = LatestValue(0)
        self.teams_dir = claude_dir / "teams"
        self.tasks_dir = claude_dir / "tasks"
        # Every config dir read, the given one first (`add_config_dir`); bumped on each added.
        self.config_dirs: list[Path] = [claude_dir]
        self.config_dirs_added: LatestValue[int] = LatestValue(0)
        self.config_dirs_read: LatestValue[int] = LatestValue(0)  # as many as read whole
        # Set once every config dir known at start was added (`settle`): until then a team
        # Convex knows but no config dir has yet may be in one still to come.
        self.settled: LatestValue[bool] = LatestValue(settled)
        self._home: dict[str, Path] = {}  # team dir -> its config dir, when not the first
        self._shadowed: set[tuple[str, Path]] = set()  # logged once
        self.syncer = syncer
        # The members as the config has them; `emitted` holds them with liveness, as last sent.
        self.configs: dict[str, tuple[Sig, TeamSnapshot, list[MemberSnapshot]]] = {}
        # Each team's lead session (`leadSessionId`), for joining hook events to their team.
        self.lead_sessions: dict[str, str] = {}
        self.emitted: dict[str, list[MemberSnapshot]] = {}
        # Inboxes of the teams with a config, by team then agent, and what was handed to the
        # syncer of each (message key -> read).
        self.inboxes: dict[str, dict[str, tuple[Sig, Inbox]]] = {}
        self.handed: dict[str, dict[str, dict[str, bool]]] = {}
        self._liveness_dirty: set[str] = set()  # teams whose inboxes changed
        self._list_panes = panes  # None: panes are not checked (no member is ever gone)
        self.live_panes: frozenset[str] | None = None
        self._inbox_problems: dict[Path, int] = {}  # entries skipped per inbox, logged on change
        self._unsendable_messages: set[str] = set()  # keys logged once
        self.tasks: dict[str, dict[str, tuple[Sig, TaskSnapshot]]] = {}
        self.sent: set[str] = set()  # team dirs Convex knows about
        self.reads = 0
        # Files refused (FIFO, device, over the cap) as they were then: logged once, skipped
        # until they change.
        self.refused: dict[Path, Sig] = {}
        self.undecodable: set[str] = set()  # names that are not UTF-8 (as logged), logged once

    # --- config dirs ---------------------------------------------------------------------------

    def add_config_dir(self, config_dir: Path) -> bool:
        """Read the teams and tasks of one more Claude Code config dir (the run loop watches it
        and rescans). Whether it is new. Never blocks."""
        if config_dir in self.config_dirs:
            return False
        self.config_dirs.append(config_dir)
        self.config_dirs_added.set(self.config_dirs_added.value + 1)
        log.info("claude.config_dir_added", config_dir=str(config_dir))
        return True

    def settle(self) -> None:
        """Every config dir known at start is added: teams Convex knows and none has are gone."""
        self.settled.set(True)

    def _config_of(self, d: str) -> Path:
        return self._home.get(d, self.config_dirs[0])

    def _teams(self, d: str) -> Path:
        return self._config_of(d) / "teams"

    def _tasks(self, d: str) -> Path:
        return self._config_of(d) / "tasks"

    def team_path(self, d: str) -> Path:
        """Where team `d` is: ``<its config dir>/teams/<d>`` (the first config dir for a team
        not seen)."""
        return self._teams(d) / d

    def _roots(self) -> list[tuple[Path, Path, Path]]:
        return [(c, c / "teams", c / "tasks") for c in self.config_dirs]

    def _owns(self, config: Path, d: str) -> bool:
        """Whether a change to team `d` under `config` is its home's; a team first seen under a
        config dir other than the first gets that one as its home."""
        home = self._home.get(d)
        if home is None:
            if config == self.config_dirs[0]:
                return True
            if d in self.configs or d in self.tasks:
                home = self.config_dirs[0]
            else:
                self._home[d] = config
                return True
        if home == config:
            return True
        self._shadow(d, config)
        return False

    def _shadow(self, d: str, config: Path) -> None:
        if (d, config) not in self._shadowed:
            self._shadowed.add((d, config))
            log.warning(
                "team.shadowed",
                team=d,
                config_dir=str(config),
                read_from=str(self._config_of(d)),
            )

    def team_of_session(self, session_id: str) -> str | None:
        """The directory of the team whose lead runs in Claude Code session `session_id` (its
        config's `leadSessionId`), as last read; None if no team's lead has that session."""
        for d, lead in self.lead_sessions.items():
            if lead == session_id and d in self.configs:
                return d
        return None

    def pane_members(self) -> dict[str, list[tuple[str, str, str | None]]]:
        """Every teammate in a pane, by its config's `tmuxPaneId` (a tmux pane's `%<n>`, or
        `iterm_key` of an iTerm2 session's id): (team directory, agent name, the team's lead
        session), as last read (for `pane_member`)."""
        out: dict[str, list[tuple[str, str, str | None]]] = {}
        for d, (_, _team, members) in self.configs.items():
            lead = self.lead_sessions.get(d)
            for m in members:
                pane = m.tmux_pane_id
                if not pane:
                    continue
                if pane.startswith("%"):
                    key = pane
                elif m.backend_type == "iterm2":
                    key = iterm_key(pane.rpartition(":")[2])
                else:
                    continue
                out.setdefault(key, []).append((d, m.agent_name, lead))
        return out

    def hook_changed(self, session_id: str) -> None:
        """A session's hook liveness changed: if it is a team's lead, that team is checked again
        (sent when a member's merged liveness changed) by the run loop. Never blocks."""
        team = self.team_of_session(session_id)
        if team is not None:
            self._liveness_dirty.add(team)
            self.hook_wake.set(self.hook_wake.value + 1)

    def team_views(self, feature_of: Callable[[str], str | None] | None = None) -> list[TeamView]:
        """Every team as the needs rules read it (members with their merged liveness);
        `feature_of(cwd)` names the orchestration the lead works in."""
        out = []
        for d in sorted(self.configs):
            _, team, members = self.configs[d]
            live = self._live_members(d)
            lead_cwd = next((m.cwd for m in members if m.agent_id == team.lead_agent_id), None)
            out.append(
                TeamView(
                    dir_name=d,
                    team=team,
                    members=tuple(live),
                    inboxes={a: inbox for a, (_, inbox) in self.inboxes.get(d, {}).items()},
                    tasks=tuple(snap for _, snap in self.tasks.get(d, {}).values()),
                    lead_session_id=self.lead_sessions.get(d),
                    feature_name=feature_of(lead_cwd) if feature_of and lead_cwd else None,
                )
            )
        return out

    def detail(self) -> dict[str, Any]:
        return {
            "config_dirs": [str(c) for c in self.config_dirs],
            "teams": len(self.configs),
            "tasks": sum(len(t) for t in self.tasks.values()),
            "inboxes": sum(len(i) for i in self.inboxes.values()),
            "reads": self.reads,
        }

    def _classify(
        self, paths: Iterable[Path]
    ) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]]]:
        """Changed paths -> (team dirs, task files, inbox files); an inbox file named "*" is
        the whole `inboxes/` directory of the team."""
        team_dirs: set[str] = set()
        task_files: set[tuple[str, str]] = set()
        inbox_files: set[tuple[str, str]] = set()
        roots = self._roots()
        for p in paths:
            if self._undecodable(p):
                continue
            parents = p.parents
            found = next(
                ((c, root) for c, *dirs in roots for root in dirs if root in parents), None
            )
            if found is None:
                continue
            config, root = found
            rel = p.relative_to(root).parts
            if not self._owns(config, rel[0]):
                continue
            if root.name == "teams":
                if len(rel) >= 2 and rel[1] == "inboxes":
                    if len(rel) == 2:
                        inbox_files.add((rel[0], "*"))
                    elif len(rel) == 3 and rel[2].endswith(".json") and not rel[2].startswith("."):
                        inbox_files.add((rel[0], rel[2]))
                    continue  # a lock (`<agent>.json.lock/`), a dotfile: not an inbox
                team_dirs.add(rel[0])
            else:
                if len(rel) == 1:
                    team_dirs.add(rel[0])  # a whole task dir appeared or vanished
                    task_files.add((rel[0], "*"))
                elif len(rel) == 2 and rel[1].endswith(".json"):
                    task_files.add((rel[0], rel[1]))
        return team_dirs, task_files, inbox_files

    def _skipped_name(self, shown: str) -> None:
        """Log a path whose name is not UTF-8 (as `display_path` shows it), once."""
        if shown not in self.undecodable:
            self.undecodable.add(shown)
            log.warning(
                "file.undecodable_name", path=shown, error="the name is not valid UTF-8: skipped"
            )

    def _undecodable(self, path: Path) -> bool:
        """True for a changed path with a name in it that is not UTF-8 under a watched dir
        (the inotify backend hands those over too): logged once, at its first such name,
        and never opened."""
        for root in (root for _, *dirs in self._roots() for root in dirs):
            if root in path.parents:
                rel = path.relative_to(root).parts
                for i, part in enumerate(rel):
                    if is_undecodable(part):
                        self._skipped_name(display_path(root.joinpath(*rel[: i + 1])))
                        return True
        return False

    async def on_changes(self, paths: set[Path], rescan: bool) -> None:
        if rescan:
            dirty = await self.rescan()
        else:
            team_dirs, task_files, inbox_files = self._classify(paths)
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
            for d in sorted(team_dirs | {d for d, _ in inbox_files}):
                if d in self.configs and d not in self.inboxes:
                    await self._rescan_inboxes(d)  # a new team: all of its inboxes
            for d, name in sorted(inbox_files):
                if d not in self.configs or d not in self.inboxes:
                    continue  # no team (yet): read once its config is there
                if name == "*":
                    await self._rescan_inboxes(d)
                else:
                    await self._load_inbox(d, name)
            for d in team_dirs | {d for d, _ in task_files}:
                if d not in self.configs and d not in self.tasks:
                    self._home.pop(d, None)  # gone: a team of that name may come anywhere
        await self.emit(dirty)

    async def rescan(
        self,
        *,
        force: bool = False,
        progress: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> set[str]:
        """Re-read whatever changed on disk since it was last read (all of it when forced), team
        by team: its config, its task files, its inboxes. The changed teams are returned, and
        handed to `progress` (when given) `RESCAN_CHUNK` at a time as they are read, so a cold
        start of 1,000 teams syncs while the rest is being read, not after."""
        listing, tasks_listing = await self._listings()
        dirty: set[str] = set()
        chunk: set[str] = set()
        for d in sorted(set(listing) | set(self.configs) | set(tasks_listing) | set(self.tasks)):
            # The tasks first, then the config: Claude Code deletes a team's config, then its
            # tasks, so a config still there after the tasks were read means they were read
            # whole. (Read the other way round, a team deleted meanwhile would be sent without
            # its tasks, and Convex would record every task removed.)
            changed = False
            if d in tasks_listing or d in self.tasks:
                changed = await self._rescan_tasks(d, tasks_listing.get(d), force=force)
            if d in listing or d in self.configs:
                changed = await self._load_config(d, force=force) or changed
            if changed or (force and d in self.configs):
                dirty.add(d)
                chunk.add(d)
            if d in self.configs:
                await self._rescan_inboxes(d, force=force)
            if progress is not None and len(chunk) >= RESCAN_CHUNK:
                await progress(chunk)
                chunk = set()
        for d in set(self.inboxes) - set(self.configs):
            self._forget_inboxes(d)
        if progress is not None:
            await progress(chunk)
        return dirty

    async def _listings(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Every config dir's teams and task dirs, each team from its home: the config dir it
        was read from, else the first listed that has it (the others' are shadowed)."""
        seen: list[tuple[Path, dict[str, list[str]], dict[str, list[str]]]] = []
        for config, teams, tasks in self._roots():
            seen.append((config, await self._listing(teams), await self._listing(tasks)))
        listed = {c: set(t) | set(k) for c, t, k in seen}
        homes: dict[str, Path] = {}
        for config, names in listed.items():
            for d in names:
                home = self._home.get(d)
                if d not in homes and (home is None or home == config or d not in listed[home]):
                    homes[d] = config
        for config, names in listed.items():
            for d in names:
                if homes[d] != config:
                    self._shadow(d, config)
        first = self.config_dirs[0]
        self._home = {d: c for d, c in homes.items() if c != first}
        listing: dict[str, list[str]] = {}
        tasks_listing: dict[str, list[str]] = {}
        for config, team_names, task_names in seen:
            listing.update((d, n) for d, n in team_names.items() if homes[d] == config)
            tasks_listing.update((d, n) for d, n in task_names.items() if homes[d] == config)
        return listing, tasks_listing

    async def _listing(self, root: Path) -> dict[str, list[str]]:
        listing, undecodable = await trio.to_thread.run_sync(_list, root, limiter=self.disk)
        for path in undecodable:
            self._skipped_name(display_path(path))
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
        fetched = await trio.to_thread.run_sync(
            _fetch, path, known, force, self.refused.get(path), limit, limiter=self.disk
        )
        return self._parsed(path, fetched, parse)

    def _parsed(
        self, path: Path, fetched: Fetched, parse: Callable[..., T]
    ) -> tuple[Sig, T] | _Gone | None:
        """`_read_changed`'s answer from what `_fetch` found."""
        kind, sig, payload = fetched
        if kind == "gone":
            self.refused.pop(path, None)
            return _GONE
        if kind == "same":
            return None
        if kind == "refused":
            assert sig is not None
            assert isinstance(payload, FileRefused)
            self.refused[path] = sig
            log.warning("file.refused", path=payload.path, error=str(payload), limit=payload.limit)
            return None
        self.refused.pop(path, None)
        self.reads += 1
        if kind == "vanished":
            return None
        assert sig is not None
        assert isinstance(payload, bytes)
        try:
            return sig, parse(payload, path=str(path))
        except ReadError as exc:
            log.warning("file.unreadable", path=str(path), error=str(exc))
            return None

    async def _load_config(self, d: str, *, force: bool = False) -> bool:
        path = self._teams(d) / d / "config.json"
        known = self.configs.get(d)
        fresh = await self._read_changed(
            path, known and known[0], force, parse_team_config, TEAM_CONFIG_MAX
        )
        if fresh is _GONE:
            self.lead_sessions.pop(d, None)
            if known is not None:
                del self.configs[d]
                self._forget_inboxes(d)
                return True
            return False
        if fresh is None:
            return False
        sig, config = fresh
        if config.lead_session_id:
            self.lead_sessions[d] = config.lead_session_id
        else:
            self.lead_sessions.pop(d, None)
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
            names = (await self._listing(self._tasks(d))).get(d, [])
        changed = False
        known = self.tasks.get(d, {})
        todo = sorted(set(names) | set(known))
        # The directory's files a few hundred at a time per worker-thread hop.
        paths = [self._tasks(d) / d / name for name in todo]
        asks = [
            (p, known[n][0] if n in known else None, self.refused.get(p))
            for n, p in zip(todo, paths, strict=True)
        ]
        done = 0
        while done < len(todo):
            fetched = await trio.to_thread.run_sync(
                _fetch_many, asks[done:], force, TASK_MAX, limiter=self.disk
            )
            for i, got in enumerate(fetched, start=done):
                if await self._take_task(d, todo[i], self._parsed(paths[i], got, parse_task)):
                    changed = True
            done += len(fetched)
        return changed

    async def _load_task(self, d: str, name: str, *, force: bool = False) -> bool:
        path = self._tasks(d) / d / name
        known = self.tasks.get(d, {}).get(name)
        fresh = await self._read_changed(path, known and known[0], force, parse_task, TASK_MAX)
        return await self._take_task(d, name, fresh)

    async def _take_task(self, d: str, name: str, fresh: tuple[Sig, Any] | _Gone | None) -> bool:
        """Take in what was read of a task file. True when the team changed."""
        path = self._tasks(d) / d / name
        board = self.tasks.setdefault(d, {})
        known = board.get(name)
        if fresh is _GONE:
            if known is not None:
                del board[name]
                if not board:
                    del self.tasks[d]
                if (
                    d in self.configs
                    and await trio.to_thread.run_sync(
                        _sig, self._teams(d) / d / "config.json", limiter=self.disk
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

    # --- inboxes ------------------------------------------------------------------------------

    def _forget_inboxes(self, d: str) -> None:
        self.inboxes.pop(d, None)
        self.handed.pop(d, None)
        self.emitted.pop(d, None)
        self._liveness_dirty.discard(d)

    async def _rescan_inboxes(self, d: str, *, force: bool = False) -> None:
        """Read the team's inboxes that changed since they were read (all when forced)."""
        directory = self._teams(d) / d / "inboxes"
        try:
            files, undecodable = await trio.to_thread.run_sync(
                list_inbox_files, directory, limiter=self.disk
            )
        except ReadError as exc:
            log.warning("file.unreadable", path=str(directory), error=str(exc))
            return
        for problem in undecodable:
            self._skipped_name(problem.path)
        box = self.inboxes.setdefault(d, {})
        names = {f.name for f in files} | {f"{agent}.json" for agent in box}
        for name in sorted(names):
            await self._load_inbox(d, name, force=force)

    async def _load_inbox(self, d: str, name: str, *, force: bool = False) -> None:
        """Read one inbox if it changed; hand its new messages and read flips to the syncer."""
        path = self._teams(d) / d / "inboxes" / name
        agent = name.removesuffix(".json")
        box = self.inboxes.setdefault(d, {})
        known = box.get(agent)
        fresh = await self._read_changed(
            path, known and known[0], force, partial(parse_inbox, agent=agent), INBOX_MAX
        )
        if fresh is _GONE:
            if known is not None:
                del box[agent]
                self.handed.get(d, {}).pop(agent, None)
                self._liveness_dirty.add(d)
            return
        if fresh is None:
            return
        sig, inbox = fresh
        if known is not None and known[1] == inbox:
            box[agent] = (sig, inbox)
            return
        box[agent] = (sig, inbox)
        self._liveness_dirty.add(d)
        if len(inbox.errors) != self._inbox_problems.get(path, 0):
            self._inbox_problems[path] = len(inbox.errors)
            if inbox.errors:
                log.warning(
                    "inbox.entries_skipped",
                    path=str(path),
                    skipped=len(inbox.errors),
                    error=str(inbox.errors[0]),
                )
        self._hand_over(d, agent, inbox)

    def _hand_over(self, d: str, agent: str, inbox: Inbox) -> None:
        """The inbox's messages the syncer has not had in this state: new keys and read flips
        (the newest `FIRST_READ_MESSAGES` at the inbox's first read)."""
        handed = self.handed.setdefault(d, {})
        before = handed.get(agent)
        messages = inbox.messages
        if before is None:
            fresh = messages[-FIRST_READ_MESSAGES:]
        else:
            fresh = tuple(m for m in messages if before.get(m.key) != m.read)
        handed[agent] = {m.key: m.read for m in messages}
        out: list[InboxMessage] = []
        for m in fresh:
            try:
                out.append(inbox_message(m))
            except Unsendable as exc:
                if m.key not in self._unsendable_messages:
                    self._unsendable_messages.add(m.key)
                    log.warning("file.unsendable", path=f"{d}/inboxes/{agent}.json", error=str(exc))
        self.syncer.put_messages(d, out)

    # --- liveness ------------------------------------------------------------------------------

    def has_pane_teammates(self) -> bool:
        """A team has a teammate in a tmux pane (its liveness needs the panes listed)."""
        return any(self._has_panes(d) for d in self.configs)

    def _has_panes(self, d: str) -> bool:
        config = self.configs.get(d)
        return config is not None and any(m.reach == "pane" for m in config[2])

    def _live_members(self, d: str) -> list[MemberSnapshot]:
        _, team, members = self.configs[d]
        inboxes = {agent: inbox for agent, (_, inbox) in self.inboxes.get(d, {}).items()}
        live = with_liveness(team, members, inboxes, self.live_panes)
        lead = self.lead_sessions.get(d)
        if self.session_of is None or lead is None:
            return live
        return merge_hook_liveness(team, live, self.session_of(lead))

    async def _refresh_panes(self) -> None:
        if self._list_panes is None:
            return
        panes = await self._list_panes()
        if panes is not None:  # not known this time: keep the last known ones
            self.live_panes = panes

    async def check_panes(self) -> None:
        """Send again the teams whose pane teammates' liveness changed (a pane died)."""
        teams = {d for d in self.configs if self._has_panes(d)}
        if teams and self._list_panes is not None:
            self._liveness_dirty |= teams
            await self.emit(set())

    # --- sending -------------------------------------------------------------------------------

    async def emit(self, dirty: set[str]) -> None:
        """Hand the changed teams to the syncer, then wait until the outbox holds them: the
        next change is read only once this one would survive a SIGKILL. Teams whose inboxes
        changed are sent too when a member's liveness changed with them."""
        recheck, self._liveness_dirty = self._liveness_dirty, set()
        dirty = set(dirty)
        if any(self._has_panes(d) for d in dirty | recheck):
            await self._refresh_panes()
        for d in recheck - dirty:
            if d in self.configs and self._live_members(d) != self.emitted.get(d):
                dirty.add(d)
        self._emit(dirty)
        if self.on_change is not None:
            self.on_change()
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
            _, team, _ = config
            members = self.emitted[d] = self._live_members(d)
            tasks = sorted((snap for _, snap in self.tasks.get(d, {}).values()), key=_task_order)
            self.syncer.put_team(d, team, members, tasks)
            self.sent.add(d)


def iterm_key(session: str) -> str:
    """How `pane_members` keys an iTerm2 pane: its session's id, which the iTerm2 backend
    records as the teammate's `tmuxPaneId` and iTerm2 gives its processes in
    `ITERM_SESSION_ID` (after `w<window>t<tab>p<pane>:`; `tina hook` forwards it)."""
    return "iterm:" + session.upper()


def pane_member(
    members: dict[str, list[tuple[str, str, str | None]]],
    pane: str,
    socket: str | None,
    socket_of: Callable[[str], str | None],
) -> tuple[str, str] | None:
    """(team directory, agent name) of the one teammate in `members`
    (`ClaudeWatcher.pane_members`) whose pane is `pane`: a pane teammate's session, whose hooks
    ran in that pane. None when no teammate or several have it. Pane ids are unique per tmux
    server: a team whose lead's hooks ran on another server (`socket_of(lead session)`) is not
    it."""
    found = [
        (d, agent)
        for d, agent, lead in members.get(pane, ())
        if socket is None
        or lead is None
        or (lead_socket := socket_of(lead)) is None
        or lead_socket == socket
    ]
    return found[0] if len(found) == 1 else None


async def remove_vanished(
    watcher: ClaudeWatcher, cell: LatestValue[GatewayProtocol | None]
) -> None:
    """Teams deleted while the daemon was not running are still live in Convex: remove them
    (once every config dir known at start is read: a team may be in one still to come; at most
    `SETTLE_WAIT` seconds after the start)."""
    with trio.move_on_after(SETTLE_WAIT):
        await watcher.settled.wait_for(bool)
        added = watcher.config_dirs_added.value
        await watcher.config_dirs_read.wait_for(lambda read: read >= added)
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
    pane_interval: float = PANE_INTERVAL,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    watcher = watcher or ClaudeWatcher(claude_dir, syncer)
    inboxes: dict[Path, WatchInbox] = {}

    async def subscribe() -> list[WatchInbox]:
        """Watch the teams and tasks of each config dir not watched yet (made if missing, as
        Claude Code would)."""
        new = []
        for _, *roots in watcher._roots():
            for root in roots:
                if root not in inboxes:
                    await trio.to_thread.run_sync(partial(root.mkdir, parents=True, exist_ok=True))
                    inboxes[root] = hub.subscribe(root)
                    new.append(inboxes[root])
        return new

    merged = trio.Event()
    try:
        # What the first rescan covers; a config dir added after this is read by its own.
        seen_dirs, dirs_now = watcher.config_dirs_added.version, watcher.config_dirs_added.value
        first = await subscribe()
        await watcher.rescan(force=True, progress=watcher.emit)
        watcher.config_dirs_read.set(dirs_now)
        task_status.started()
        async with trio.open_nursery() as nursery:
            pending: list[tuple[set[Path], bool]] = []

            async def pump(inbox: WatchInbox) -> None:
                while True:
                    pending.append(await inbox.get())
                    merged.set()

            async def on_config_dirs() -> None:
                """A config dir added: watched, then read whole (nothing written meanwhile
                is missed)."""
                seen = seen_dirs
                while True:
                    seen, added = await watcher.config_dirs_added.wait_newer(seen)
                    for inbox in await subscribe():
                        nursery.start_soon(pump, inbox)
                    await watcher.rescan(progress=watcher.emit)
                    watcher.config_dirs_read.set(added)

            async def on_reconcile() -> None:
                seen = syncer.reconcile.version
                while True:
                    seen, _ = await syncer.reconcile.wait_newer(seen)
                    await watcher.rescan(force=True, progress=watcher.emit)
                    if gateway is not None:
                        await remove_vanished(watcher, gateway)

            panes_due = False
            # Set while a team has pane teammates: no timer otherwise (an idle daemon sleeps).
            panes_wanted = trio.Event()

            async def pane_timer() -> None:
                nonlocal panes_due
                while True:
                    await panes_wanted.wait()
                    await trio.sleep(pane_interval)
                    panes_due = True
                    merged.set()

            if gateway is not None:
                nursery.start_soon(remove_vanished, watcher, gateway)

            hooks_due = False

            async def on_hooks() -> None:
                nonlocal hooks_due
                seen = watcher.hook_wake.version
                while True:
                    seen, _ = await watcher.hook_wake.wait_newer(seen)
                    hooks_due = True
                    merged.set()

            for inbox in first:
                nursery.start_soon(pump, inbox)
            nursery.start_soon(on_config_dirs)
            nursery.start_soon(on_reconcile)
            nursery.start_soon(pane_timer)
            nursery.start_soon(on_hooks)
            while True:
                if watcher.has_pane_teammates():
                    panes_wanted.set()
                elif panes_wanted.is_set():
                    panes_wanted = trio.Event()
                await merged.wait()
                merged = trio.Event()
                batch, pending[:] = list(pending), []
                if batch:
                    paths: set[Path] = set().union(*(p for p, _ in batch))
                    await watcher.on_changes(paths, any(r for _, r in batch))
                if panes_due:
                    panes_due = False
                    await watcher.check_panes()
                if hooks_due:
                    hooks_due = False
                    await watcher.emit(set())
    finally:
        for root, inbox in inboxes.items():
            hub.unsubscribe(root, inbox)
