"""The orchestration state machine: pure transitions, no I/O.

``apply(state, event, now)`` returns a :class:`Transition` (the new state, the action for the
orchestrator, and drafts of the journal events to record) or raises a :class:`TransitionError`
and changes nothing. ``next_action(state)`` answers "what now?" without changing anything.
The manual ``state`` commands are here too (:func:`update_status`, :func:`complete_phase`,
:func:`block_phase`).

Phases and statuses (see ``reference/tina-formats.md`` §1 and §5)::

    validation ─pass/warning─► phase 1: planning ─plan_complete─► planned ─execute_started─►
    executing ─execute_complete─► reviewing ─review_pass─► complete ─► phase 2: planning ...
                                            └─review_gaps─► complete + remediation "1.5": planning

Which event applies when is one table, :data:`TRANSITIONS`: a row per :class:`Status` (where an
event lands: the status of its phase, or of the orchestration for validation, ``resume`` and
``--phase validation``; see :func:`status_for`), an entry per event the row accepts, giving the
status it leads to. An event missing from its row is refused with :func:`refusal`'s message.
``apply`` looks the event up, then runs the event's handler, which only computes what the table
cannot say (fields, action, journal, a few checks on the event's data).

Additions to the original:

* **pause / resume.** ``pause`` marks the phase and the orchestration ``blocked`` with
  ``blocked_reason`` "paused by operator" (or the given reason) and remembers the previous
  statuses in ``paused_from`` (on the phase and on the orchestration). Readers tell a pause from
  an error by ``paused_from`` being set. ``resume`` restores exactly those statuses. While
  paused, only ``resume`` and ``retry``/``error`` on the paused phase are accepted.
* **plan-approval gate** (``approval_policy.require_plan_approval``). A finished plan leaves the
  phase ``planned`` with ``plan_approval: "pending"`` and the orchestrator is told to wait;
  ``plan_approved`` proceeds to execution, ``plan_rejected`` returns the phase to ``planning``
  with the feedback in ``plan_feedback`` (sent to the planner as ``issues``).
* Fixed defects of the original: validation events are refused once phase 1 exists (they used to
  reset it); an error on an unknown phase is refused (it used to block the orchestration with no
  way to retry); running out of remediation levels blocks the phase (it used to mark it complete,
  and ``next`` then moved on as if the review had passed); a consensus disagreement can be
  retried (re-review); ``next`` after a failed validation says ``stopped``; the gate is honoured
  by ``retry``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import attrs

from ..local.models import (
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    ReviewVerdict,
    SupervisorState,
    VerdictResult,
)
from ..local.names import (
    MAX_REMEDIATION_DEPTH,
    InvalidName,
    is_main_phase,
    main_phase_number,
    phase_sort_key,
    remediation_depth,
    remediation_phase,
    validate_phase,
)
from .actions import (
    Action,
    Complete,
    ConsensusDisagreement,
    Error,
    Finalize,
    Remediate,
    ReusePlan,
    SpawnExecutor,
    SpawnPlanner,
    SpawnReviewer,
    SpawnValidator,
    Stopped,
    Wait,
)

__all__ = [
    "ALLOWED_MANUAL_TRANSITIONS",
    "CONSENSUS_DISAGREEMENT_REASON",
    "PHASE_ROWS",
    "TRANSITIONS",
    "VALIDATION_FAILED_REASON",
    "VALIDATION_PHASE",
    "Event",
    "EventDraft",
    "EventKind",
    "InvalidInput",
    "InvalidTransition",
    "PhaseNotFound",
    "PlanFinder",
    "Status",
    "Transition",
    "TransitionError",
    "apply",
    "block_phase",
    "complete_phase",
    "next_action",
    "no_plan",
    "phase_beyond_total",
    "refusal",
    "status_for",
    "update_status",
]

VALIDATION_PHASE = "validation"
"""``--phase`` value for validation events and for pausing before phase 1; never a state key."""

VALIDATION_FAILED_REASON = "Design validation failed"
CONSENSUS_DISAGREEMENT_REASON = "review consensus disagreement"
PAUSED_REASON = "paused by operator"


def _remediation_limit_reason(phase: str) -> str:
    return f"Phase {phase} has failed review after {MAX_REMEDIATION_DEPTH} remediation attempts"


_REMEDIATION_LIMIT_MARK = "remediation attempts"


class EventKind(StrEnum):
    VALIDATION_PASS = "validation_pass"
    VALIDATION_WARNING = "validation_warning"
    VALIDATION_STOP = "validation_stop"
    PLAN_COMPLETE = "plan_complete"
    EXECUTE_STARTED = "execute_started"
    EXECUTE_COMPLETE = "execute_complete"
    REVIEW_PASS = "review_pass"
    REVIEW_GAPS = "review_gaps"
    RETRY = "retry"
    ERROR = "error"
    PAUSE = "pause"
    RESUME = "resume"
    PLAN_APPROVED = "plan_approved"
    PLAN_REJECTED = "plan_rejected"


@attrs.frozen(kw_only=True)
class Event:
    """An ``orchestrate advance`` input.

    ``issues``: review gaps (``review_gaps``) or operator feedback (``plan_rejected``).
    ``reason``: free text for ``error``, ``retry`` and ``pause``.
    """

    kind: EventKind
    phase: str
    plan_path: str | None = None
    git_range: str | None = None
    issues: tuple[str, ...] = ()
    reason: str | None = None


@attrs.frozen(kw_only=True)
class EventDraft:
    """A journal event without its id and timestamp (the store adds those)."""

    type: str
    summary: str
    phase: str | None = None
    detail: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Transition:
    state: SupervisorState
    action: Action
    events: tuple[EventDraft, ...]


class TransitionError(Exception):
    """Refused input; nothing changed. ``code`` is the machine-readable kind."""

    code = "invalid_transition"


class InvalidTransition(TransitionError):
    """The event does not apply to the current status."""


class PhaseNotFound(TransitionError):
    code = "phase_not_found"


class InvalidInput(TransitionError):
    """The event lacks something it needs (``--plan-path``...) or names a bad phase."""

    code = "invalid_input"


PlanFinder = Callable[[str, str | None], str | None]
"""``(phase, current plan_path) -> path of an existing plan to reuse, or None``."""


def no_plan(phase: str, plan_path: str | None) -> str | None:
    return None


# --------------------------------------------------------------------------------------------
# the table


class Status(StrEnum):
    """Where an event lands: a row of :data:`TRANSITIONS` (see :func:`status_for`)."""

    # The orchestration: validation events, resume, and --phase validation.
    VALIDATING = "validating"  # no phase 1 yet
    VALIDATION_FAILED = "validation_failed"  # no phase 1, the orchestration blocked
    VALIDATION_PAUSED = "validation_paused"  # paused before phase 1
    VALIDATED = "validated"  # phase 1 exists
    # A phase (--phase N): its PhaseStatus, with planned split by the plan-approval gate.
    PLANNING = "planning"
    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    REVIEWING = "reviewing"
    COMPLETE = "complete"
    BLOCKED = "blocked"
    PAUSED = "paused"  # the orchestration is paused at a phase
    # The orchestration is complete.
    FINISHED = "finished"


S = Status
E = EventKind
_PLAN_DONE = (S.PLANNED, S.AWAITING_APPROVAL)  # the approval gate decides
_REVIEWED = (S.COMPLETE, S.REVIEWING, S.BLOCKED)  # consensus and remediation depth decide
_RETRIED = (S.PLANNING, S.AWAITING_APPROVAL, S.EXECUTING, S.REVIEWING)  # what the phase has
_RESUMED = (S.PLANNING, S.PLANNED, S.AWAITING_APPROVAL, S.EXECUTING, S.REVIEWING)

Outcome = Status | tuple[Status, ...]

TRANSITIONS: dict[Status, dict[EventKind, Outcome]] = {
    S.VALIDATING: {
        E.VALIDATION_PASS: S.VALIDATED,
        E.VALIDATION_WARNING: S.VALIDATED,
        E.VALIDATION_STOP: S.VALIDATION_FAILED,
        E.ERROR: S.VALIDATION_FAILED,
        E.PAUSE: S.VALIDATION_PAUSED,
    },
    S.VALIDATION_FAILED: {
        E.VALIDATION_PASS: S.VALIDATED,
        E.VALIDATION_WARNING: S.VALIDATED,
        E.VALIDATION_STOP: S.VALIDATION_FAILED,
        E.RETRY: S.VALIDATING,
        E.ERROR: S.VALIDATION_FAILED,
    },
    S.VALIDATION_PAUSED: {E.RESUME: S.VALIDATING},
    S.VALIDATED: {},
    S.PLANNING: {E.PLAN_COMPLETE: _PLAN_DONE, E.ERROR: S.BLOCKED, E.PAUSE: S.PAUSED},
    S.PLANNED: {
        E.PLAN_COMPLETE: _PLAN_DONE,
        E.EXECUTE_STARTED: S.EXECUTING,
        E.EXECUTE_COMPLETE: S.REVIEWING,
        E.ERROR: S.BLOCKED,
        E.PAUSE: S.PAUSED,
    },
    S.AWAITING_APPROVAL: {
        E.PLAN_COMPLETE: S.AWAITING_APPROVAL,  # a new plan awaits approval in turn
        E.PLAN_APPROVED: S.PLANNED,
        E.PLAN_REJECTED: S.PLANNING,
        E.ERROR: S.BLOCKED,
        E.PAUSE: S.PAUSED,
    },
    S.EXECUTING: {
        E.EXECUTE_STARTED: S.EXECUTING,
        E.EXECUTE_COMPLETE: S.REVIEWING,
        E.ERROR: S.BLOCKED,
        E.PAUSE: S.PAUSED,
    },
    S.REVIEWING: {
        E.REVIEW_PASS: _REVIEWED,
        E.REVIEW_GAPS: _REVIEWED,
        E.ERROR: S.BLOCKED,
        E.PAUSE: S.PAUSED,
    },
    S.COMPLETE: {},
    S.BLOCKED: {E.RETRY: _RETRIED, E.ERROR: S.BLOCKED},
    S.PAUSED: {E.RESUME: _RESUMED},
    S.FINISHED: {},
}
"""(status, event) → the status of what the event was aimed at, afterwards (a tuple: one of
these, the handler decides). An event missing from a row is refused (:func:`refusal`) and
nothing changes. The handlers (``_HANDLERS``) do what the table cannot say: the fields to
change, the action, the journal, and a few guards on data (``--plan-path``, ``--git-range``,
``--issues`` of ``plan_rejected``, resume aimed elsewhere than the pause)."""

_VALIDATION_EVENTS = frozenset({E.VALIDATION_PASS, E.VALIDATION_WARNING, E.VALIDATION_STOP})
_AT_VALIDATION_OR_PHASE = frozenset({E.RETRY, E.ERROR, E.PAUSE})
_VALIDATION_ROWS = frozenset({S.VALIDATING, S.VALIDATION_FAILED, S.VALIDATED})
PHASE_ROWS: dict[Status, PhaseStatus] = {
    S.PLANNING: PhaseStatus.PLANNING,
    S.PLANNED: PhaseStatus.PLANNED,
    S.AWAITING_APPROVAL: PhaseStatus.PLANNED,
    S.EXECUTING: PhaseStatus.EXECUTING,
    S.REVIEWING: PhaseStatus.REVIEWING,
    S.COMPLETE: PhaseStatus.COMPLETE,
    S.BLOCKED: PhaseStatus.BLOCKED,
}
"""The rows an event aimed at a phase lands in when the orchestration is neither complete nor
paused, and the phase's status in each."""


