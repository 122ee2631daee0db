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
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import attrs

from .names import phase_sort_key, team_dir_name

__all__ = [
    "ApprovalPolicy",
    "Breakdown",
    "JournalEntry",
    "ModelPolicy",
    "OrchestrationStatus",
    "PhaseKey",
    "PhaseState",
    "PhaseStatus",
    "PhaseStatusFile",
    "PlanApproval",
    "ReviewVerdict",
    "SessionLookup",
    "SupervisorState",
    "Task",
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


@attrs.frozen(kw_only=True)
class TeamMember:
    """A member of a Claude Code team (JSON keys are camelCase).

    ``model`` may be missing (lead members often have none). ``tmux_pane_id`` keeps the raw
    value; ``"in-process"`` means the member runs inside the lead's process, not in a pane.
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

    @property
    def in_process(self) -> bool:
        return self.tmux_pane_id == "in-process" or self.backend_type == "in-process"

    @property
    def tmux_pane(self) -> str | None:
        """The tmux pane id (``%17``) when the member really runs in a pane."""
        if self.in_process or not self.tmux_pane_id:
            return None
        return self.tmux_pane_id


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
    read, not rejected; :attr:`known_status` is ``None`` for them."""

    id: str
    subject: str
    description: str = ""
    active_form: str | None = None
    status: str
    owner: str | None = None
    blocks: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    metadata: Any = None

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
