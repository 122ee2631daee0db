"""attrs models of the local files tina reads and writes.

* ``supervisor-state.json`` (written by tina-session): :class:`SupervisorState`, :class:`PhaseState`
* session lookups ``~/.claude/tina-sessions/<feature>.json``: :class:`SessionLookup`
* phase ``status.json`` (written by the team-lead skill): :class:`PhaseStatusFile`
* Claude Code team configs and task files: :class:`TeamConfig`, :class:`TeamMember`, :class:`Task`
* the orchestration events journal ``events.jsonl``: :class:`JournalEntry`

All classes are frozen and keyword-only. Timestamps are aware UTC datetimes. Build them from
bytes with the functions in :mod:`tina.local.readers`, never with ``Cls(**doc)``.
"""

import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import attrs

from .errors import ReadError
from .names import phase_sort_key, team_dir_name

__all__ = [
    "ApprovalPolicy",
    "Breakdown",
    "IdleNotification",
    "Inbox",
    "InboxMessage",
    "JournalEntry",
    "MemberReach",
    "MessageBody",
    "MessageKind",
    "ModelPolicy",
    "OrchestrationStatus",
    "PermissionRequest",
    "PermissionResponse",
    "PhaseKey",
    "PhaseState",
    "PhaseStatus",
    "PhaseStatusFile",
    "PlanApproval",
    "PlanApprovalRequest",
    "PlanApprovalResponse",
    "ReviewVerdict",
    "SessionLookup",
    "ShutdownRequest",
    "ShutdownResponse",
    "SupervisorState",
    "Task",
    "TaskAssignment",
    "TaskStatus",
    "TeamConfig",
    "TeamMember",
    "Timing",
    "VerdictResult",
    "canonical_json",
]

PhaseKey = Annotated[str, "phase-key"]
"""A key of ``SupervisorState.phases``: ``"1"``, ``"2"``, ``"1.5"``... (validated on read)."""


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# supervisor-state.json


class OrchestrationStatus(StrEnum):
    PLANNING = "planning"
    EXECUTING = "executing"
    REVIEWING = "reviewing"
    COMPLETE = "complete"
    BLOCKED = "blocked"


class PhaseStatus(StrEnum):
    PLANNING = "planning"
    PLANNED = "planned"
    EXECUTING = "executing"
    REVIEWING = "reviewing"
    COMPLETE = "complete"
    BLOCKED = "blocked"


class PlanApproval(StrEnum):
    """Where a phase plan stands at the plan-approval gate (only used when the gate is on)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VerdictResult(StrEnum):
    PASS = "pass"
    GAPS = "gaps"


@attrs.frozen(kw_only=True)
class Breakdown:
    """Whole minutes spent in each step of a phase."""

    planning_mins: int | None = None
    execution_mins: int | None = None
    review_mins: int | None = None


@attrs.frozen(kw_only=True)
class ReviewVerdict:
    """One reviewer's verdict in consensus-review mode."""

    result: VerdictResult
    issues: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class PhaseState:
    status: PhaseStatus
    plan_path: str | None = None
    planning_started_at: datetime | None = None
    execution_started_at: datetime | None = None
    review_started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_mins: int | None = None
    git_range: str | None = None
    blocked_reason: str | None = None
    breakdown: Breakdown = attrs.Factory(Breakdown)
    review_verdicts: tuple[ReviewVerdict, ...] = ()
    in_phase_repair_loops: int = 0
    # Added by tina (absent in files of the original tool):
    retry_count: int = 0
    plan_approval: PlanApproval | None = None
    plan_feedback: tuple[str, ...] = ()
    paused_from: PhaseStatus | None = None
    paused_at: datetime | None = None

    @property
    def paused(self) -> bool:
        """Paused by an operator: ``status`` is ``blocked`` and ``paused_from`` remembers the
        status to restore on resume."""
        return self.paused_from is not None

    @property
    def awaiting_approval(self) -> bool:
        return self.status is PhaseStatus.PLANNED and self.plan_approval is PlanApproval.PENDING


@attrs.frozen(kw_only=True)
class Timing:
    """Never filled by the original tool; kept so files round-trip."""

    total_elapsed_mins: int | None = None
    active_mins: int | None = None
    idle_mins: int | None = None
    gaps: tuple[Any, ...] = ()


@attrs.frozen(kw_only=True)
class ModelPolicy:
    """Which model each agent runs on; the defaults are the original's (executor: haiku)."""

    validator: str = "opus"
    planner: str = "opus"
    executor: str = "haiku"
    reviewer: str = "opus"
    reviewer_secondary: str = "haiku"
    dual_validation: bool = False
    review_consensus: bool = False


