"""Claude Code sessions as their hook events tell them (`tina hook` -> control socket -> here).

The control socket hands each event to `Hooks.offer`, which never blocks: a full channel drops
the event and counts it. The actor keeps one `SessionState` per Claude Code session: where it
runs (cwd, transcript), when it was first and last heard from, and its liveness by a pure rule
(`liveness_after`). Each session is joined to its team (the team config whose `leadSessionId`
is the session, as the Claude watcher last read it) and to its orchestration (the tina worktree
its cwd is inside, from `~/.claude/tina-sessions/*.json`, read in the disk limiter when the
lookups change or a cwd matches none of them).

Bounded: at most `SESSIONS_MAX` sessions. An ended session is forgotten `ENDED_KEEP_MS` after
it ended unless its team still exists (`team_of` finds one): a dead lead stays dead as long as
its team does. Past `SESSIONS_MAX` the ended sessions of no team go first, then the other ended
ones, then the longest silent. A change of what a session says of its liveness is told to
`on_session` (the Claude watcher sends the lead's team again, its liveness merged); every event
to `on_change` (the needs actor recomputes). The sessions reach Convex through the needs actor
(`needs:syncLaptop`).

Kept across restarts in `state_file` (`STATE_FILE_NAME` in the daemon's state directory; JSON,
mode 0600, written whole: temp file, fsync, rename). It is written when a session's liveness,
reason, team, orchestration or cwd changes, or a session is forgotten: at once, then at most
once per `SAVE_INTERVAL` (changes in between are coalesced), and what is pending when the actor
stops. It holds no tool inputs nor any text a session wrote (no error text): ids, paths, the
liveness and its reason, times. It is read once, when the actor first starts; a missing file
is normal, an unreadable, oversized (> `STATE_FILE_MAX`) or malformed one is logged and
ignored, an entry of the wrong shape is skipped. The loaded sessions are told to `on_session`,
so their teams are sent again with their liveness merged.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, get_args

import attrs
import structlog
import trio

from tina import atomic
from tina.daemon.needs import lead_view, retry_after
from tina.daemon.projection import hook_reason
from tina.daemon.watch import WatchHub
from tina.local import ReadError, list_session_lookups
from tina.local.files import read_file
from tina.messages import HookEvent, HookLiveness, LeadSession

log = structlog.get_logger("tina.hooks")

HOOK_BUFFER = 256
"""Events waiting for the actor. Hook calls come in bursts (parallel tool calls, subagents, a
team's teammates at once) faster than one actor step; the hook never waits, so past this many
an event is dropped and counted."""
SESSIONS_MAX = 500
ENDED_KEEP_MS = 3600 * 1000.0
SHOWN_SESSIONS = 20
LOOKUP_RETRY_SECS = 10.0
"""A cwd inside no known worktree re-reads the lookups at most this often."""
ID_PREFIX = 8
STATE_FILE_NAME = "hook-sessions.json"
"""The sessions as last saved, in the daemon's state directory (`Config.state_dir`)."""
STATE_FILE_MAX = 1024 * 1024
"""A larger file is not read (500 sessions take about 300 KiB); a write keeps under it."""
STATE_VERSION = 1
SAVE_INTERVAL = 1.0
"""At most one write of the state file per this many seconds (trio time)."""
SAVE_TIMEOUT = 1.0
"""How long a stopping actor waits for its last write (within the hooks child's 2 s)."""

TeamOf = Callable[[str], str | None]
"""The team directory whose lead runs in a session id (`ClaudeWatcher.team_of_session`)."""
SessionChanged = Callable[[str], None]
"""Told the id of a session whose liveness (or what it says of it) changed
(`ClaudeWatcher.hook_changed`: the session's team is sent again)."""
StateWriter = Callable[[Path, bytes], Awaitable[None]]
"""Writes the state file's bytes (default: `write_atomic` in a thread of the disk limiter)."""

# --- the pure rule ----------------------------------------------------------------------------

WORKING_EVENTS = frozenset(
    {
        "SessionStart",
        "UserPromptSubmit",
        "UserPromptExpansion",
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "PostToolBatch",
        "SubagentStart",
        "SubagentStop",
        "TaskCreated",
        "TaskCompleted",
        "PreCompact",
        "PostCompact",
    }
)
WAITING_NOTIFICATIONS = frozenset({"permission_prompt", "elicitation_dialog"})
TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"})


def liveness_after(event: HookEvent) -> tuple[HookLiveness, str | None] | None:
    """The session's liveness after `event`, with its reason (the notification, the error
    kind, the end reason); None when the event says nothing about it (an unknown event, an
    `auth_success` notification)."""
    match event.event:
        case "SessionEnd":
            return "ended", event.reason
        case "StopFailure":
            kind = event.error or "unknown"
            return ("rate_limited" if kind == "rate_limit" else "failed"), kind
        case "PermissionRequest":
            return "waiting", event.tool_name
        case "Elicitation":
            return "waiting", "elicitation"
        case "Notification" if event.notification_type in WAITING_NOTIFICATIONS:
            return "waiting", event.notification_type
        case "Notification" if event.notification_type == "idle_prompt":
            return "idle", event.notification_type
        case "Notification":
            return None
        case "Stop":
            return "idle", None
        case "TeammateIdle":
            return "idle", event.teammate_name
        case name if name in WORKING_EVENTS:
            return "working", None
    return None


@attrs.define(kw_only=True)
class SessionState:
    session_id: str
    first_at: float
    last_at: float
    last_event: str
    events: int = 0
    cwd: str | None = None
    transcript_path: str | None = None
    permission_mode: str | None = None
    liveness: HookLiveness | None = None
    reason: str | None = None
    since: float | None = None  # when the liveness last changed
    ended_at: float | None = None
    team: str | None = None
    orchestration: str | None = None
    # The tmux pane its hooks run in and that server's socket (`tina hook` adds them): a pane
    # teammate's session is the member whose `tmuxPaneId` this is (`claude.pane_member`).
    tmux_pane: str | None = None
    tmux_socket: str | None = None
    # Not in tmux, the iTerm2 session its hooks ran in: an iTerm2 pane teammate's is its
    # member's `tmuxPaneId` (`claude.pane_member`).
    iterm_session: str | None = None
    tool_name: str | None = None  # the last tool it used or asked for
    tool_at: float | None = None  # when that tool started (its PreToolUse)
    # The last StopFailure's kind, text (error_details, else the API error message) and when
    # to retry (`tina.daemon.needs.retry_after`); cleared when it runs again.
    error_kind: str | None = None
    error_text: str | None = None
    retry_hint: str | None = None
    retry_at: float | None = None


class HookSessions:
    """Sessions by id, bounded. Pure: no I/O, no clock (times are the events' `received_at`)."""

    def __init__(
        self, *, max_sessions: int = SESSIONS_MAX, ended_keep_ms: float = ENDED_KEEP_MS
    ) -> None:
        self.max_sessions = max_sessions
        self.ended_keep_ms = ended_keep_ms
        self.by_id: dict[str, SessionState] = {}
        self.forgotten = 0  # sessions ever forgotten by `prune`

    def apply(self, event: HookEvent, *, team_of: TeamOf | None = None) -> SessionState | None:
        """Fold `event` into its session (None for an event without a session id); `team_of`
        tells which sessions' teams still exist (see `prune`)."""
        if not event.session_id:
            return None
        now = event.received_at
        state = self.by_id.get(event.session_id)
        if state is None:
            state = self.by_id[event.session_id] = SessionState(
                session_id=event.session_id, first_at=now, last_at=now, last_event=event.event
            )
        state.last_at = max(state.last_at, now)
        state.last_event = event.event
        state.events += 1
        state.cwd = event.cwd or state.cwd
        state.transcript_path = event.transcript_path or state.transcript_path
        state.permission_mode = event.permission_mode or state.permission_mode
        if event.tmux_pane:
            state.tmux_pane, state.tmux_socket = event.tmux_pane, event.tmux_socket
        elif event.iterm_session:
            state.iterm_session = event.iterm_session
        if event.tool_name and event.event in TOOL_EVENTS:
            if event.event == "PreToolUse" or event.tool_name != state.tool_name:
                state.tool_at = now
            state.tool_name = event.tool_name
        after = liveness_after(event)
        if after is not None:
            if after[0] != state.liveness:
                state.since = now
            state.liveness, state.reason = after
            state.ended_at = now if state.liveness == "ended" else None
            if event.event == "StopFailure":
                state.error_kind = event.error or "unknown"
                state.error_text = event.error_details or event.last_assistant_message
                text = "\n".join(
                    t for t in (event.error_details, event.last_assistant_message) if t
                )
                state.retry_hint, state.retry_at = retry_after(text, now)
            elif state.liveness not in ("rate_limited", "failed"):
                state.error_kind = state.error_text = state.retry_hint = None
                state.retry_at = None
        self.prune(now, team_of=team_of)
        return state

    def prune(self, now: float, *, team_of: TeamOf | None = None) -> None:
        """Forget sessions ended more than `ended_keep_ms` ago, except those whose team still
        exists (`team_of` finds one: its lead must stay dead); past `max_sessions`, the ended
        ones of no team first, then the other ended ones, then the longest silent."""
        for sid in [
            sid
            for sid, s in self.by_id.items()
            if s.ended_at is not None
            and now - s.ended_at > self.ended_keep_ms
            and (team_of is None or team_of(sid) is None)
        ]:
            del self.by_id[sid]
            self.forgotten += 1
        excess = len(self.by_id) - self.max_sessions
        if excess > 0:
            for s in self.by_keep(team_of)[-excess:]:
                del self.by_id[s.session_id]
                self.forgotten += 1

    def by_keep(self, team_of: TeamOf | None = None) -> list[SessionState]:
        """The sessions, the one to keep longest first (the reverse of the order `prune`
        forgets them in)."""

        def rank(s: SessionState) -> tuple[int, float, str]:
            if s.ended_at is None:
                kind = 2
            elif team_of is not None and team_of(s.session_id) is not None:
                kind = 1
            else:
                kind = 0
            return (kind, s.last_at, s.session_id)

        return sorted(self.by_id.values(), key=rank, reverse=True)

    def newest(self, n: int) -> list[SessionState]:
        return sorted(self.by_id.values(), key=lambda s: (s.last_at, s.session_id), reverse=True)[
            :n
        ]


class WorktreeIndex:
    """Worktree roots by normalised path: which feature's worktree holds a path, found by
    looking its ancestors up (O(depth)), not by testing every worktree (the needs pass asks
    for every team: 100 teams x 200 worktrees was 20,000 `normpath` calls every 30 s)."""

    def __init__(self, worktrees: dict[str, str]) -> None:
        self.roots: dict[str, str] = {}
        for feature, root in worktrees.items():
            self.roots.setdefault(os.path.normpath(root), feature)

    def __call__(self, cwd: str) -> str | None:
        """The feature whose worktree holds `cwd` (the deepest, if worktrees nest)."""
        here = os.path.normpath(cwd)
        while True:
            feature = self.roots.get(here)
            if feature is not None:
                return feature
            parent = os.path.dirname(here)
            if parent == here:
                return None
            here = parent


def worktree_of(cwd: str, worktrees: dict[str, str]) -> str | None:
    """The feature whose worktree holds `cwd` (the deepest, if worktrees nest)."""
    return WorktreeIndex(worktrees)(cwd)


def _read_lookups(sessions_dir: Path) -> dict[str, str]:
    try:
        lookups, _errors = list_session_lookups(sessions_dir)  # discovery logs the errors
    except ReadError:
        return {}
    return {lookup.feature: lookup.worktree_path for lookup in lookups}


def _says(state: SessionState) -> tuple[HookLiveness, str | None] | None:
    """What a session says of its liveness, in the words its team's lead is given."""
    view = lead_view(state)
    return None if view is None else (view.liveness, hook_reason(view))


# --- the state file ---------------------------------------------------------------------------

_LIVENESS: frozenset[str] = frozenset(get_args(HookLiveness))
_KEPT_TEXT = (
    "cwd",
    "transcript_path",
    "permission_mode",
    "reason",
    "team",
    "orchestration",
    "tmux_pane",
    "tmux_socket",
    "iterm_session",
    "tool_name",
    "error_kind",
    "retry_hint",
)
"""What is saved besides the id, times and liveness (never `error_text`: the API's or the
model's own words)."""
_KEPT_TIMES = ("since", "ended_at", "tool_at", "retry_at")


def _saved(state: SessionState) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "session_id": state.session_id,
        "first_at": state.first_at,
        "last_at": state.last_at,
        "last_event": state.last_event,
        "events": state.events,
        "liveness": state.liveness,
    }
    for name in (*_KEPT_TEXT, *_KEPT_TIMES):
        entry[name] = getattr(state, name)
    return entry


