"""Everything that crosses an actor boundary, as attrs classes (never a dict).

- observations: what the watchers read (orchestration and phase snapshots, journal events,
  team, member and task snapshots); the syncer coalesces and sends them;
- health: what the presence actor reports with each heartbeat;
- hooks: the Claude Code hook events `tina hook` forwards (`HookEvent`);
- actions: what the listener hands the dispatcher (an `InboundAction`, or a `MalformedAction`
  for a document that did not validate) and the `ActionResult` the dispatcher reports.

Field names are the daemon's own (snake_case). How they look on the wire is `tina.convex`'s
business (its converter names each field in camelCase; `tina.convex.actions` validates action
documents into these types), and how they look on disk is the outbox's
(`tina.daemon.sync.outbox`).

It sits beside `tina.daemon` and `tina.convex`, not in either: both speak it, and it imports
neither.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import Any, Literal

import attrs

# --- observations: what the watchers send the syncer, and the syncer sends Convex -----------


@attrs.frozen(kw_only=True)
class PhaseSnapshot:
    phase_number: str
    status: str
    plan_path: str | None = None
    git_range: str | None = None
    planning_started_at: float | None = None
    execution_started_at: float | None = None
    review_started_at: float | None = None
    completed_at: float | None = None
    planning_mins: float | None = None
    execution_mins: float | None = None
    review_mins: float | None = None
    duration_mins: float | None = None
    blocked_reason: str | None = None
    paused_from: str | None = None
    feedback: str | None = None


@attrs.frozen(kw_only=True)
class OrchestrationSnapshot:
    feature_name: str
    spec_doc_path: str
    branch: str
    worktree_path: str
    repo_root: str | None = None
    total_phases: float
    current_phase: float
    status: str
    started_at: float
    completed_at: float | None = None


@attrs.frozen(kw_only=True)
class TeamSnapshot:
    dir_name: str
    team_name: str
    description: str | None = None
    lead_agent_id: str | None = None
    created_at: float | None = None


MemberReach = Literal["pane", "in_process", "lead", "none"]
"""How a member can be reached besides its inbox (`tina.local.models.MemberReach` on the wire)."""

Liveness = Literal["working", "idle", "waiting", "rate_limited", "shut_down", "gone"]
"""What an agent is doing, as the daemon derives it from its team's files (`isActive`, the
inboxes' idle notifications, shutdowns and permission requests, and its pane), merged with what
the lead's Claude Code session says through its hooks (`tina.daemon.projection.merge_hook_liveness`):
a lead stopped by a rate limit is `rate_limited`, a lead whose session ended is `gone`."""


@attrs.frozen(kw_only=True)
class MemberSnapshot:
    agent_id: str
    agent_name: str
    agent_type: str | None = None
    model: str | None = None
    joined_at: float | None = None
    tmux_pane_id: str | None = None
    cwd: str | None = None
    is_active: bool | None = None
    backend_type: str | None = None
    color: str | None = None
    plan_mode_required: bool | None = None
    reach: MemberReach | None = None
    liveness: Liveness | None = None
    liveness_reason: str | None = None


@attrs.frozen(kw_only=True)
class TaskSnapshot:
    task_id: str
    subject: str
    description: str
    active_form: str | None = None
    status: str
    owner: str | None = None
    blocks: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    metadata: str | None = None
    internal: bool | None = None
    """True for a teammate tracker (`metadata._internal`); None otherwise, never False."""
    created_at: float | None = None
    updated_at: float | None = None


@attrs.frozen(kw_only=True)
class TaskCounts:
    """A team's board tasks by status, counted by the daemon over its whole snapshot
    (teammate trackers and deleted tasks are not board tasks)."""

    pending: float = 0
    in_progress: float = 0
    completed: float = 0
    other: float = 0


DocumentKind = Literal["plan", "design"]


@attrs.frozen(kw_only=True)
class DocumentSnapshot:
    """A phase's plan or an orchestration's design doc as read on the laptop.

    `content` is the file's text, cut at `DOCUMENT_MAX` bytes (at a character boundary,
    `truncated` then true); `hash` is the SHA-256 (hex) of the whole file, what an approval
    names. A file that is gone is `missing` with no content and no hash.
    """

    kind: DocumentKind
    phase_number: str | None = None
    path: str
    content: str = ""
    hash: str | None = None
    size: float = 0
    truncated: bool = False
    modified_at: float | None = None
    missing: bool = False


DOCUMENT_MAX = 256 * 1024
"""Bytes of a plan or design doc's text synced at most (Convex stores it in one document)."""