@attrs.frozen(kw_only=True)
class ApprovalPolicy:
    require_plan_approval: bool = False


@attrs.frozen(kw_only=True)
class SupervisorState:
    """``<worktree>/.claude/tina/supervisor-state.json``.

    Read from files that use ``design_doc`` (original) or ``spec_doc`` (later); written with
    both keys, so either version of the original tool can read the file. ``phases`` must be treated as read-only: the state machine builds new
    states with :func:`attrs.evolve`.
    """

    version: int = 1
    feature: str
    spec_doc: str
    worktree_path: str
    branch: str
    total_phases: int
    current_phase: int
    status: OrchestrationStatus
    orchestration_started_at: datetime
    spec_id: str | None = None
    phases: Mapping[PhaseKey, PhaseState] = attrs.Factory(dict)
    timing: Timing = attrs.Factory(Timing)
    model_policy: ModelPolicy = attrs.Factory(ModelPolicy)
    review_policy: dict[str, Any] | None = None
    # Added by tina:
    approval_policy: ApprovalPolicy = attrs.Factory(ApprovalPolicy)
    blocked_reason: str | None = None
    paused_from: OrchestrationStatus | None = None
    paused_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.paused_from is not None

    @property
    def paused_phase(self) -> str | None:
        """The phase an operator paused, or ``None`` (not paused, or paused before phase 1)."""
        for key, phase in self.phases.items():
            if phase.paused:
                return key
        return None

    def phase_keys(self) -> list[str]:
        """Phase keys in numeric order (1, 1.5, 1.5.5, 2, ...)."""
        return sorted(self.phases, key=phase_sort_key)

    def phase(self, key: str) -> PhaseState | None:
        return self.phases.get(key)


# --------------------------------------------------------------------------------------------
# ~/.claude/tina-sessions/<feature>.json


@attrs.frozen(kw_only=True)
class SessionLookup:
    """Which worktree holds a feature's orchestration.

    Read from ``worktree_path`` or the original's ``cwd`` (which, despite its name, held the
    worktree path). ``repo_root`` is back-filled from the part of the worktree path before
    ``/.worktrees/`` when the file lacks it.
    """

    feature: str
    worktree_path: str
    repo_root: str | None = None
    created_at: datetime | None = None


# --------------------------------------------------------------------------------------------
# <worktree>/.claude/tina/phase-<phase>/status.json


@attrs.frozen(kw_only=True)
class PhaseStatusFile:
    """Written by the team-lead skill inside the phase's tmux session.

    ``status`` keeps the raw string (the skill writes ``executing``, ``complete``, ``blocked``);
    ``reason`` is read from ``reason`` (what the skill writes) or ``blocked_reason`` (what the
    original reader looked for).
    """

    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    blocked_at: datetime | None = None
    heartbeat_at: datetime | None = None
    git_range: str | None = None
    reason: str | None = None
    gate: str | None = None
    context: Any = None

    @property
    def known_status(self) -> PhaseStatus | None:
        try:
            return PhaseStatus(self.status)
        except ValueError:
            return None


# --------------------------------------------------------------------------------------------
# Claude Code: ~/.claude/teams/<dir>/config.json and ~/.claude/tasks/<dir>/<id>.json


class MemberReach(StrEnum):
    """How a team member can be reached besides its inbox (derived from ``tmuxPaneId``)."""

    LEAD = "lead"
    """The team lead: ``tmuxPaneId`` is ``""`` (early builds), ``"leader"`` (later builds) or
    absent; it reads its own inbox."""
    IN_PROCESS = "in-process"
    """An in-process teammate: no pane and no process of its own, only its inbox."""
    PANE = "pane"
    """A teammate in a real tmux pane (``%<n>``): :attr:`TeamMember.pane_id`."""
    NONE = "none"
    """No known way: an empty or unrecognised pane id on a teammate (e.g. an iTerm2 pane's: its
    iTerm2 session's id, which tina cannot type into)."""


_PANE_ID = re.compile(r"%[0-9]+")


