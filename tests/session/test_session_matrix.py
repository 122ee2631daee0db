"""Every event from every status: accepted where the table says so, otherwise refused with
nothing changed. Plus a random walk that checks the machine's invariants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tina.local import encode_supervisor_state, parse_supervisor_state
from tina.local.models import (
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    SupervisorState,
)
from tina.local.names import MAX_REMEDIATION_DEPTH, remediation_depth
from tina.session.actions import action_to_dict
from tina.session.machine import (
    VALIDATION_FAILED_REASON,
    Event,
    EventKind,
    PhaseNotFound,
    TransitionError,
    apply,
    next_action,
)

from .conftest import T0, make_state

E = EventKind
P = PhaseStatus


def _phase1(status: PhaseStatus, **kw: object) -> Callable[[], SupervisorState]:
    orchestration = {
        P.PLANNING: OrchestrationStatus.PLANNING,
        P.PLANNED: OrchestrationStatus.PLANNING,
        P.EXECUTING: OrchestrationStatus.EXECUTING,
        P.REVIEWING: OrchestrationStatus.REVIEWING,
        P.BLOCKED: OrchestrationStatus.BLOCKED,
    }[status]
    gate = kw.get("plan_approval") is not None

    def build() -> SupervisorState:
        phase = PhaseState(
            status=status,
            planning_started_at=T0,
            plan_path=None if status is P.PLANNING else "/p.md",
            git_range="a..b" if status is P.REVIEWING else None,
            execution_started_at=T0 if status in (P.EXECUTING, P.REVIEWING) else None,
            blocked_reason="boom" if status is P.BLOCKED else None,
            **kw,  # type: ignore[arg-type]
        )
        return make_state(phases={"1": phase}, status=orchestration, gate=gate)

    return build


def _paused() -> SupervisorState:
    state = _phase1(P.EXECUTING)()
    return apply(state, Event(kind=E.PAUSE, phase="1"), T0).state


def _phase1_complete() -> SupervisorState:
    return make_state(
        phases={
            "1": PhaseState(status=P.COMPLETE, plan_path="/p.md", git_range="a..b"),
            "2": PhaseState(status=P.PLANNING),
        },
        current_phase=2,
    )


SITUATIONS: dict[str, Callable[[], SupervisorState]] = {
    "fresh": make_state,
    "validation_stopped": lambda: make_state(
        status=OrchestrationStatus.BLOCKED, blocked_reason=VALIDATION_FAILED_REASON
    ),
    "validation_paused": lambda: (
        apply(make_state(), Event(kind=E.PAUSE, phase="validation"), T0).state
    ),
    "planning": _phase1(P.PLANNING),
    "planned": _phase1(P.PLANNED),
    "planned_awaiting_approval": _phase1(P.PLANNED, plan_approval=PlanApproval.PENDING),
    "executing": _phase1(P.EXECUTING),
    "reviewing": _phase1(P.REVIEWING),
    "complete": _phase1_complete,
    "blocked": _phase1(P.BLOCKED),
    "paused": _paused,
    "orchestration_complete": lambda: make_state(
        status=OrchestrationStatus.COMPLETE,
        phases={"1": PhaseState(status=P.COMPLETE), "2": PhaseState(status=P.COMPLETE)},
    ),
}

VALIDATION_EVENTS = {E.VALIDATION_PASS, E.VALIDATION_WARNING, E.VALIDATION_STOP}

# (situation, --phase) -> the events that are accepted; every other event must be refused.
ACCEPTED: dict[tuple[str, str], set[EventKind]] = {
    ("fresh", "validation"): VALIDATION_EVENTS | {E.ERROR, E.PAUSE},
    ("fresh", "1"): VALIDATION_EVENTS,  # validation events ignore --phase, as in the original
    ("validation_stopped", "validation"): VALIDATION_EVENTS | {E.RETRY, E.ERROR},
    ("validation_stopped", "1"): VALIDATION_EVENTS,
    ("validation_paused", "validation"): {E.RESUME, E.RETRY, E.ERROR},
    ("validation_paused", "1"): set(),
    ("planning", "1"): {E.PLAN_COMPLETE, E.ERROR, E.PAUSE},
    ("planned", "1"): {E.PLAN_COMPLETE, E.EXECUTE_STARTED, E.EXECUTE_COMPLETE, E.ERROR, E.PAUSE},
    ("planned_awaiting_approval", "1"): {
        E.PLAN_COMPLETE,
        E.PLAN_APPROVED,
        E.PLAN_REJECTED,
        E.ERROR,
        E.PAUSE,
    },
    ("executing", "1"): {E.EXECUTE_STARTED, E.EXECUTE_COMPLETE, E.ERROR, E.PAUSE},
    ("reviewing", "1"): {E.REVIEW_PASS, E.REVIEW_GAPS, E.ERROR, E.PAUSE},
    ("complete", "1"): set(),
    ("blocked", "1"): {E.RETRY, E.ERROR},
    ("paused", "1"): {E.RESUME, E.RETRY, E.ERROR},
    ("orchestration_complete", "1"): set(),
    ("orchestration_complete", "validation"): set(),
}
for name in SITUATIONS:
    if name not in {"fresh", "validation_stopped", "validation_paused"}:
        ACCEPTED.setdefault((name, "validation"), set())

# Accepted repeats that record an event but leave the state as it was.
REPEATS = {("validation_stopped", E.VALIDATION_STOP), ("executing", E.EXECUTE_STARTED)}

INPUTS: dict[EventKind, dict[str, object]] = {
    E.PLAN_COMPLETE: {"plan_path": "/new-plan.md"},
    E.EXECUTE_COMPLETE: {"git_range": "b..c"},
    E.REVIEW_GAPS: {"issues": ("gap",)},
    E.PLAN_REJECTED: {"issues": ("redo it",)},
    E.ERROR: {"reason": "it broke"},
}

CASES = [(situation, phase, kind) for (situation, phase) in sorted(ACCEPTED) for kind in EventKind]


def test_table_covers_every_situation_with_both_targets() -> None:
    assert {s for s, _ in ACCEPTED} == set(SITUATIONS)
    assert all((s, p) in ACCEPTED for s in SITUATIONS for p in ("1", "validation"))


@pytest.mark.parametrize(("situation", "phase", "kind"), CASES)
def test_every_event_from_every_status(situation: str, phase: str, kind: EventKind) -> None:
    state = SITUATIONS[situation]()
    before = encode_supervisor_state(state)
    event = Event(kind=kind, phase=phase, **INPUTS.get(kind, {}))  # type: ignore[arg-type]
    now = T0 + timedelta(minutes=30)
    if kind in ACCEPTED[(situation, phase)]:
        transition = apply(state, event, now)
        assert transition.events
        assert all(draft.summary for draft in transition.events)
        changed = encode_supervisor_state(transition.state) != before
        assert changed is not ((situation, kind) in REPEATS)
        assert action_to_dict(transition.action)["action"]
        # the new state survives the file format
        written = encode_supervisor_state(transition.state)
        assert parse_supervisor_state(written) == transition.state
    else:
        with pytest.raises(TransitionError) as info:
            apply(state, event, now)
        assert str(info.value)
        if situation in {"fresh", "validation_stopped"} and phase == "1" and kind is not E.RESUME:
            assert isinstance(info.value, PhaseNotFound)
    # the input is never modified, accepted or not
    assert encode_supervisor_state(state) == before


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_next_action_is_defined_everywhere(situation: str) -> None:
    state = SITUATIONS[situation]()
    before = encode_supervisor_state(state)
    action = action_to_dict(next_action(state))
    assert action["action"] in {
        "spawn_validator",
        "spawn_planner",
        "spawn_executor",
        "spawn_reviewer",
        "stopped",
        "error",
        "wait",
        "complete",
        "finalize",
    }
    assert encode_supervisor_state(state) == before


# --------------------------------------------------------------------------------------------
# random walk

events = st.builds(
    lambda kind, phase, issues: Event(
        kind=kind,
        phase=phase,
        plan_path="/plan.md" if kind is E.PLAN_COMPLETE else None,
        git_range="a..b" if kind is E.EXECUTE_COMPLETE else None,
        issues=issues,
        reason=None,
    ),
    st.sampled_from(EventKind),
    st.sampled_from(["validation", "1", "1.5", "1.5.5", "2", "2.5", "3"]),
    st.sampled_from([(), ("gap",), ("a", "b")]),
)


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    gate=st.booleans(),
    consensus=st.booleans(),
    walk=st.lists(events, min_size=1, max_size=40),
)
def test_random_walk_keeps_invariants(gate: bool, consensus: bool, walk: list[Event]) -> None:
    state = make_state(total_phases=2, gate=gate, consensus=consensus)
    now = T0
    for event in walk:
        now += timedelta(minutes=1)
        before = encode_supervisor_state(state)
        try:
            transition = apply(state, event, now)
        except TransitionError:
            assert encode_supervisor_state(state) == before
            continue
        state = transition.state
        assert parse_supervisor_state(encode_supervisor_state(state)) == state
        assert 1 <= state.current_phase <= state.total_phases
        assert all(remediation_depth(k) <= MAX_REMEDIATION_DEPTH for k in state.phases)
        paused_phases = [k for k, p in state.phases.items() if p.paused]
        assert len(paused_phases) <= 1
        if paused_phases or state.paused:
            assert state.paused and state.status is OrchestrationStatus.BLOCKED
        for phase in state.phases.values():
            if phase.paused:
                assert phase.status is P.BLOCKED
            if phase.awaiting_approval:
                assert gate
        if state.status is OrchestrationStatus.COMPLETE:
            assert all(p.status is P.COMPLETE for p in state.phases.values())
        action_to_dict(next_action(state))