def encode_sessions(states: Iterable[SessionState], *, limit: int = STATE_FILE_MAX) -> bytes:
    """The state file's bytes: `states` in order (the one to keep longest first) while they
    fit in `limit`."""
    head, tail = f'{{"version": {STATE_VERSION}, "sessions": ['.encode(), b"]}\n"
    size = len(head) + len(tail)
    parts: list[bytes] = []
    for state in states:
        part = json.dumps(_saved(state), ensure_ascii=False, allow_nan=False).encode()
        if size + len(part) + 2 > limit:
            break
        parts.append(part)
        size += len(part) + 2
    return head + b",\n".join(parts) + tail


def _number(entry: dict[str, Any], name: str) -> float:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a number, got {value!r:.40}")
    return float(value)


def _text(entry: dict[str, Any], name: str, *, empty: bool = False) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not (value or empty):
        raise ValueError(f"{name}: expected a string, got {value!r:.40}")
    return value


def session_from_saved(entry: object) -> SessionState:
    """A saved session; ValueError (saying what is wrong) when `entry` has the wrong shape."""
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object, got {type(entry).__name__}")
    liveness = entry.get("liveness")
    if liveness is not None and liveness not in _LIVENESS:
        raise ValueError(f"liveness: expected one of {sorted(_LIVENESS)}, got {liveness!r:.40}")
    events = entry.get("events")
    if isinstance(events, bool) or not isinstance(events, int) or events < 0:
        raise ValueError(f"events: expected a count, got {events!r:.40}")
    state = SessionState(
        session_id=_text(entry, "session_id"),
        first_at=_number(entry, "first_at"),
        last_at=_number(entry, "last_at"),
        last_event=_text(entry, "last_event"),
        events=events,
        liveness=liveness,
    )
    for name in _KEPT_TEXT:
        setattr(state, name, None if entry.get(name) is None else _text(entry, name, empty=True))
    for name in _KEPT_TIMES:
        setattr(state, name, None if entry.get(name) is None else _number(entry, name))
    if (state.liveness == "ended") != (state.ended_at is not None):
        raise ValueError("ended_at: expected a time exactly when the session ended")
    return state


