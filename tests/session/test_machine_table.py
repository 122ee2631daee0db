"""The machine's transition table (``TRANSITIONS``): its shape, and that the machine follows it.

Every state within MAX_DEPTH events of a fresh orchestration (breadth first, four policies,
every event at every phase; deep enough to run out of remediation levels) is fed every event:
an event is accepted exactly when the row it lands in has it, leaves its target in one of the
statuses the row names, and is otherwise refused with the documented message, nothing changed.
Every entry and every named outcome must be reached.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable
from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tina.local.models import (
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    SupervisorState,
)
from tina.session.machine import (
    PHASE_ROWS,
    TRANSITIONS,
    VALIDATION_PHASE,
    Event,
    EventKind,
    InvalidInput,
    InvalidTransition,
    PlanFinder,
    Status,
    Transition,
    TransitionError,
    apply,
    no_plan,
    refusal,
    status_for,
)

from .conftest import T0, make_state

E = EventKind
S = Status
NOW = T0 + timedelta(hours=1)

VALIDATION_EVENTS = {E.VALIDATION_PASS, E.VALIDATION_WARNING, E.VALIDATION_STOP}
PHASE_EVENTS = set(EventKind) - VALIDATION_EVENTS - {E.RESUME}
# Which events can land in which row (status_for): the orchestration's rows take validation
# events, resume and --phase validation; a phase's rows take events aimed at a phase; a paused
# or complete orchestration takes everything.
LANDS: dict[Status, set[EventKind]] = {
    **{
        status: VALIDATION_EVENTS | {E.RESUME, E.RETRY, E.ERROR, E.PAUSE}
        for status in (S.VALIDATING, S.VALIDATION_FAILED, S.VALIDATED)
    },
    **{status: PHASE_EVENTS for status in PHASE_ROWS},
    **{status: set(EventKind) for status in (S.PAUSED, S.VALIDATION_PAUSED, S.FINISHED)},
}

# The documented "(needs ...)" of a refusal: the phase statuses whose rows accept the event.
NEEDS = {
    E.PLAN_COMPLETE: "planning or planned",
    E.EXECUTE_STARTED: "planned or executing",
    E.EXECUTE_COMPLETE: "planned or executing",
    E.REVIEW_PASS: "reviewing",
    E.REVIEW_GAPS: "reviewing",
    E.PAUSE: "planning or planned or executing or reviewing",
}


def outcomes(status: Status, kind: EventKind) -> tuple[Status, ...]:
    outcome = TRANSITIONS[status][kind]
    return outcome if isinstance(outcome, tuple) else (outcome,)


def documented_refusal(status: Status, state: SupervisorState, event: Event) -> str:
    """The message a refused event gets, written out (the machine builds it in ``refusal``)."""
    kind, key, feature = event.kind.value, event.phase, repr(state.feature)
    if status is S.FINISHED:
        return f"orchestration {feature} is complete; event {kind} does not apply"
    if status in (S.PAUSED, S.VALIDATION_PAUSED):
        if event.kind is E.PAUSE:
            return f"orchestration {feature} is already paused"
        at = state.paused_phase or VALIDATION_PHASE
        return (
            f"orchestration {feature} is paused by an operator (at {at}); "
            f"resume it before sending {kind}"
        )
    if event.kind is E.RESUME:
        return f"orchestration {feature} is not paused"
    if status is S.VALIDATED:
        return {
            E.RETRY: "cannot retry validation: it already passed (phase 1 exists)",
            E.ERROR: "validation already passed (phase 1 exists); report the error on its phase",
            E.PAUSE: "cannot pause at validation: it already passed; pause the current phase",
        }.get(event.kind, f"cannot apply {kind}: validation already passed (phase 1 exists)")
    orchestration = state.status.value
    if status in (S.VALIDATING, S.VALIDATION_FAILED):
        if event.kind is E.RETRY:
            return f"cannot retry validation: the orchestration is {orchestration}, not blocked"
        assert event.kind is E.PAUSE
        return f"cannot pause: the orchestration is {orchestration}, not validating"
    current = state.phases[key].status.value
    if event.kind is E.RETRY:
        return f"Unexpected state: Phase {key} is not blocked (status: {current})"
    if event.kind is E.ERROR:
        return f"cannot apply error to phase {key}: it is already complete"
    if event.kind in (E.PLAN_APPROVED, E.PLAN_REJECTED):
        why = (
            f"its status is {current}"
            if state.approval_policy.require_plan_approval
            else "the plan-approval gate is off for this orchestration"
        )
        return f"cannot apply {kind} to phase {key}: it is not awaiting plan approval ({why})"
    if status is S.AWAITING_APPROVAL and event.kind in (E.EXECUTE_STARTED, E.EXECUTE_COMPLETE):
        return (
            f"cannot apply {kind} to phase {key}: its plan is awaiting operator approval "
            "(send plan_approved or plan_rejected)"
        )
    return (
        f"cannot apply {kind} to phase {key}: its status is {current} (needs {NEEDS[event.kind]})"
    )


def target_status(state: SupervisorState, aim: str) -> Status:
    """The status of what an event was aimed at (the validation or a phase), read directly."""
    if aim == VALIDATION_PHASE:
        if state.paused and state.paused_phase is None:
            return S.VALIDATION_PAUSED
        if state.phase("1") is not None:
            return S.VALIDATED
        if state.status is OrchestrationStatus.BLOCKED:
            return S.VALIDATION_FAILED
        return S.VALIDATING
    phase = state.phases[aim]
    if state.paused and state.paused_phase == aim:
        return S.PAUSED
    if phase.status is PhaseStatus.PLANNED and phase.plan_approval is PlanApproval.PENDING:
        return S.AWAITING_APPROVAL
    return S(phase.status.value)


def landing(state: SupervisorState, event: Event) -> Status | TransitionError:
    """The row ``event`` lands in, or the error for an event aimed at no phase."""
    try:
        return status_for(state, event)
    except TransitionError as exc:
        return exc


def aim_of(state: SupervisorState, event: Event) -> str:
    if event.kind in VALIDATION_EVENTS:
        return VALIDATION_PHASE
    if event.kind is E.RESUME:
        return state.paused_phase or VALIDATION_PHASE
    return event.phase


# --------------------------------------------------------------------------------------------
# the table by itself


def test_rows_are_the_statuses_and_entries_known_events() -> None:
    assert list(TRANSITIONS) == list(Status)
    for status, row in TRANSITIONS.items():
        for kind in row:
            assert isinstance(kind, EventKind)
            named = outcomes(status, kind)
            assert named and len(set(named)) == len(named)
            assert all(isinstance(outcome, Status) for outcome in named)


def test_every_event_applies_somewhere_and_only_where_it_can_land() -> None:
    assert set().union(*TRANSITIONS.values()) == set(EventKind)
    for status, row in TRANSITIONS.items():
        assert set(row) <= LANDS[status], status


def test_phase_rows_cover_every_phase_status() -> None:
    assert set(PHASE_ROWS.values()) == set(PhaseStatus)
    for row, phase_status in PHASE_ROWS.items():
        if row is not S.AWAITING_APPROVAL:
            assert row.value == phase_status.value


@pytest.mark.parametrize("kind", sorted(NEEDS))
def test_needs_lists_the_phase_statuses_whose_rows_accept_the_event(kind: EventKind) -> None:
    accepted = {PHASE_ROWS[row] for row in PHASE_ROWS if kind in TRANSITIONS[row]}
    assert NEEDS[kind] == " or ".join(s.value for s in PhaseStatus if s in accepted)


def test_nothing_applies_to_a_complete_phase_or_orchestration_or_past_validation() -> None:
    assert TRANSITIONS[S.COMPLETE] == {}
    assert TRANSITIONS[S.FINISHED] == {}
    assert TRANSITIONS[S.VALIDATED] == {}


def test_a_pause_only_resumes_and_every_pausable_row_can_pause_and_fail() -> None:
    assert set(TRANSITIONS[S.PAUSED]) == set(TRANSITIONS[S.VALIDATION_PAUSED]) == {E.RESUME}
    for status, row in TRANSITIONS.items():
        if E.PAUSE in row:
            assert E.ERROR in row
            assert outcomes(status, E.PAUSE) in ((S.PAUSED,), (S.VALIDATION_PAUSED,))


# --------------------------------------------------------------------------------------------
# the machine follows the table, in every reachable state

AIMS = (VALIDATION_PHASE, "1", "1.5", "1.5.5", "2")
INPUTS: dict[EventKind, dict[str, object]] = {
    E.PLAN_COMPLETE: {"plan_path": "/plan.md"},
    E.EXECUTE_COMPLETE: {"git_range": "a..b"},
    E.REVIEW_GAPS: {"issues": ("gap",)},
    E.PLAN_REJECTED: {"issues": ("redo it",)},
}
EVENTS = [
    Event(kind=kind, phase=aim, **INPUTS.get(kind, {}))  # type: ignore[arg-type]
    for kind in EventKind
    for aim in AIMS
]
MAX_DEPTH = 11


def _reuse(phase: str, current: str | None) -> str | None:
    return f"/reused-{phase}.md"


# (approval gate, review consensus, plan finder)
POLICIES: list[tuple[bool, bool, PlanFinder]] = [
    (False, False, no_plan),
    (True, False, no_plan),
    (False, True, no_plan),
    (True, True, _reuse),
]


class Seen:
    def __init__(self) -> None:
        self.landed: defaultdict[Status, set[EventKind]] = defaultdict(set)
        self.accepted: set[tuple[Status, EventKind]] = set()
        self.reached: set[tuple[Status, EventKind, Status]] = set()
        self.refused: set[tuple[Status, EventKind]] = set()


def attempt(
    state: SupervisorState, event: Event, finder: PlanFinder
) -> Transition | TransitionError:
    try:
        return apply(state, event, NOW, find_plan=finder)
    except TransitionError as exc:
        return exc


def state_key(state: SupervisorState) -> Hashable:
    """Equal for equal states (cheaper than encoding them)."""
    fields = (getattr(state, name) for name in STATE_FIELDS)
    return (*fields, tuple(state.phases.items()))


STATE_FIELDS = [
    field.name
    for field in attrs.fields(SupervisorState)
    if field.name not in ("phases", "review_policy")
]


def check(
    state: SupervisorState, event: Event, finder: PlanFinder, seen: Seen
) -> Transition | None:
    """Apply ``event``, checking it goes as the table says; the transition if it was accepted."""
    phases = dict(state.phases)  # the state is frozen, its phases mapping is not
    status = landing(state, event)
    result = attempt(state, event, finder)
    assert state.phases == phases
    if isinstance(status, TransitionError):  # a phase that is not there, or --phase validation
        assert (type(result), str(result)) == (type(status), str(status))
        return None
    seen.landed[status].add(event.kind)
    if event.kind not in TRANSITIONS[status]:
        assert type(result) is InvalidTransition
        assert str(result) == documented_refusal(status, state, event)
        seen.refused.add((status, event.kind))
        return None
    aim = aim_of(state, event)
    if event.kind is E.RESUME and event.phase != aim:
        assert type(result) is InvalidTransition
        assert str(result) == f"cannot resume {event.phase}: the pause is at {aim}"
        return None
    assert isinstance(result, Transition), (status, event, result)
    after = target_status(result.state, aim)
    assert after in outcomes(status, event.kind), (status, event, after)
    seen.accepted.add((status, event.kind))
    seen.reached.add((status, event.kind, after))
    return result


def explore(gate: bool, consensus: bool, finder: PlanFinder, seen: Seen) -> None:
    """Every event in every state within MAX_DEPTH accepted events of a fresh orchestration
    (one clock, so that states repeat)."""
    start = make_state(total_phases=2, gate=gate, consensus=consensus)
    visited = {state_key(start)}
    queue = deque([(start, 0)])
    while queue:
        state, depth = queue.popleft()
        for event in EVENTS:
            transition = check(state, event, finder, seen)
            if transition is None or depth == MAX_DEPTH:
                continue
            key = state_key(transition.state)
            if key not in visited:
                visited.add(key)
                queue.append((transition.state, depth + 1))


@pytest.fixture(scope="module")
def seen() -> Seen:
    seen = Seen()
    for gate, consensus, finder in POLICIES:
        explore(gate, consensus, finder, seen)
    return seen


def test_every_row_is_reached_by_exactly_the_events_that_can_land_there(seen: Seen) -> None:
    assert dict(seen.landed) == LANDS


def test_every_entry_is_accepted_somewhere(seen: Seen) -> None:
    entries = {(status, kind) for status, row in TRANSITIONS.items() for kind in row}
    assert seen.accepted == entries


def test_every_named_outcome_happens(seen: Seen) -> None:
    named = {
        (status, kind, outcome)
        for status, row in TRANSITIONS.items()
        for kind in row
        for outcome in outcomes(status, kind)
    }
    assert seen.reached == named


def test_every_pair_missing_from_the_table_is_refused(seen: Seen) -> None:
    missing = {
        (status, kind)
        for status, kinds in LANDS.items()
        for kind in kinds
        if kind not in TRANSITIONS[status]
    }
    assert set(seen.refused) == missing


# --------------------------------------------------------------------------------------------
# checks on the event's data, which the table cannot make


@pytest.mark.parametrize(
    ("phase", "event", "message"),
    [
        (
            PhaseState(status=PhaseStatus.PLANNING),
            Event(kind=E.PLAN_COMPLETE, phase="1"),
            "plan_complete needs --plan-path",
        ),
        (
            PhaseState(status=PhaseStatus.EXECUTING, plan_path="/p.md"),
            Event(kind=E.EXECUTE_COMPLETE, phase="1"),
            "execute_complete needs --git-range",
        ),
        (
            PhaseState(
                status=PhaseStatus.PLANNED, plan_path="/p.md", plan_approval=PlanApproval.PENDING
            ),
            Event(kind=E.PLAN_REJECTED, phase="1", issues=(" ",)),
            "plan_rejected needs the operator's feedback in --issues",
        ),
    ],
)
def test_an_accepted_event_without_its_data_is_refused(
    phase: PhaseState, event: Event, message: str
) -> None:
    state = make_state(phases={"1": phase}, gate=True)
    assert event.kind in TRANSITIONS[status_for(state, event)]
    with pytest.raises(InvalidInput) as info:
        apply(state, event, NOW)
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------
# any state, also one no transition makes (a hand-edited file)

times = st.sampled_from([None, T0])
phases = st.builds(
    PhaseState,
    status=st.sampled_from(PhaseStatus),
    plan_path=st.sampled_from([None, "/p.md"]),
    git_range=st.sampled_from([None, "a..b"]),
    planning_started_at=times,
    plan_approval=st.sampled_from([None, *PlanApproval]),
    paused_from=st.one_of(st.none(), st.none(), st.sampled_from(PhaseStatus)),
)


@st.composite
def any_state(draw: st.DrawFn) -> SupervisorState:
    keys = draw(st.lists(st.sampled_from(AIMS[1:]), unique=True, max_size=3))
    paused = st.one_of(st.none(), st.none(), st.sampled_from(OrchestrationStatus))
    return make_state(
        phases={key: draw(phases) for key in keys},
        status=draw(st.sampled_from(OrchestrationStatus)),
        gate=draw(st.booleans()),
        consensus=draw(st.booleans()),
        paused_from=draw(paused),
    )


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(state=any_state(), event=st.sampled_from(EVENTS))
def test_any_state_is_refused_by_the_table_or_handled(state: SupervisorState, event: Event) -> None:
    """The handlers trust the table: no state makes them fail with anything but a refusal."""
    phases = dict(state.phases)
    status = landing(state, event)
    try:
        apply(state, event, NOW)
    except TransitionError as exc:
        error: TransitionError | None = exc
    else:
        error = None
    if isinstance(status, TransitionError):
        expected: TransitionError | None = status
    elif event.kind not in TRANSITIONS[status]:
        expected = refusal(status, state, event)
    else:  # accepted, or refused by a check on the event's data
        expected = error if isinstance(error, InvalidInput | InvalidTransition) else None
    assert (type(error), str(error)) == (type(expected), str(expected))
    assert state.phases == phases