@attrs.frozen(kw_only=True)
class TeamMember:
    """A member of a Claude Code team (JSON keys are camelCase).

    ``model``, ``joined_at`` and ``cwd`` may be missing (lead members often have no model).
    ``tmux_pane_id`` keeps the raw value: ``""`` or ``"leader"`` on the lead (or absent),
    ``"in-process"`` for a teammate inside the lead's process, ``"%3"`` for a tmux pane;
    :attr:`reach` and :attr:`pane_id` interpret it. ``is_active`` (``false`` while idle, absent
    or ``true`` while working) and ``plan_mode_required`` are ``None`` when absent or not a
    boolean.
    """

    agent_id: str
    name: str
    agent_type: str | None = None
    model: str | None = None
    joined_at: datetime | None = None
    tmux_pane_id: str | None = None
    cwd: str | None = None
    subscriptions: tuple[str, ...] = ()
    backend_type: str | None = None
    color: str | None = None
    is_active: bool | None = None
    plan_mode_required: bool | None = None

    @property
    def in_process(self) -> bool:
        return self.tmux_pane_id == "in-process" or self.backend_type == "in-process"

    @property
    def tmux_pane(self) -> str | None:
        """The tmux pane id (``%17``) when the member really runs in a pane.

        Kept as it was for the daemon: any other non-empty value (``"leader"``) is returned as
        well; :attr:`pane_id` returns only real pane ids.
        """
        if self.in_process or not self.tmux_pane_id:
            return None
        return self.tmux_pane_id

    @property
    def is_lead(self) -> bool:
        """The lead: its name or agent type is ``team-lead``, or its pane id is ``"leader"``."""
        return (
            self.name == "team-lead"
            or self.agent_type == "team-lead"
            or self.tmux_pane_id == "leader"
        )

    @property
    def pane_id(self) -> str | None:
        """The tmux pane id when ``tmuxPaneId`` is a real one (``%<n>``), else ``None``."""
        if self.tmux_pane_id is not None and _PANE_ID.fullmatch(self.tmux_pane_id):
            return self.tmux_pane_id
        return None

    @property
    def reach(self) -> MemberReach:
        if self.pane_id is not None:
            return MemberReach.PANE
        if self.tmux_pane_id == "in-process":
            return MemberReach.IN_PROCESS
        if self.is_lead and self.tmux_pane_id in (None, "", "leader"):
            return MemberReach.LEAD
        if self.backend_type == "in-process" and not self.tmux_pane_id:
            return MemberReach.IN_PROCESS
        return MemberReach.NONE


@attrs.frozen(kw_only=True)
class TeamConfig:
    name: str
    description: str | None = None
    created_at: datetime | None = None
    lead_agent_id: str | None = None
    lead_session_id: str | None = None
    members: tuple[TeamMember, ...]

    @property
    def dir_name(self) -> str:
        """The directory Claude Code keeps this team's files in (dots become dashes)."""
        return team_dir_name(self.name)


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@attrs.frozen(kw_only=True)
class Task:
    """A Claude Code task. ``status`` keeps the raw string: unknown statuses (``deleted``...) are
    read, not rejected; :attr:`known_status` is ``None`` for them.

    ``created_at``/``updated_at`` (epoch milliseconds, in some builds) are ``None`` when absent
    or not a timestamp. Neither is part of :meth:`canonical`.
    """

    id: str
    subject: str
    description: str = ""
    active_form: str | None = None
    status: str
    owner: str | None = None
    blocks: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    metadata: Any = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        """Status ``deleted``: some builds keep a deleted task's file with this status."""
        return self.status == "deleted"

    @property
    def internal(self) -> bool:
        """A teammate tracker (``metadata._internal`` is true; ``subject`` is the agent's name),
        which Claude Code's own task list hides."""
        return isinstance(self.metadata, dict) and self.metadata.get("_internal") is True

    @property
    def known_status(self) -> TaskStatus | None:
        try:
            return TaskStatus(self.status)
        except ValueError:
            return None

    def canonical(self) -> dict[str, Any]:
        """The fields whose change is a real task change, in a comparable form.

        ``blockedBy`` is sorted (it is a set of ids); ``metadata`` becomes canonical JSON text
        (``None`` when absent).
        """
        return {
            "status": self.status,
            "subject": self.subject,
            "owner": self.owner,
            "description": self.description,
            "blockedBy": sorted(self.blocked_by),
            "metadata": None if self.metadata is None else canonical_json(self.metadata),
        }

    def canonical_json(self) -> str:
        return canonical_json(self.canonical())


# --------------------------------------------------------------------------------------------
# Claude Code: ~/.claude/teams/<dir>/inboxes/<agent name>.json


class MessageKind(StrEnum):
    """What an inbox message carries. Structured messages are JSON text with a ``type``."""

    TEXT = "text"
    """Plain text (or JSON without a string ``type``): an ordinary message."""
    IDLE_NOTIFICATION = "idle_notification"
    TASK_ASSIGNMENT = "task_assignment"
    SHUTDOWN_REQUEST = "shutdown_request"
    SHUTDOWN_RESPONSE = "shutdown_response"
    """``shutdown_approved`` (seen on disk), ``shutdown_rejected`` and ``shutdown_response``
    (the ``SendMessage`` input shape, with ``approve``/``approved``)."""
    PLAN_APPROVAL_REQUEST = "plan_approval_request"
    PLAN_APPROVAL_RESPONSE = "plan_approval_response"
    PERMISSION_REQUEST = "permission_request"
    PERMISSION_RESPONSE = "permission_response"
    UNKNOWN = "unknown"
    """JSON with a ``type`` tina does not know: kept as text, never answered."""


