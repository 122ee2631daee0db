"""Everything that crosses an actor boundary, as attrs classes (never a dict).

- observations: what the watchers read (orchestration and phase snapshots, journal events,
  team, member and task snapshots); the syncer coalesces and sends them;
- health: what the presence actor reports with each heartbeat;
- actions: what the listener hands the dispatcher (an `InboundAction`, or a `MalformedAction`
  for a document that did not validate) and the `ActionResult` the dispatcher reports.

Field names are the daemon's own (snake_case). How they look on the wire is `tina.convex`'s
business (its converter names each field in camelCase; `tina.convex.actions` validates action
documents into these types), and how they look on disk is the outbox's
(`tina.daemon.sync.outbox`).
"""

from __future__ import annotations

from typing import Literal

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


@attrs.frozen(kw_only=True)
class MemberSnapshot:
    agent_id: str
    agent_name: str
    agent_type: str | None = None
    model: str | None = None
    joined_at: float | None = None
    tmux_pane_id: str | None = None
    cwd: str | None = None


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


# --- actions: what the listener hands the dispatcher, and what the dispatcher reports -------

ActionType = Literal["approve_plan", "reject_plan", "pause", "resume", "retry", "send_message"]


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