def status_for(state: SupervisorState, event: Event) -> Status:
    """The row of :data:`TRANSITIONS` that ``event`` is read in.

    In order: a complete orchestration is ``FINISHED``; a paused one is ``PAUSED`` (or
    ``VALIDATION_PAUSED``), except that ``retry`` and ``error`` aimed at the pause are read
    where the pause left it (a paused phase is blocked); validation events (whatever
    ``--phase`` says, as in the original), ``resume``, and ``retry``/``error``/``pause`` with
    ``--phase validation`` read the orchestration; any other event reads its phase, which must
    exist (:class:`PhaseNotFound`; :class:`InvalidInput` for ``--phase validation``).
    """
    if state.status is OrchestrationStatus.COMPLETE:
        return S.FINISHED
    if state.paused:
        at_pause = event.kind in (E.RETRY, E.ERROR) and event.phase == _paused_target(state)
        if not at_pause:
            return S.PAUSED if state.paused_phase else S.VALIDATION_PAUSED
    at_validation = event.phase == VALIDATION_PHASE and event.kind in _AT_VALIDATION_OR_PHASE
    if event.kind in _VALIDATION_EVENTS or event.kind is E.RESUME or at_validation:
        if state.phase("1") is not None:
            return S.VALIDATED
        if state.status is OrchestrationStatus.BLOCKED:
            return S.VALIDATION_FAILED
        return S.VALIDATING
    phase = _require_phase(state, event.kind, event.phase)
    return S.AWAITING_APPROVAL if phase.awaiting_approval else S(phase.status.value)


