"""Local models -> the snapshots the daemon sends to Convex. Pure functions, no I/O.

Statuses: a paused phase (tina-session keeps it `blocked` with `paused_from`) is sent as
`paused`, a plan waiting at the approval gate as `awaiting_approval`, so the dashboard can
tell them from a real block. Times become milliseconds since the epoch (float64).
"""

from __future__ import annotations

import json
from datetime import datetime

from tina.convex.gateway import (
    EventRecord,
    MemberSnapshot,
    OrchestrationSnapshot,
    PhaseSnapshot,
    TaskSnapshot,
    TeamSnapshot,
)
from tina.local import JournalEntry, PhaseState, SupervisorState, Task, TeamConfig
from tina.local.models import canonical_json
from tina.local.names import phase_sort_key

MAX_DETAIL = 16_000
MAX_TEXT = 4000


def ms(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp() * 1000, 3)


def _cut(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def phase_status(phase: PhaseState) -> str:
    if phase.paused:
        return "paused"
    if phase.awaiting_approval:
        return "awaiting_approval"
    return phase.status.value


def phase_snapshot(key: str, phase: PhaseState) -> PhaseSnapshot:
    feedback = "; ".join(phase.plan_feedback) or None
    return PhaseSnapshot(
        phase_number=key,
        status=phase_status(phase),
        plan_path=phase.plan_path,
        git_range=phase.git_range,
        planning_started_at=ms(phase.planning_started_at),
        execution_started_at=ms(phase.execution_started_at),
        review_started_at=ms(phase.review_started_at),
        completed_at=ms(phase.completed_at),
        planning_mins=_num(phase.breakdown.planning_mins),
        execution_mins=_num(phase.breakdown.execution_mins),
        review_mins=_num(phase.breakdown.review_mins),
        duration_mins=_num(phase.duration_mins),
        blocked_reason=_cut(phase.blocked_reason),
        paused_from=phase.paused_from.value if phase.paused_from is not None else None,
        feedback=_cut(feedback),
    )


def _num(value: int | None) -> float | None:
    return None if value is None else float(value)


def orchestration_snapshot(
    state: SupervisorState, repo_root: str | None = None
) -> tuple[OrchestrationSnapshot, list[PhaseSnapshot]]:
    keys = sorted(state.phases, key=phase_sort_key)
    phases = [phase_snapshot(k, state.phases[k]) for k in keys]
    completed_at = None
    if state.status.value == "complete":
        done = [p.completed_at for p in state.phases.values() if p.completed_at is not None]
        completed_at = ms(max(done)) if done else None
    snapshot = OrchestrationSnapshot(
        feature_name=state.feature,
        spec_doc_path=state.spec_doc,
        branch=state.branch,
        worktree_path=state.worktree_path,
        repo_root=repo_root,
        total_phases=float(state.total_phases),
        current_phase=float(state.current_phase),
        status="paused" if state.paused else state.status.value,
        started_at=ms(state.orchestration_started_at) or 0.0,
        completed_at=completed_at,
    )
    return snapshot, phases


def team_snapshot(config: TeamConfig, dir_name: str) -> tuple[TeamSnapshot, list[MemberSnapshot]]:
    team = TeamSnapshot(
        dir_name=dir_name,
        team_name=config.name,
        description=_cut(config.description),
        lead_agent_id=config.lead_agent_id,
        created_at=ms(config.created_at),
    )
    seen: set[str] = set()
    members = []
    for m in config.members:
        if m.agent_id in seen:  # a duplicated member line must not refuse the whole team
            continue
        seen.add(m.agent_id)
        members.append(
            MemberSnapshot(
                agent_id=m.agent_id,
                agent_name=m.name,
                agent_type=m.agent_type,
                model=m.model,
                joined_at=ms(m.joined_at),
                tmux_pane_id=m.tmux_pane_id,
                cwd=m.cwd,
            )
        )
    return team, members


def task_snapshot(task: Task) -> TaskSnapshot:
    metadata = None if task.metadata is None else canonical_json(task.metadata)
    if metadata is not None and len(metadata) > MAX_DETAIL:
        metadata = canonical_json({"truncated": True, "bytes": len(metadata)})
    return TaskSnapshot(
        task_id=task.id,
        subject=_cut(task.subject, 1000) or "",
        description=_cut(task.description, 20_000) or "",
        active_form=_cut(task.active_form, 1000),
        status=task.status[:32],
        owner=task.owner,
        blocks=tuple(task.blocks),
        blocked_by=tuple(sorted(task.blocked_by)),
        metadata=metadata,
    )


def event_record(entry: JournalEntry) -> EventRecord:
    detail = None if entry.detail is None else json.dumps(entry.detail, sort_keys=True)
    if detail is not None and len(detail) > MAX_DETAIL:
        detail = json.dumps({"truncated": True, "bytes": len(detail)})
    return EventRecord(
        idempotency_key=entry.id,
        event_type=entry.type[:64],
        source=entry.source[:64],
        summary=_cut(entry.summary, 1000) or "",
        detail=detail,
        phase_number=entry.phase if entry.phase and entry.phase[0].isdigit() else None,
        recorded_at=ms(entry.recorded_at) or 0.0,
    )