InboxKind = Literal[
    "text",
    "idle_notification",
    "task_assignment",
    "shutdown_request",
    "shutdown_response",
    "plan_approval_request",
    "plan_approval_response",
    "permission_request",
    "permission_response",
    "unknown",
]


@attrs.frozen(kw_only=True)
class InboxMessage:
    """One message of a team member's inbox (`~/.claude/teams/<team>/inboxes/<recipient>.json`).

    `key` is stable across re-reads and restarts (`tina.local.inbox_key`): Convex keeps one row
    per (team, key) and only `read` may change. `text` is cut at `INBOX_TEXT_MAX` bytes;
    `detail` is the canonical JSON (sorted keys) of a structured message's fields, cut at
    `INBOX_DETAIL_MAX`; an unknown `type` is kind "unknown" with its text kept. `timestamp` is
    ms since the epoch (0 when the entry has none: it then sorts first).
    """

    key: str
    recipient: str
    sender: str
    kind: InboxKind
    text: str
    truncated: bool = False
    summary: str | None = None
    color: str | None = None
    timestamp: float
    read: bool = False
    request_id: str | None = None
    approved: bool | None = None  # shutdown/plan approval responses; permission: subtype success
    detail: str | None = None


INBOX_TEXT_MAX = 16 * 1024
INBOX_DETAIL_MAX = 4 * 1024


@attrs.frozen(kw_only=True)
class EventRecord:
    idempotency_key: str
    event_type: str
    source: str
    summary: str
    detail: str | None = None
    phase_number: str | None = None
    recorded_at: float


@attrs.frozen(kw_only=True)
class ActorSummary:
    id: str
    state: str
    restarts: float
    last_error: str | None = None


@attrs.frozen(kw_only=True)
class Health:
    daemon_version: str
    started_at: float
    uptime_secs: float
    outbox_depth: float
    last_sync_at: float | None = None
    connection: str | None = None
    actors: tuple[ActorSummary, ...] = ()
    oldest_unsynced_at: float | None = None
    """Epoch ms: when the oldest observation still waiting to sync was queued (None: in sync)."""


# --- hooks: what `tina hook` forwards to the daemon, one event per Claude Code hook call -----


@attrs.frozen(kw_only=True)
class HookEvent:
    """One Claude Code hook event as the daemon took it in (`tina.hooks.event.parse_hook_event`).

    `event` is the hook's name (an unknown event keeps its name). The other fields are the
    event's input, each absent when Claude Code did not send it (or sent the wrong type);
    fields this class does not name are dropped. `tool_input` is its canonical JSON (sorted
    keys) cut at `HOOK_TOOL_INPUT_MAX` bytes (`PROMPT_TOOL_INPUT_MAX` for a PermissionRequest,
    with `tool_input_truncated` saying whether it was cut), `last_assistant_message` is cut at
    `HOOK_TEXT_MAX`, and every other text at `HOOK_FIELD_MAX`. `permission_suggestions` is the
    JSON text of a PermissionRequest's suggestions array as Claude Code sent it (keys in their
    order, so it can be handed back verbatim as `updatedPermissions`), absent when it is longer
    than `PROMPT_SUGGESTIONS_MAX` bytes. `received_at` is when the daemon received it, in ms
    since the epoch. `tmux_pane` and `tmux_socket`, or `iterm_session`, are not Claude Code's:
    `tina hook` adds the pane it runs in.
    """

    event: str
    received_at: float
    session_id: str | None = None
    transcript_path: str | None = None
    cwd: str | None = None
    permission_mode: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    notification_type: str | None = None
    message: str | None = None
    tool_name: str | None = None
    tool_input: str | None = None
    tool_input_truncated: bool = False
    permission_suggestions: str | None = None
    error: str | None = None
    error_details: str | None = None
    source: str | None = None
    reason: str | None = None
    model: str | None = None
    task_id: str | None = None
    task_subject: str | None = None
    teammate_name: str | None = None
    team_name: str | None = None
    trigger: str | None = None
    last_assistant_message: str | None = None
    # The tmux pane the hook ran in (`%3`) and its server's socket: `tina hook` adds them; or,
    # not in tmux, the id of the iTerm2 session it ran in.
    tmux_pane: str | None = None
    tmux_socket: str | None = None
    iterm_session: str | None = None