@attrs.frozen(kw_only=True)
class IdleNotification:
    """A teammate ended its turn and went idle (sent to the lead)."""

    idle_reason: str | None = None  # "available" | "interrupted"
    summary: str | None = None
    completed_status: str | None = None


@attrs.frozen(kw_only=True)
class TaskAssignment:
    """``TaskUpdate`` changed a task's owner (sent to the new owner)."""

    task_id: str | None = None
    subject: str | None = None
    description: str | None = None
    assigned_by: str | None = None


@attrs.frozen(kw_only=True)
class ShutdownRequest:
    """The lead asks a teammate to shut down."""

    request_id: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ShutdownResponse:
    """A teammate's answer to a shutdown request; ``approved`` is ``None`` when not stated."""

    request_id: str | None = None
    approved: bool | None = None
    reason: str | None = None
    pane_id: str | None = None
    backend_type: str | None = None


@attrs.frozen(kw_only=True)
class PlanApprovalRequest:
    """A teammate in plan mode asks the lead to approve its plan."""

    request_id: str | None = None
    plan_content: str | None = None


@attrs.frozen(kw_only=True)
class PlanApprovalResponse:
    """The lead's answer to a plan; ``approved`` is ``None`` when not stated."""

    request_id: str | None = None
    approved: bool | None = None
    feedback: str | None = None


@attrs.frozen(kw_only=True)
class PermissionRequest:
    """A (pane) teammate asks the lead to allow a tool call.

    Read from the snake_case form seen on disk (``request_id``, ``agent_id``, ``tool_name``...)
    or the camelCase form of one write-up (``requestId``, ``workerName``, ``toolName``...).
    ``agent`` is the worker's name (the on-disk key is ``agent_id`` despite holding a name).
    """

    request_id: str | None = None
    agent: str | None = None
    tool_name: str | None = None
    tool_use_id: str | None = None
    description: str | None = None
    input: Any = None
    permission_suggestions: tuple[Any, ...] = ()


@attrs.frozen(kw_only=True)
class PermissionResponse:
    """The lead's answer to a permission request: ``subtype`` ``"success"`` (allowed, with an
    optional ``response``) or ``"error"`` (denied, with ``error``)."""

    request_id: str | None = None
    subtype: str | None = None
    response: Any = None
    error: str | None = None

    @property
    def allowed(self) -> bool | None:
        if self.subtype == "success":
            return True
        if self.subtype == "error":
            return False
        return None


MessageBody = (
    IdleNotification
    | TaskAssignment
    | ShutdownRequest
    | ShutdownResponse
    | PlanApprovalRequest
    | PlanApprovalResponse
    | PermissionRequest
    | PermissionResponse
)


@attrs.frozen(kw_only=True)
class InboxMessage:
    """One entry of an inbox file (a JSON array; the recipient is the file's agent).

    ``sender`` is the JSON ``from`` (a member name). ``timestamp`` is ``None`` when missing or
    not a timestamp (``timestamp_raw`` keeps what was there). ``read`` is ``False`` when absent.
    ``kind`` says what ``text`` carries; ``type`` is the raw structured ``type`` (``None`` for
    plain text); ``body`` holds the fields of a known structured kind (``None`` for text and
    unknown kinds). ``text`` is always kept as written. ``key`` is a stable dedupe key (see
    :func:`tina.local.readers.parse_inbox`).
    """

    key: str
    agent: str
    sender: str
    text: str
    timestamp: datetime | None = None
    timestamp_raw: Any = None
    read: bool = False
    color: str | None = None
    summary: str | None = None
    kind: MessageKind = MessageKind.TEXT
    type: str | None = None
    body: MessageBody | None = None


@attrs.frozen(kw_only=True)
class Inbox:
    """An inbox file: its messages in file order, and the entries that were not messages
    (not an object, or no string ``from``/``text``), each as a :class:`ReadError`."""

    agent: str
    messages: tuple[InboxMessage, ...]
    errors: tuple[ReadError, ...] = ()


# --------------------------------------------------------------------------------------------
# <worktree>/.claude/tina/events.jsonl


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One orchestration event appended by tina-session."""

    id: str
    type: str
    source: str
    summary: str
    detail: dict[str, Any] | None = None
    phase: str | None = None
    feature: str
    recorded_at: datetime