def decode_sessions(data: bytes) -> tuple[list[SessionState], list[str]]:
    """The sessions in a state file, and why each skipped entry was skipped; ValueError
    when the file as a whole is malformed."""
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise ValueError(f"expected an object with version {STATE_VERSION}")
    entries = doc.get("sessions")
    if not isinstance(entries, list):
        raise ValueError("sessions: expected an array")
    states: list[SessionState] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            state = session_from_saved(entry)
        except ValueError as exc:
            skipped.append(f"sessions[{i}]: {exc}")
            continue
        if state.session_id in seen:
            skipped.append(f"sessions[{i}]: a second entry for one session")
            continue
        seen.add(state.session_id)
        states.append(state)
    return states, skipped


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, mode 0600 (the directory is created 0700 if missing)."""
    atomic.write_atomic(path, data, mode=0o600, dir_mode=0o700)


def _read_state(path: Path) -> bytes | None:
    got = read_file(path, limit=STATE_FILE_MAX)
    return None if got is None else got.data


def _kept(state: SessionState) -> tuple[str | None, ...]:
    """What of a session, once changed, is written to the state file at once."""
    return (state.liveness, state.reason, state.team, state.orchestration, state.cwd)


# --- the actor's state ------------------------------------------------------------------------


class Hooks:
    """The hook intake (`offer`, called by the control socket), the sessions, and the joins.

    The wiring owns the channel: it lives as long as this object, across the actor's restarts.
    """

    def __init__(
        self,
        *,
        team_of: TeamOf | None = None,
        sessions_dir: Path | None = None,
        disk: trio.CapacityLimiter | None = None,
        buffer: int = HOOK_BUFFER,
        sessions: HookSessions | None = None,
        on_session: SessionChanged | None = None,
        on_change: Callable[[], None] | None = None,
        state_file: Path | None = None,
        write_state: StateWriter | None = None,
    ) -> None:
        self.team_of = team_of
        self.on_session = on_session
        self.on_change = on_change
        self.sessions_dir = sessions_dir
        self.disk = disk or trio.CapacityLimiter(1)
        self.sessions = sessions or HookSessions()
        self.events = 0  # taken in by `offer`
        self.dropped = 0
        self.last_at: float | None = None
        self.worktrees: dict[str, str] = {}  # feature -> worktree path
        self._lookups_read_at: float | None = None
        self.send, self.receive = trio.open_memory_channel[HookEvent](buffer)
        # The state file (None: kept in memory only): read by the first run, then written.
        self.state_file = state_file
        self._write_state = write_state or self._write_in_thread
        self._loaded = False
        self._changes = 0  # changes of what the state file keeps, counted
        self._saved = 0  # `_changes` as of the last write that succeeded
        self._save_wake = trio.Event()  # set when something changed since a write began
        self._write_failing = False
        self.writes = 0  # of the state file, done

    def offer(self, event: HookEvent) -> bool:
        """Queue `event` for the actor without waiting: False (dropped, counted) when full."""
        try:
            self.send.send_nowait(event)
        except trio.WouldBlock:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("hooks.dropped", dropped=self.dropped, hook=event.event)
            return False
        self.events += 1
        self.last_at = event.received_at
        return True

    # --- joins ---------------------------------------------------------------------------------

    def join(self, states: Iterable[SessionState]) -> None:
        """Each session's team and orchestration, from what is known now (kept when no longer
        found: a team's config goes when the team ends)."""
        for state in states:
            before = _kept(state)
            if self.team_of is not None and (team := self.team_of(state.session_id)):
                state.team = team
            if state.cwd and (feature := worktree_of(state.cwd, self.worktrees)):
                state.orchestration = feature
            if _kept(state) != before:
                self.save_soon()

    async def refresh_worktrees(self) -> None:
        if self.sessions_dir is None:
            return
        self._lookups_read_at = trio.current_time()
        self.worktrees = await trio.to_thread.run_sync(
            _read_lookups, self.sessions_dir, limiter=self.disk
        )

    def lead_session(self, session_id: str) -> LeadSession | None:
        """What session `session_id`'s hook events say of its liveness (None: nothing known)."""
        state = self.sessions.by_id.get(session_id)
        return None if state is None else lead_view(state)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def take(self, event: HookEvent) -> None:
        known = self.sessions.by_id.get(event.session_id or "")
        before = None if known is None else _says(known)
        kept = None if known is None else _kept(known)
        forgotten = self.sessions.forgotten
        state = self.sessions.apply(event, team_of=self.team_of)
        if state is None:
            return
        try:
            await self._join_new(state)
        finally:
            if _kept(state) != kept or self.sessions.forgotten != forgotten:
                self.save_soon()
            if self.on_session is not None and _says(state) != before:
                self.on_session(state.session_id)
            self._changed()

    async def _join_new(self, state: SessionState) -> None:
        if (
            state.cwd
            and state.orchestration is None
            and worktree_of(state.cwd, self.worktrees) is None
            and (
                self._lookups_read_at is None
                or trio.current_time() - self._lookups_read_at >= LOOKUP_RETRY_SECS
            )
        ):
            await self.refresh_worktrees()
        self.join([state])

    # --- the state file ------------------------------------------------------------------------

    async def load(self) -> None:
        """Take in the sessions the state file holds (once: a restarted actor keeps what it
        has), and tell `on_session` of each so their teams are sent again. Never raises for
        the file's sake: what is wrong with it is logged and the file ignored."""
        if self._loaded or self.state_file is None:
            return
        self._loaded = True
        path = self.state_file
        try:
            data = await trio.to_thread.run_sync(_read_state, path, limiter=self.disk)
        except (ReadError, OSError) as exc:
            log.warning("hook_state.ignored", path=str(path), problem=str(exc))
            return
        if data is None:
            return
        try:
            states, skipped = decode_sessions(data)
        except ValueError as exc:
            log.warning("hook_state.ignored", path=str(path), problem=str(exc))
            return
        if skipped:
            log.warning(
                "hook_state.entries_skipped",
                path=str(path),
                skipped=len(skipped),
                problem=skipped[0],
            )
        states.sort(key=lambda s: (s.last_at, s.session_id), reverse=True)
        fresh = [s for s in states if s.session_id not in self.sessions.by_id]
        fresh = fresh[: max(0, self.sessions.max_sessions - len(self.sessions.by_id))]
        for state in fresh:
            self.sessions.by_id[state.session_id] = state
        log.info("hook_state.loaded", path=str(path), sessions=len(fresh))
        self.join(fresh)
        if self.on_session is not None:
            for state in fresh:
                self.on_session(state.session_id)
        if fresh:
            self._changed()

    def save_soon(self) -> None:
        """Something the state file keeps changed: the saver writes it (coalesced)."""
        self._changes += 1
        self._save_wake.set()

    async def save(self) -> None:
        """Write the state file now if something changed since the last write. A failed
        write is logged (once until one succeeds) and tried again at the next change."""
        if self._changes == self._saved or self.state_file is None:
            return
        changes = self._changes
        self._save_wake = trio.Event()
        data = encode_sessions(self.sessions.by_keep(self.team_of))
        try:
            await self._write_state(self.state_file, data)
        except OSError as exc:
            if not self._write_failing:
                log.warning("hook_state.write_failed", path=str(self.state_file), error=str(exc))
            self._write_failing = True
            return
        self._write_failing = False
        self._saved = changes
        self.writes += 1

    async def _saver(self) -> None:
        """Write at once, then at most once per `SAVE_INTERVAL`."""
        while True:
            await self._save_wake.wait()
            await self.save()
            await trio.sleep(SAVE_INTERVAL)

    async def _write_in_thread(self, path: Path, data: bytes) -> None:
        await trio.to_thread.run_sync(write_atomic, path, data, limiter=self.disk)

    # --- observation ---------------------------------------------------------------------------

    def detail(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "dropped": self.dropped,
            "sessions": len(self.sessions.by_id),
        }

    def snapshot(self) -> dict[str, Any]:
        """`status`'s `hooks`: counters and the newest sessions."""
        newest = self.sessions.newest(SHOWN_SESSIONS)
        self.join(newest)
        return {
            "events": self.events,
            "dropped": self.dropped,
            "last_at": self.last_at,
            "sessions": [
                {
                    "id": s.session_id[:ID_PREFIX],
                    "team": s.team,
                    "orchestration": s.orchestration,
                    "liveness": s.liveness,
                    "reason": s.reason,
                    "last_event": s.last_event,
                    "last_at": s.last_at,
                    "events": s.events,
                }
                for s in newest
            ],
        }