def refusal(status: Status, state: SupervisorState, event: Event) -> InvalidTransition:
    """The error for ``event`` landing in ``status`` when the row does not have it."""
    kind, key, feature = event.kind, event.phase, state.feature
    if status is S.FINISHED:
        return InvalidTransition(
            f"orchestration {feature!r} is complete; event {kind} does not apply"
        )
    if status in (S.PAUSED, S.VALIDATION_PAUSED):
        if kind is E.PAUSE:
            return InvalidTransition(f"orchestration {feature!r} is already paused")
        return InvalidTransition(
            f"orchestration {feature!r} is paused by an operator "
            f"(at {_paused_target(state)}); resume it before sending {kind}"
        )
    if kind is E.RESUME:
        return InvalidTransition(f"orchestration {feature!r} is not paused")
    if status in _VALIDATION_ROWS:
        return InvalidTransition(_validation_refusal(status, state, kind))
    phase = state.phases[key]
    match kind:
        case E.RETRY:
            message = f"Unexpected state: Phase {key} is not blocked (status: {phase.status.value})"
        case E.ERROR:
            message = f"cannot apply error to phase {key}: it is already complete"
        case E.PLAN_APPROVED | E.PLAN_REJECTED:
            why = (
                f"its status is {phase.status.value}"
                if _gate(state)
                else "the plan-approval gate is off for this orchestration"
            )
            message = (
                f"cannot apply {kind} to phase {key}: it is not awaiting plan approval ({why})"
            )
        case E.EXECUTE_STARTED | E.EXECUTE_COMPLETE if status is S.AWAITING_APPROVAL:
            message = _awaiting_message(kind, key)
        case _:
            message = (
                f"cannot apply {kind} to phase {key}: its status is {phase.status.value} "
                f"(needs {_needs(kind)})"
            )
    return InvalidTransition(message)


def _validation_refusal(status: Status, state: SupervisorState, kind: EventKind) -> str:
    if status is S.VALIDATED:
        match kind:
            case E.RETRY:
                return "cannot retry validation: it already passed (phase 1 exists)"
            case E.ERROR:
                return "validation already passed (phase 1 exists); report the error on its phase"
            case E.PAUSE:
                return "cannot pause at validation: it already passed; pause the current phase"
            case _:
                return f"cannot apply {kind}: validation already passed (phase 1 exists)"
    if kind is E.RETRY:
        return f"cannot retry validation: the orchestration is {state.status.value}, not blocked"
    return _not_validating(state)


def _not_validating(state: SupervisorState) -> str:
    return f"cannot pause: the orchestration is {state.status.value}, not validating"


def _needs(kind: EventKind) -> str:
    """The phase statuses whose rows accept ``kind``, in :class:`PhaseStatus` order."""
    accepted = {PHASE_ROWS[row] for row in PHASE_ROWS if kind in TRANSITIONS[row]}
    return " or ".join(status.value for status in PhaseStatus if status in accepted)


def _awaiting_message(event: EventKind | str, key: str) -> str:
    return (
        f"cannot apply {event} to phase {key}: its plan is awaiting operator approval "
        "(send plan_approved or plan_rejected)"
    )


# --------------------------------------------------------------------------------------------
# helpers


def _mins(start: datetime | None, end: datetime) -> int | None:
    """Whole minutes between two instants, truncated toward zero."""
    if start is None:
        return None
    return int((end - start) / timedelta(minutes=1))


def _put(state: SupervisorState, key: str, phase: PhaseState, **changes: Any) -> SupervisorState:
    phases = dict(state.phases)
    phases[key] = phase
    return attrs.evolve(state, phases=phases, **changes)


def _with_current(state: SupervisorState, key: str) -> int:
    return main_phase_number(key) if is_main_phase(key) else state.current_phase


def _breakdown(phase: PhaseState, **changes: int | None) -> Any:
    return attrs.evolve(phase.breakdown, **changes)


def _gate(state: SupervisorState) -> bool:
    return state.approval_policy.require_plan_approval


# The original's defaults: an action names a model only when the policy differs from these.
_ROLE_DEFAULTS = {"validator": "opus", "planner": "opus", "executor": "haiku", "reviewer": "opus"}


def _model(state: SupervisorState, role: str) -> str | None:
    """The policy model for a role, only when it differs from the role's default."""
    model: str = getattr(state.model_policy, role)
    return None if model == _ROLE_DEFAULTS[role] else model


def _can_retry(reason: str | None) -> bool:
    """Whether the orchestrator may retry on its own; some blocks need a human decision."""
    text = reason or ""
    return CONSENSUS_DISAGREEMENT_REASON not in text and _REMEDIATION_LIMIT_MARK not in text


def _check_phase_arg(phase: str) -> None:
    if phase == VALIDATION_PHASE:
        return
    try:
        validate_phase(phase)
    except InvalidName as exc:
        raise InvalidInput(str(exc)) from None