HOOK_TOOL_INPUT_MAX = 4 * 1024
HOOK_TEXT_MAX = 2 * 1024
HOOK_FIELD_MAX = 2 * 1024
PROMPT_TOOL_INPUT_MAX = 16 * 1024
PROMPT_SUGGESTIONS_MAX = 16 * 1024

HookLiveness = Literal["working", "waiting", "idle", "rate_limited", "failed", "ended"]
"""What a Claude Code session is doing, as its own hook events tell it."""


@attrs.frozen(kw_only=True)
class LeadSession:
    """A team lead's Claude Code session as its hook events tell it: what the Claude watcher
    merges into the team's liveness. `detail` is the end reason (SessionEnd), the error kind
    (StopFailure), the tool or notification it waits on; `tool_name` the last tool it used or
    asked for; `retry_hint` when a rate limit resets, in words, if the error said."""

    session_id: str
    liveness: HookLiveness
    detail: str | None = None
    tool_name: str | None = None
    retry_hint: str | None = None


# --- needs: what the laptop sees needs a human (`tina.daemon.needs`), sent with the sessions ---

LaptopNeedKind = Literal[
    "teammate_permission", "agent_plan_approval", "idle_with_tasks", "stop_failure", "stalled"
]
LAPTOP_NEED_KINDS: tuple[LaptopNeedKind, ...] = typing.get_args(LaptopNeedKind)
StallCause = Literal["waiting_for_human", "long_tool", "api_error", "silent"]
STALL_CAUSES: tuple[StallCause, ...] = typing.get_args(StallCause)


@attrs.frozen(kw_only=True)
class LaptopNeed:
    """Something on the laptop that needs a human, as `needs:syncLaptop` takes it. `key` is
    stable while the condition lasts (`perm:<teamDir>:<requestId>`, `stall:<sessionId>`, ...),
    `since` is when it began (ms since the epoch); the caps are `tina.convex.needs`'s."""

    key: str
    kind: LaptopNeedKind
    since: float
    title: str
    detail: str | None = None
    team_dir: str | None = None
    agent_name: str | None = None
    session_id: str | None = None
    feature_name: str | None = None
    request_id: str | None = None
    tool_name: str | None = None
    tool_input: str | None = None
    tool_input_truncated: bool | None = None
    plan_content: str | None = None
    cause: StallCause | None = None
    error_kind: str | None = None
    retry_hint: str | None = None
    retry_at: float | None = None
    open_tasks: float | None = None


@attrs.frozen(kw_only=True)
class SessionSnapshot:
    """A hook-known Claude Code session as `needs:syncLaptop` takes it (times in ms)."""

    session_id: str
    liveness: HookLiveness | None = None
    reason: str | None = None
    cwd: str | None = None
    team_dir: str | None = None
    agent_name: str | None = None
    feature_name: str | None = None
    first_at: float
    last_at: float
    last_event: str
    events: float


# --- permission prompts: a PermissionRequest shown on the dashboard and answered there --------

PromptAnswerKind = Literal["allow_once", "allow_always", "deny"]
PROMPT_ANSWERS: tuple[PromptAnswerKind, ...] = typing.get_args(PromptAnswerKind)
PromptOutcome = Literal["applied", "too_late", "expired"]
"""How an opened prompt ended on the laptop: its answer handed to the waiting hook, answered
after the hook had given up (the human at the keyboard answered), or no answer in time."""
PROMPT_MESSAGE_MAX = 1000


@attrs.frozen(kw_only=True)
class OpenedPrompt:
    """A PermissionRequest the daemon is waiting on, as the dashboard is told of it. Times in ms
    since the epoch; `tool_input` is canonical JSON (cut: `input_truncated`), `suggestions` the
    JSON text of Claude Code's `permission_suggestions`."""

    prompt_id: str
    session_id: str
    cwd: str | None = None
    tool_name: str
    tool_input: str
    input_truncated: bool = False
    description: str | None = None
    suggestions: str | None = None
    team_dir: str | None = None
    agent_name: str | None = None
    orchestration_id: str | None = None
    opened_at: float
    expires_at: float