async def run(
    hooks: Hooks,
    hub: WatchHub | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Take the queued hook events in; re-read the session lookups when they change; keep
    the state file (read at the first start, written as the sessions change and at the end)."""
    sessions_dir = hooks.sessions_dir
    inbox = None
    if hub is not None and sessions_dir is not None:
        inbox = hub.subscribe(sessions_dir)
    try:
        await hooks.load()
        await hooks.refresh_worktrees()
        async with trio.open_nursery() as nursery:
            if hooks.state_file is not None:
                nursery.start_soon(hooks._saver)
            if inbox is not None:

                async def on_lookups() -> None:
                    while True:
                        await inbox.get()
                        await hooks.refresh_worktrees()
                        hooks.join(hooks.sessions.by_id.values())
                        hooks._changed()

                nursery.start_soon(on_lookups)
            task_status.started()
            while True:
                # Not `async for`: the channel is the wiring's and outlives this run.
                event = await hooks.receive.receive()
                await hooks.take(event)
    finally:
        # What changed since the last write is not lost to a stop (or a crash).
        with trio.CancelScope(shield=True), trio.move_on_after(SAVE_TIMEOUT):
            await hooks.save()
        if inbox is not None and hub is not None and sessions_dir is not None:
            hub.unsubscribe(sessions_dir, inbox)