def _require_phase(state: SupervisorState, event: EventKind | str, key: str) -> PhaseState:
    if key == VALIDATION_PHASE:
        raise InvalidInput(f"event {event} needs a phase number, not {VALIDATION_PHASE!r}")
    phase = state.phase(key)
    if phase is None:
        raise PhaseNotFound(f"Phase '{key}' not found in supervisor state")
    return phase


def _require_approved(event: EventKind | str, key: str, phase: PhaseState) -> None:
    if phase.awaiting_approval:
        raise InvalidTransition(_awaiting_message(event, key))


def _paused_target(state: SupervisorState) -> str:
    return state.paused_phase or VALIDATION_PHASE


# --------------------------------------------------------------------------------------------
# next


def _phase_action(state: SupervisorState, key: str, phase: PhaseState) -> Action:
    match phase.status:
        case PhaseStatus.PLANNING:
            return SpawnPlanner(
                phase=key, issues=phase.plan_feedback, model=_model(state, "planner")
            )
        case PhaseStatus.PLANNED:
            if phase.awaiting_approval:
                return Wait(reason=f"phase {key} plan awaiting approval")
            return SpawnExecutor(
                phase=key, plan_path=phase.plan_path or "", model=_model(state, "executor")
            )
        case PhaseStatus.EXECUTING:
            return Wait(reason=f"phase {key} executing")
        case PhaseStatus.REVIEWING:
            return _reviewer(state, key, phase)
        case PhaseStatus.BLOCKED:
            reason = phase.blocked_reason or "unknown"
            return Error(
                phase=key,
                reason=reason,
                retry_count=phase.retry_count,
                can_retry=_can_retry(reason),
            )
        case PhaseStatus.COMPLETE:  # pragma: no cover - callers skip complete phases
            raise AssertionError("no action for a complete phase")


def _reviewer(state: SupervisorState, key: str, phase: PhaseState) -> SpawnReviewer:
    second = state.model_policy.review_consensus and len(phase.review_verdicts) == 1
    model = state.model_policy.reviewer_secondary if second else _model(state, "reviewer")
    return SpawnReviewer(phase=key, git_range=phase.git_range or "", model=model)


def next_action(state: SupervisorState) -> Action:
    """What the orchestrator should do now (read-only)."""
    if state.status is OrchestrationStatus.COMPLETE:
        return Complete()
    if state.paused:
        paused = state.paused_phase
        where = f"phase {paused}" if paused else "orchestration"
        return Wait(reason=f"{where} paused by operator")
    if state.phase("1") is None:
        if state.status is OrchestrationStatus.BLOCKED:
            reason = state.blocked_reason or VALIDATION_FAILED_REASON
            if reason == VALIDATION_FAILED_REASON:
                return Stopped(reason=reason)
            return Error(phase=VALIDATION_PHASE, reason=reason, retry_count=0, can_retry=True)
        return SpawnValidator(model=_model(state, "validator"))
    for number in range(1, state.total_phases + 1):
        key = str(number)
        phase = state.phase(key)
        if phase is None:
            return SpawnPlanner(phase=key, model=_model(state, "planner"))
        if phase.status is not PhaseStatus.COMPLETE:
            return _phase_action(state, key, phase)
        remediations = sorted(
            (k for k in state.phases if k != key and main_phase_number(k) == number),
            key=phase_sort_key,
        )
        for other in remediations:
            sub = state.phases[other]
            if sub.status is not PhaseStatus.COMPLETE:
                return _phase_action(state, other, sub)
    return Finalize()


# --------------------------------------------------------------------------------------------
# apply


def apply(
    state: SupervisorState,
    event: Event,
    now: datetime,
    *,
    find_plan: PlanFinder = no_plan,
) -> Transition:
    """Apply ``event`` to ``state`` at time ``now``; raise :class:`TransitionError` if refused.

    :data:`TRANSITIONS` decides whether the event applies; its handler does the rest.
    """
    _check_phase_arg(event.phase)
    status = status_for(state, event)
    if event.kind not in TRANSITIONS[status]:
        raise refusal(status, state, event)
    return _HANDLERS[event.kind](state, event, now, find_plan)


def _start_planning(
    state: SupervisorState, key: str, now: datetime, find_plan: PlanFinder
) -> tuple[SupervisorState, Action, list[EventDraft]]:
    """A phase just entered planning: reuse an existing plan if there is one."""
    phase = state.phases[key]
    existing = find_plan(key, phase.plan_path)
    if existing is None:
        return (
            state,
            SpawnPlanner(phase=key, issues=phase.plan_feedback, model=_model(state, "planner")),
            [],
        )
    gate = _gate(state)
    phase = attrs.evolve(
        phase,
        status=PhaseStatus.PLANNED,
        plan_path=existing,
        breakdown=_breakdown(phase, planning_mins=_mins(phase.planning_started_at, now)),
        plan_approval=PlanApproval.PENDING if gate else None,
    )
    events = [
        EventDraft(
            type="phase_completed",
            summary=f"Phase {key} planning completed (reused plan)",
            phase=key,
            detail={"plan_path": existing},
        )
    ]
    action: Action
    if gate:
        events.append(_awaiting_approval(key, existing))
        action = Wait(reason=f"phase {key} plan awaiting approval")
    else:
        action = ReusePlan(phase=key, plan_path=existing)
    return _put(state, key, phase), action, events


def _awaiting_approval(key: str, plan_path: str) -> EventDraft:
    return EventDraft(
        type="plan_awaiting_approval",
        summary=f"Phase {key} plan awaits operator approval",
        phase=key,
        detail={"plan_path": plan_path},
    )