@attrs.frozen(kw_only=True)
class PromptAnswer:
    """An operator's answer to an opened prompt (`tina.convex.prompts` validates it)."""

    prompt_id: str
    decision: PromptAnswerKind
    message: str | None = None
    answered_by: str | None = None


# --- actions: what the listener hands the dispatcher, and what the dispatcher reports -------

ActionType = Literal["approve_plan", "reject_plan", "pause", "resume", "retry", "send_message"]

MessageRoute = Literal["pane", "inbox", "lead_session"]
"""How a message reaches an agent: typed into its own tmux pane, appended to its inbox file, or
typed into the phase lead's tmux session (the one `tina-session start` created)."""


@attrs.frozen(kw_only=True)
class InboundAction:
    """A pending operator action, validated: what the dispatcher claims and runs.

    `tina.convex.actions` builds it from a `pendingActions` document. `feature` and `phase` are
    set for the state-machine actions, and for `send_message` when the team belongs to a phase
    of an orchestration.
    """

    id: str
    type: ActionType
    feature: str | None = None
    phase: str | None = None
    feedback: str | None = None
    team_dir: str | None = None
    agent_name: str | None = None
    text: str | None = None
    via: MessageRoute | None = None  # send_message: how to reach the agent
    plan_hash: str | None = None  # approve/reject_plan: the plan revision the operator read
    expires_at: float = 0.0  # ms since the epoch; 0 when the document has none


@attrs.frozen(kw_only=True)
class MalformedAction:
    """A pending action whose document did not validate. It is still claimed (so no other
    daemon runs it) and completed as failed with this code and message."""

    id: str
    code: str
    message: str


ActionMessage = InboundAction | MalformedAction
"""What the listener sends the dispatcher, one per new pending action."""


@attrs.frozen(kw_only=True)
class ActionResult:
    """How an action ended, as the dispatcher reports it (`completeAction`)."""

    ok: bool
    code: str
    message: str
    exit_code: int | None = None
    output: str | None = None
    duration_ms: float | None = None
    via: MessageRoute | None = None  # send_message: the way it was delivered
    message_key: str | None = None  # send_message via inbox: the inbox entry's key (read state)


# --- the rules every action satisfies (checked on the wire and again by the handlers) -------

ACTION_TYPES: tuple[ActionType, ...] = typing.get_args(ActionType)

AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
TEAM_DIR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# C0 controls except TAB and LF, DEL, and C1 (U+0080-U+009F): the same rule as
# `tina.session.tmux.check_text`, which checks again right before typing.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_TEXT = 4000


MAX_MESSAGE = 500


class ActionRejected(Exception):
    """The action cannot be run as given; `code` goes into the result.

    The message may quote what was sent; it is cut to `MAX_MESSAGE` characters, so a hostile
    document cannot make the result (or the log line) huge.
    """

    def __init__(self, code: str, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.code = code
        self.message = message


def check_text(value: Any, label: str, *, required: bool) -> str | None:
    """Free text for a handler (feedback, a message): 1-`MAX_TEXT` characters, no control
    characters but tabs and line feeds. `label` names the value in the message."""
    if value is None:
        if required:
            raise ActionRejected("payload_missing_field", f"{label} is required")
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"{label}: expected a string")
    if not value.strip() or len(value) > MAX_TEXT or CONTROL_RE.search(value):
        raise ActionRejected(
            "payload_invalid",
            f"{label}: expected 1-{MAX_TEXT} characters without control characters "
            "(tabs and line feeds are fine)",
        )
    return value


def check_team_dir(value: Any, label: str) -> str:
    """A team directory name under `~/.claude/teams` (never a path)."""
    if not isinstance(value, str) or not TEAM_DIR_RE.fullmatch(value) or ".." in value:
        raise ActionRejected("payload_invalid", f"{label}: expected a team directory name")
    return value


def check_agent_name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not AGENT_RE.fullmatch(value):
        raise ActionRejected("payload_invalid", f"{label}: expected an agent name")
    return value


def check_optional_name(value: Any, label: str, validate: Callable[[str], str]) -> str | None:
    """None, or a string that `validate` (`tina.local.names`) accepts; `validate` raises
    `InvalidName` for a string it refuses."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"{label}: expected a string")
    return validate(value)
