"""Claude Code sessions as their hook events tell them (`tina hook` -> control socket -> here).

The control socket hands each event to `Hooks.offer`, which never blocks: a full channel drops
the event and counts it. The actor keeps one `SessionState` per Claude Code session: where it
runs (cwd, transcript), when it was first and last heard from, and its liveness by a pure rule
(`liveness_after`). Each session is joined to its team (the team config whose `leadSessionId`
is the session, as the Claude watcher last read it) and to its orchestration (the tina worktree
its cwd is inside, from `~/.claude/tina-sessions/*.json`, read in the disk limiter when the
lookups change or a cwd matches none of them).

Bounded: at most `SESSIONS_MAX` sessions; ended sessions are forgotten `ENDED_KEEP_MS` after
they ended, and first when there are too many. A change of what a session says of its liveness
is told to `on_session` (the Claude watcher sends the lead's team again, its liveness merged);
every event to `on_change` (the needs actor recomputes). The sessions reach Convex through the
needs actor (`needs:syncLaptop`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from tina.daemon.needs import lead_view, retry_after
from tina.daemon.projection import hook_reason
from tina.daemon.watch import WatchHub
from tina.local import ReadError, list_session_lookups
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

TeamOf = Callable[[str], str | None]
"""The team directory whose lead runs in a session id (`ClaudeWatcher.team_of_session`)."""
SessionChanged = Callable[[str], None]
"""Told the id of a session whose liveness (or what it says of it) changed
(`ClaudeWatcher.hook_changed`: the session's team is sent again)."""

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

    def apply(self, event: HookEvent) -> SessionState | None:
        """Fold `event` into its session (None for an event without a session id)."""
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
        self.prune(now)
        return state

    def prune(self, now: float) -> None:
        """Forget sessions ended more than `ended_keep_ms` ago; past `max_sessions`, the ended
        ones first, then the longest silent."""
        for sid in [
            sid
            for sid, s in self.by_id.items()
            if s.ended_at is not None and now - s.ended_at > self.ended_keep_ms
        ]:
            del self.by_id[sid]
        excess = len(self.by_id) - self.max_sessions
        if excess > 0:
            order = sorted(
                self.by_id.values(), key=lambda s: (s.ended_at is None, s.last_at, s.session_id)
            )
            for s in order[:excess]:
                del self.by_id[s.session_id]

    def newest(self, n: int) -> list[SessionState]:
        return sorted(self.by_id.values(), key=lambda s: (s.last_at, s.session_id), reverse=True)[
            :n
        ]


def worktree_of(cwd: str, worktrees: dict[str, str]) -> str | None:
    """The feature whose worktree holds `cwd` (the deepest, if worktrees nest)."""
    here = os.path.normpath(cwd)
    best: tuple[int, str] | None = None
    for feature, root in worktrees.items():
        root = os.path.normpath(root)
        if (here == root or here.startswith(root.rstrip(os.sep) + os.sep)) and (
            best is None or len(root) > best[0]
        ):
            best = (len(root), feature)
    return None if best is None else best[1]


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
            if self.team_of is not None and (team := self.team_of(state.session_id)):
                state.team = team
            if state.cwd and (feature := worktree_of(state.cwd, self.worktrees)):
                state.orchestration = feature

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
        state = self.sessions.apply(event)
        if state is None:
            return
        try:
            await self._join_new(state)
        finally:
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
    """Take the queued hook events in; re-read the session lookups when they change."""
    sessions_dir = hooks.sessions_dir
    inbox = None
    if hub is not None and sessions_dir is not None:
        inbox = hub.subscribe(sessions_dir)
    try:
        await hooks.refresh_worktrees()
        async with trio.open_nursery() as nursery:
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
        if inbox is not None and hub is not None and sessions_dir is not None:
            hub.unsubscribe(sessions_dir, inbox)