def _validation(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    if event.kind is EventKind.VALIDATION_STOP:
        reason = VALIDATION_FAILED_REASON
        new = attrs.evolve(state, status=OrchestrationStatus.BLOCKED, blocked_reason=reason)
        draft = EventDraft(type="error", summary="Validation failed", detail={"reason": reason})
        return Transition(state=new, action=Stopped(reason=reason), events=(draft,))
    warning = event.kind is EventKind.VALIDATION_WARNING
    first = PhaseState(status=PhaseStatus.PLANNING, planning_started_at=now)
    new = _put(
        state, "1", first, status=OrchestrationStatus.PLANNING, current_phase=1, blocked_reason=None
    )
    events = [
        EventDraft(
            type="phase_started",
            summary="Validation passed" + (" with warnings" if warning else ""),
        )
    ]
    new, action, more = _start_planning(new, "1", now, find_plan)
    return Transition(state=new, action=action, events=(*events, *more))


def _plan_complete(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    if not event.plan_path:
        raise InvalidInput("plan_complete needs --plan-path")
    gate = _gate(state)
    phase = attrs.evolve(
        phase,
        status=PhaseStatus.PLANNED,
        plan_path=event.plan_path,
        breakdown=_breakdown(phase, planning_mins=_mins(phase.planning_started_at, now)),
        plan_approval=PlanApproval.PENDING if gate else None,
        plan_feedback=(),
    )
    events = [
        EventDraft(
            type="phase_completed",
            summary=f"Phase {key} planning completed",
            phase=key,
            detail={"plan_path": event.plan_path},
        )
    ]
    action: Action
    if gate:
        events.append(_awaiting_approval(key, event.plan_path))
        action = Wait(reason=f"phase {key} plan awaiting approval")
    else:
        action = SpawnExecutor(
            phase=key, plan_path=event.plan_path, model=_model(state, "executor")
        )
    return Transition(state=_put(state, key, phase), action=action, events=tuple(events))


def _execute_started(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    phase = attrs.evolve(
        phase,
        status=PhaseStatus.EXECUTING,
        execution_started_at=phase.execution_started_at or now,
    )
    new = _put(
        state,
        key,
        phase,
        status=OrchestrationStatus.EXECUTING,
        current_phase=_with_current(state, key),
    )
    draft = EventDraft(type="phase_started", summary=f"Phase {key} execution started", phase=key)
    # The original's wording for this event ("phase N executing" is what `next` says).
    return Transition(state=new, action=Wait(reason="execute_started"), events=(draft,))


def _execute_complete(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    if not event.git_range:
        raise InvalidInput("execute_complete needs --git-range")
    started = phase.execution_started_at or now
    phase = attrs.evolve(
        phase,
        status=PhaseStatus.REVIEWING,
        git_range=event.git_range,
        execution_started_at=started,
        review_started_at=now,
        breakdown=_breakdown(phase, execution_mins=_mins(started, now)),
        review_verdicts=(),
    )
    new = _put(
        state,
        key,
        phase,
        status=OrchestrationStatus.REVIEWING,
        current_phase=_with_current(state, key),
    )
    draft = EventDraft(
        type="phase_completed",
        summary=f"Phase {key} execution completed",
        phase=key,
        detail={"git_range": event.git_range},
    )
    return Transition(state=new, action=_reviewer(new, key, phase), events=(draft,))


def _merge_issues(*lists: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for issues in lists:
        for issue in issues:
            seen.setdefault(issue, None)
    return tuple(seen)


def _review(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    passed = event.kind is EventKind.REVIEW_PASS
    issues = () if passed else event.issues
    if state.model_policy.review_consensus:
        verdict = ReviewVerdict(
            result=VerdictResult.PASS if passed else VerdictResult.GAPS, issues=issues
        )
        verdicts = (*phase.review_verdicts, verdict)
        if len(verdicts) == 1:
            phase = attrs.evolve(phase, review_verdicts=verdicts)
            new = _put(state, key, phase)
            draft = EventDraft(
                type="info",
                summary=f"Phase {key} first review verdict: {verdict.result.value}; "
                "waiting for the second reviewer",
                phase=key,
                detail={"verdict": verdict.result.value, "issues": list(issues)},
            )
            return Transition(state=new, action=_reviewer(new, key, phase), events=(draft,))
        first, second = verdicts[0], verdicts[1]
        merged = _merge_issues(first.issues, second.issues)
        if first.result is not second.result:
            phase = attrs.evolve(
                phase,
                status=PhaseStatus.BLOCKED,
                blocked_reason=CONSENSUS_DISAGREEMENT_REASON,
                review_verdicts=verdicts[:2],
            )
            new = _put(state, key, phase, status=OrchestrationStatus.BLOCKED)
            detail = {
                "verdict_1": first.result.value,
                "verdict_2": second.result.value,
                "issues": list(merged),
            }
            draft = EventDraft(
                type="error",
                summary=f"Phase {key} review consensus disagreement",
                phase=key,
                detail=detail,
            )
            action = ConsensusDisagreement(
                phase=key,
                verdict_1=first.result.value,
                verdict_2=second.result.value,
                issues=merged,
            )
            return Transition(state=new, action=action, events=(draft,))
        issues = merged
        phase = attrs.evolve(phase, review_verdicts=())
    if passed:
        return _review_passed(state, key, phase, now, find_plan)
    return _review_gaps(state, key, phase, issues, now)


def _finish(phase: PhaseState, now: datetime) -> PhaseState:
    return attrs.evolve(
        phase,
        status=PhaseStatus.COMPLETE,
        completed_at=now,
        duration_mins=_mins(phase.planning_started_at, now),
        breakdown=_breakdown(phase, review_mins=_mins(phase.review_started_at, now)),
    )


def _review_passed(
    state: SupervisorState, key: str, phase: PhaseState, now: datetime, find_plan: PlanFinder
) -> Transition:
    new = _put(state, key, _finish(phase, now))
    events = [EventDraft(type="phase_completed", summary=f"Phase {key} review passed", phase=key)]
    following = main_phase_number(key) + 1
    if following > state.total_phases:
        new = attrs.evolve(new, status=OrchestrationStatus.COMPLETE, blocked_reason=None)
        events.append(
            EventDraft(
                type="phase_completed",
                summary=f"All {state.total_phases} phases complete",
                detail={"total_phases": state.total_phases},
            )
        )
        return Transition(state=new, action=Finalize(), events=tuple(events))
    next_key = str(following)
    new = _put(
        new,
        next_key,
        PhaseState(status=PhaseStatus.PLANNING, planning_started_at=now),
        status=OrchestrationStatus.PLANNING,
        current_phase=following,
        blocked_reason=None,
    )
    events.append(
        EventDraft(
            type="phase_started", summary=f"Phase {next_key} planning started", phase=next_key
        )
    )
    new, action, more = _start_planning(new, next_key, now, find_plan)
    return Transition(state=new, action=action, events=(*events, *more))


def _review_gaps(
    state: SupervisorState, key: str, phase: PhaseState, issues: tuple[str, ...], now: datetime
) -> Transition:
    target = remediation_phase(key)
    if remediation_depth(target) > MAX_REMEDIATION_DEPTH:
        reason = _remediation_limit_reason(key)
        phase = attrs.evolve(phase, status=PhaseStatus.BLOCKED, blocked_reason=reason)
        new = _put(state, key, phase, status=OrchestrationStatus.BLOCKED)
        draft = EventDraft(
            type="error",
            summary=f"Phase {key} review found gaps; no remediation levels left",
            phase=key,
            detail={"issues": list(issues), "can_retry": False},
        )
        # retry_count: the remediation depth that was refused, as the original reported it.
        error = Error(
            phase=key, reason=reason, retry_count=remediation_depth(target), can_retry=False
        )
        return Transition(state=new, action=error, events=(draft,))
    remediation = PhaseState(
        status=PhaseStatus.PLANNING, planning_started_at=now, plan_feedback=issues
    )
    new = _put(state, key, _finish(phase, now))
    new = _put(new, target, remediation, status=OrchestrationStatus.PLANNING)
    draft = EventDraft(
        type="retry",
        summary=f"Phase {key} review found gaps",
        phase=key,
        detail={"remediation_phase": target, "issues": list(issues)},
    )
    action = Remediate(phase=key, remediation_phase=target, issues=issues)
    return Transition(state=new, action=action, events=(draft,))


def _retry(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    reason = event.reason or "manual retry"
    unpaused: dict[str, Any] = {"paused_from": None, "paused_at": None, "blocked_reason": None}
    if event.phase == VALIDATION_PHASE:
        new = attrs.evolve(state, status=OrchestrationStatus.PLANNING, **unpaused)
        draft = EventDraft(
            type="retry", summary="Validation retry requested", detail={"reason": reason}
        )
        return Transition(
            state=new, action=SpawnValidator(model=_model(state, "validator")), events=(draft,)
        )
    key = event.phase
    phase = state.phases[key]
    phase = attrs.evolve(
        phase,
        blocked_reason=None,
        retry_count=phase.retry_count + 1,
        paused_from=None,
        paused_at=None,
        review_verdicts=(),
    )
    action: Action
    plan_path = phase.plan_path
    if plan_path is None:
        phase = attrs.evolve(
            phase,
            status=PhaseStatus.PLANNING,
            planning_started_at=phase.planning_started_at or now,
        )
        orchestration = OrchestrationStatus.PLANNING
        action = SpawnPlanner(phase=key, issues=phase.plan_feedback, model=_model(state, "planner"))
    elif phase.git_range:
        phase = attrs.evolve(
            phase, status=PhaseStatus.REVIEWING, review_started_at=phase.review_started_at or now
        )
        orchestration = OrchestrationStatus.REVIEWING
        action = _reviewer(state, key, phase)
    elif _gate(state) and phase.plan_approval is not PlanApproval.APPROVED:
        phase = attrs.evolve(phase, status=PhaseStatus.PLANNED, plan_approval=PlanApproval.PENDING)
        orchestration = OrchestrationStatus.PLANNING
        action = Wait(reason=f"phase {key} plan awaiting approval")
    else:
        phase = attrs.evolve(
            phase,
            status=PhaseStatus.EXECUTING,
            execution_started_at=phase.execution_started_at or now,
        )
        orchestration = OrchestrationStatus.EXECUTING
        action = SpawnExecutor(phase=key, plan_path=plan_path, model=_model(state, "executor"))
    new = _put(
        state,
        key,
        phase,
        status=orchestration,
        current_phase=_with_current(state, key),
        **unpaused,
    )
    draft = EventDraft(
        type="retry",
        summary=f"Phase {key} retry requested",
        phase=key,
        detail={"reason": reason, "status": phase.status.value, "retry_count": phase.retry_count},
    )
    return Transition(state=new, action=action, events=(draft,))


def _error(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    reason = event.reason or "unknown error"
    unpaused: dict[str, Any] = {"paused_from": None, "paused_at": None}
    if event.phase == VALIDATION_PHASE:
        new = attrs.evolve(
            state, status=OrchestrationStatus.BLOCKED, blocked_reason=reason, **unpaused
        )
        draft = EventDraft(
            type="error",
            summary=f"Validation error: {reason}",
            detail={"retry_count": 0, "can_retry": True},
        )
        action = Error(phase=VALIDATION_PHASE, reason=reason, retry_count=0, can_retry=True)
        return Transition(state=new, action=action, events=(draft,))
    key = event.phase
    phase = attrs.evolve(
        state.phases[key],
        status=PhaseStatus.BLOCKED,
        blocked_reason=reason,
        paused_from=None,
        paused_at=None,
    )
    new = _put(state, key, phase, status=OrchestrationStatus.BLOCKED, **unpaused)
    draft = EventDraft(
        type="error",
        summary=f"Phase {key} error: {reason}",
        phase=key,
        detail={"retry_count": phase.retry_count, "can_retry": True},
    )
    action = Error(phase=key, reason=reason, retry_count=phase.retry_count, can_retry=True)
    return Transition(state=new, action=action, events=(draft,))


def _pause(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    reason = event.reason or PAUSED_REASON
    if event.phase == VALIDATION_PHASE:
        if state.status is not OrchestrationStatus.PLANNING:  # only in a hand-edited file
            raise InvalidTransition(_not_validating(state))
        new = attrs.evolve(
            state,
            status=OrchestrationStatus.BLOCKED,
            blocked_reason=reason,
            paused_from=state.status,
            paused_at=now,
        )
        draft = EventDraft(
            type="paused",
            summary="Orchestration paused by operator",
            detail={"reason": reason, "orchestration_status": state.status.value},
        )
        action = Wait(reason="orchestration paused by operator")
        return Transition(state=new, action=action, events=(draft,))
    key = event.phase
    phase = state.phases[key]
    paused = attrs.evolve(
        phase,
        status=PhaseStatus.BLOCKED,
        blocked_reason=reason,
        paused_from=phase.status,
        paused_at=now,
    )
    new = _put(
        state,
        key,
        paused,
        status=OrchestrationStatus.BLOCKED,
        paused_from=state.status,
        paused_at=now,
    )
    draft = EventDraft(
        type="paused",
        summary=f"Phase {key} paused by operator",
        phase=key,
        detail={
            "reason": reason,
            "phase_status": phase.status.value,
            "orchestration_status": state.status.value,
        },
    )
    return Transition(
        state=new, action=Wait(reason=f"phase {key} paused by operator"), events=(draft,)
    )


def _resume(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    assert state.paused_from is not None  # the table sends resume here only while paused
    key = state.paused_phase
    target = key or VALIDATION_PHASE
    if event.phase != target:
        raise InvalidTransition(f"cannot resume {event.phase}: the pause is at {target}")
    paused_mins = _mins(state.paused_at, now)
    if key is None:
        new = attrs.evolve(
            state, status=state.paused_from, paused_from=None, paused_at=None, blocked_reason=None
        )
        detail: dict[str, Any] = {"orchestration_status": state.paused_from.value}
    else:
        phase = state.phases[key]
        assert phase.paused_from is not None
        restored = attrs.evolve(
            phase,
            status=phase.paused_from,
            blocked_reason=None,
            paused_from=None,
            paused_at=None,
        )
        new = _put(state, key, restored, status=state.paused_from, paused_from=None, paused_at=None)
        detail = {
            "phase_status": phase.paused_from.value,
            "orchestration_status": state.paused_from.value,
        }
    detail["paused_mins"] = paused_mins
    summary = f"Phase {key} resumed" if key else "Orchestration resumed"
    draft = EventDraft(type="resumed", summary=summary, phase=key, detail=detail)
    return Transition(state=new, action=next_action(new), events=(draft,))


def _plan_approved(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    phase = attrs.evolve(phase, plan_approval=PlanApproval.APPROVED)
    plan_path = phase.plan_path or ""
    draft = EventDraft(
        type="plan_approved",
        summary=f"Phase {key} plan approved",
        phase=key,
        detail={"plan_path": plan_path},
    )
    action = SpawnExecutor(phase=key, plan_path=plan_path, model=_model(state, "executor"))
    return Transition(state=_put(state, key, phase), action=action, events=(draft,))


def _plan_rejected(
    state: SupervisorState, event: Event, now: datetime, find_plan: PlanFinder
) -> Transition:
    key = event.phase
    phase = state.phases[key]
    feedback = tuple(item for item in (i.strip() for i in event.issues) if item)
    if not feedback:
        raise InvalidInput("plan_rejected needs the operator's feedback in --issues")
    rejected_plan = phase.plan_path
    phase = attrs.evolve(
        phase,
        status=PhaseStatus.PLANNING,
        plan_path=None,
        plan_approval=PlanApproval.REJECTED,
        plan_feedback=feedback,
        planning_started_at=now,
        breakdown=_breakdown(phase, planning_mins=None),
    )
    new = _put(state, key, phase, status=OrchestrationStatus.PLANNING)
    draft = EventDraft(
        type="plan_rejected",
        summary=f"Phase {key} plan rejected",
        phase=key,
        detail={"feedback": list(feedback), "plan_path": rejected_plan},
    )
    action = SpawnPlanner(phase=key, issues=feedback, model=_model(state, "planner"))
    return Transition(state=new, action=action, events=(draft,))


_Handler = Callable[[SupervisorState, Event, datetime, PlanFinder], Transition]

_HANDLERS: dict[EventKind, _Handler] = {
    EventKind.VALIDATION_PASS: _validation,
    EventKind.VALIDATION_WARNING: _validation,
    EventKind.VALIDATION_STOP: _validation,
    EventKind.PLAN_COMPLETE: _plan_complete,
    EventKind.EXECUTE_STARTED: _execute_started,
    EventKind.EXECUTE_COMPLETE: _execute_complete,
    EventKind.REVIEW_PASS: _review,
    EventKind.REVIEW_GAPS: _review,
    EventKind.RETRY: _retry,
    EventKind.ERROR: _error,
    EventKind.PAUSE: _pause,
    EventKind.RESUME: _resume,
    EventKind.PLAN_APPROVED: _plan_approved,
    EventKind.PLAN_REJECTED: _plan_rejected,
}


# --------------------------------------------------------------------------------------------
# manual `state` commands

ALLOWED_MANUAL_TRANSITIONS: dict[PhaseStatus, frozenset[PhaseStatus]] = {
    PhaseStatus.PLANNING: frozenset({PhaseStatus.PLANNED, PhaseStatus.BLOCKED}),
    PhaseStatus.PLANNED: frozenset({PhaseStatus.EXECUTING, PhaseStatus.BLOCKED}),
    PhaseStatus.EXECUTING: frozenset({PhaseStatus.REVIEWING, PhaseStatus.BLOCKED}),
    PhaseStatus.REVIEWING: frozenset({PhaseStatus.COMPLETE, PhaseStatus.BLOCKED}),
    PhaseStatus.COMPLETE: frozenset(),
    PhaseStatus.BLOCKED: frozenset(
        {PhaseStatus.PLANNING, PhaseStatus.PLANNED, PhaseStatus.EXECUTING, PhaseStatus.REVIEWING}
    ),
}

_ORCHESTRATION_FOR = {
    PhaseStatus.PLANNING: OrchestrationStatus.PLANNING,
    PhaseStatus.PLANNED: OrchestrationStatus.PLANNING,
    PhaseStatus.EXECUTING: OrchestrationStatus.EXECUTING,
    PhaseStatus.REVIEWING: OrchestrationStatus.REVIEWING,
}


def phase_beyond_total(state: SupervisorState, key: str) -> str | None:
    """The original's three-line refusal of a main phase above ``total_phases``, or ``None``."""
    if not key.isdigit() or int(key) <= state.total_phases:
        return None
    total = state.total_phases
    return (
        f"Phase {int(key)} does not exist (total phases: {total}).\n"
        "\n"
        f"Valid phases: 1-{total}\n"
        "Remediation phases (e.g., 1.5, 2.5) are created dynamically."
    )


def _check_manual(state: SupervisorState, key: str, command: str) -> None:
    try:
        validate_phase(key)
    except InvalidName as exc:
        raise InvalidInput(str(exc)) from None
    beyond = phase_beyond_total(state, key)
    if beyond is not None:
        raise InvalidInput(beyond)
    if state.status is OrchestrationStatus.COMPLETE:
        raise InvalidTransition(f"orchestration {state.feature!r} is complete")
    if state.paused and command != "blocked":
        raise InvalidTransition(
            f"orchestration {state.feature!r} is paused by an operator; resume it first"
        )


def _refuse(current: PhaseStatus, target: PhaseStatus) -> InvalidTransition:
    return InvalidTransition(
        f"Invalid status transition: cannot go from '{current.value}' to '{target.value}'"
    )


def update_status(
    state: SupervisorState,
    key: str,
    status: PhaseStatus,
    now: datetime,
    *,
    plan_path: str | None = None,
) -> Transition:
    """``state update``: a manual move along :data:`ALLOWED_MANUAL_TRANSITIONS`.

    A missing phase counts as ``planning``. ``complete`` and ``blocked`` have their own commands.
    """
    _check_manual(state, key, "update")
    existing = state.phase(key)
    phase = existing or PhaseState(status=PhaseStatus.PLANNING, planning_started_at=now)
    current = phase.status
    if status not in ALLOWED_MANUAL_TRANSITIONS[current]:
        raise _refuse(current, status)
    if status in (PhaseStatus.COMPLETE, PhaseStatus.BLOCKED):
        command = "phase-complete" if status is PhaseStatus.COMPLETE else "blocked"
        raise InvalidInput(f"Use 'state {command}' to mark a phase {status.value}")
    if current is PhaseStatus.PLANNED and status is PhaseStatus.EXECUTING:
        _require_approved("state update", key, phase)
    changes: dict[str, Any] = {"status": status, "blocked_reason": None}
    match status:
        case PhaseStatus.PLANNING:
            changes["planning_started_at"] = now
        case PhaseStatus.PLANNED:
            if plan_path:
                changes["plan_path"] = plan_path
            changes["breakdown"] = _breakdown(
                phase, planning_mins=_mins(phase.planning_started_at, now)
            )
            if _gate(state) and phase.plan_approval is not PlanApproval.APPROVED:
                changes["plan_approval"] = PlanApproval.PENDING
        case PhaseStatus.EXECUTING:
            changes["execution_started_at"] = phase.execution_started_at or now
        case PhaseStatus.REVIEWING:
            changes["review_started_at"] = now
            changes["breakdown"] = _breakdown(
                phase, execution_mins=_mins(phase.execution_started_at, now)
            )
    updated = attrs.evolve(phase, **changes)
    new = _put(
        state,
        key,
        updated,
        status=_ORCHESTRATION_FOR[status],
        current_phase=_with_current(state, key),
        blocked_reason=None,
    )
    detail: dict[str, Any] = {"from": current.value, "to": status.value}
    if updated.plan_path:
        detail["plan_path"] = updated.plan_path
    draft = EventDraft(
        type="status_changed",
        summary=f"Phase {key} status set to {status.value} (manual)",
        phase=key,
        detail=detail,
    )
    return Transition(state=new, action=next_action(new), events=(draft,))


def complete_phase(state: SupervisorState, key: str, git_range: str, now: datetime) -> Transition:
    """``state phase-complete``: a reviewing phase becomes complete."""
    _check_manual(state, key, "phase-complete")
    phase = state.phase(key)
    if phase is None:  # a phase that never started counts as planning, as in the original
        raise _refuse(PhaseStatus.PLANNING, PhaseStatus.COMPLETE)
    if phase.status is not PhaseStatus.REVIEWING:
        raise _refuse(phase.status, PhaseStatus.COMPLETE)
    finished = attrs.evolve(_finish(phase, now), git_range=git_range, review_verdicts=())
    number = main_phase_number(key)
    if number >= state.total_phases:
        new = _put(state, key, finished, status=OrchestrationStatus.COMPLETE, blocked_reason=None)
    else:
        new = _put(
            state,
            key,
            finished,
            status=OrchestrationStatus.PLANNING,
            current_phase=number + 1,
            blocked_reason=None,
        )
    draft = EventDraft(
        type="phase_completed",
        summary=f"Phase {key} marked complete (manual)",
        phase=key,
        detail={"git_range": git_range},
    )
    return Transition(state=new, action=next_action(new), events=(draft,))


def block_phase(state: SupervisorState, key: str, reason: str, now: datetime) -> Transition:
    """``state blocked``: block a phase (and the orchestration) with a reason.

    On a paused phase this turns the pause into an ordinary block.
    """
    _check_manual(state, key, "blocked")
    phase = _require_phase(state, "state blocked", key)
    if state.paused and key != state.paused_phase:
        raise InvalidTransition(
            f"orchestration {state.feature!r} is paused by an operator at "
            f"{_paused_target(state)}; resume it first"
        )
    if not phase.paused and PhaseStatus.BLOCKED not in ALLOWED_MANUAL_TRANSITIONS[phase.status]:
        raise _refuse(phase.status, PhaseStatus.BLOCKED)
    blocked = attrs.evolve(
        phase, status=PhaseStatus.BLOCKED, blocked_reason=reason, paused_from=None, paused_at=None
    )
    new = _put(
        state, key, blocked, status=OrchestrationStatus.BLOCKED, paused_from=None, paused_at=None
    )
    draft = EventDraft(
        type="error",
        summary=f"Phase {key} blocked: {reason}",
        phase=key,
        detail={"reason": reason},
    )
    return Transition(state=new, action=next_action(new), events=(draft,))
