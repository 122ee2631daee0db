"""Transitions of the pure state machine, scenario by scenario."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from tina.local import encode_supervisor_state
from tina.local.models import (
    ModelPolicy,
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    SupervisorState,
)
from tina.session.actions import action_to_dict
from tina.session.machine import (
    Event,
    EventKind,
    InvalidInput,
    InvalidTransition,
    PhaseNotFound,
    Transition,
    TransitionError,
    apply,
    block_phase,
    complete_phase,
    next_action,
    update_status,
)

from .conftest import T0, make_state

E = EventKind


class Run:
    """Feeds events to the machine with a clock that advances one step per event."""

    def __init__(self, state: SupervisorState, *, plans: dict[str, str] | None = None) -> None:
        self.state = state
        self.minute = 0
        self.plans = plans or {}
        self.journal: list[str] = []

    @property
    def now(self) -> Any:
        return T0 + timedelta(minutes=self.minute)

    def __call__(
        self, kind: EventKind, phase: str, *, minutes: int = 5, **kw: Any
    ) -> dict[str, Any]:
        self.minute += minutes
        transition = apply(
            self.state,
            Event(kind=kind, phase=phase, **kw),
            self.now,
            find_plan=lambda p, current: self.plans.get(p),
        )
        assert transition.events, "every transition records at least one event"
        self.journal += [draft.type for draft in transition.events]
        self.state = transition.state
        return action_to_dict(transition.action)

    def status(self) -> OrchestrationStatus:
        return self.state.status

    def next(self) -> dict[str, Any]:
        return action_to_dict(next_action(self.state))

    def phase(self, key: str) -> PhaseState:
        found = self.state.phase(key)
        assert found is not None
        return found


def test_whole_orchestration_to_completion() -> None:
    run = Run(make_state(total_phases=2))
    assert run.next() == {"action": "spawn_validator"}
    assert run(E.VALIDATION_PASS, "validation") == {"action": "spawn_planner", "phase": "1"}
    assert run.state.current_phase == 1
    assert run.next() == {"action": "spawn_planner", "phase": "1"}
    assert run(E.PLAN_COMPLETE, "1", plan_path="/p1.md", minutes=8) == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": "/p1.md",
    }
    assert run(E.EXECUTE_STARTED, "1") == {"action": "wait", "reason": "execute_started"}
    assert run.next() == {"action": "wait", "reason": "phase 1 executing"}
    assert run.status() is OrchestrationStatus.EXECUTING
    assert run(E.EXECUTE_COMPLETE, "1", git_range="a..b", minutes=27) == {
        "action": "spawn_reviewer",
        "phase": "1",
        "git_range": "a..b",
    }
    assert run.status() is OrchestrationStatus.REVIEWING
    assert run(E.REVIEW_PASS, "1", minutes=8) == {"action": "spawn_planner", "phase": "2"}
    phase1 = run.phase("1")
    assert phase1.status is PhaseStatus.COMPLETE
    assert phase1.breakdown.planning_mins == 8
    assert phase1.breakdown.execution_mins == 27
    assert phase1.breakdown.review_mins == 8
    assert phase1.duration_mins == 8 + 5 + 27 + 8
    assert run.state.current_phase == 2
    assert run.phase("2").planning_started_at == run.now
    run(E.PLAN_COMPLETE, "2", plan_path="/p2.md")
    run(E.EXECUTE_STARTED, "2")
    run(E.EXECUTE_COMPLETE, "2", git_range="b..c")
    assert run(E.REVIEW_PASS, "2") == {"action": "finalize"}
    assert run.status() is OrchestrationStatus.COMPLETE
    assert run.next() == {"action": "complete"}
    assert run.journal[-2:] == ["phase_completed", "phase_completed"]


def test_execute_complete_without_execute_started_stamps_execution() -> None:
    run = Run(make_state())
    run(E.VALIDATION_PASS, "validation")
    run(E.PLAN_COMPLETE, "1", plan_path="/p.md")
    run(E.EXECUTE_COMPLETE, "1", git_range="a..b")
    assert run.phase("1").execution_started_at == run.now
    assert run.phase("1").breakdown.execution_mins == 0


def test_validation_warning_reuses_an_existing_plan() -> None:
    run = Run(make_state(), plans={"1": "/plans/2026-02-07-billing-export-phase-1.md"})
    action = run(E.VALIDATION_WARNING, "validation")
    assert action == {
        "action": "reuse_plan",
        "phase": "1",
        "plan_path": "/plans/2026-02-07-billing-export-phase-1.md",
    }
    assert run.phase("1").status is PhaseStatus.PLANNED
    assert run.phase("1").breakdown.planning_mins == 0
    assert run.next()["action"] == "spawn_executor"


def test_review_pass_reuses_plan_of_next_phase() -> None:
    run = Run(make_state(), plans={"2": "/p2.md"})
    run(E.VALIDATION_PASS, "validation")
    run(E.PLAN_COMPLETE, "1", plan_path="/p1.md")
    run(E.EXECUTE_COMPLETE, "1", git_range="a..b")
    assert run(E.REVIEW_PASS, "1") == {"action": "reuse_plan", "phase": "2", "plan_path": "/p2.md"}


def test_validation_stop_then_retry() -> None:
    run = Run(make_state())
    assert run(E.VALIDATION_STOP, "validation") == {
        "action": "stopped",
        "reason": "Design validation failed",
    }
    assert run.status() is OrchestrationStatus.BLOCKED
    assert run.next() == {"action": "stopped", "reason": "Design validation failed"}
    assert run(E.RETRY, "validation") == {"action": "spawn_validator"}
    assert run.status() is OrchestrationStatus.PLANNING
    assert run.state.blocked_reason is None


def test_error_during_validation_is_retryable() -> None:
    run = Run(make_state())
    action = run(E.ERROR, "validation", reason="validator crashed")
    assert action == {
        "action": "error",
        "phase": "validation",
        "reason": "validator crashed",
        "retry_count": 0,
        "can_retry": True,
    }
    assert run.next() == action
    assert run(E.VALIDATION_PASS, "validation")["action"] == "spawn_planner"


def _reviewing(consensus: bool = False, gate: bool = False) -> Run:
    run = Run(make_state(total_phases=2, consensus=consensus, gate=gate))
    run(E.VALIDATION_PASS, "validation")
    run(E.PLAN_COMPLETE, "1", plan_path="/p1.md")
    if gate:
        run(E.PLAN_APPROVED, "1")
    run(E.EXECUTE_STARTED, "1")
    run(E.EXECUTE_COMPLETE, "1", git_range="a..b")
    return run


def _to_review(run: Run, phase: str) -> None:
    run(E.PLAN_COMPLETE, phase, plan_path=f"/p{phase}.md")
    run(E.EXECUTE_COMPLETE, phase, git_range=f"{phase}a..{phase}b")


def test_remediation_up_to_depth_two_then_blocked() -> None:
    run = _reviewing()
    assert run(E.REVIEW_GAPS, "1", issues=("no error handling", "no tests")) == {
        "action": "remediate",
        "phase": "1",
        "remediation_phase": "1.5",
        "issues": ["no error handling", "no tests"],
    }
    assert run.phase("1").status is PhaseStatus.COMPLETE
    assert run.phase("1.5").status is PhaseStatus.PLANNING
    assert run.state.current_phase == 1  # never a remediation number
    assert run.next() == {
        "action": "spawn_planner",
        "phase": "1.5",
        "issues": ["no error handling", "no tests"],
    }
    _to_review(run, "1.5")
    assert run.state.current_phase == 1
    assert run(E.REVIEW_GAPS, "1.5", issues=("still no tests",))["remediation_phase"] == "1.5.5"
    _to_review(run, "1.5.5")
    action = run(E.REVIEW_GAPS, "1.5.5", issues=("nope",))
    assert action == {
        "action": "error",
        "phase": "1.5.5",
        "reason": "Phase 1.5.5 has failed review after 2 remediation attempts",
        "retry_count": 3,  # the depth refused, as the original reported it
        "can_retry": False,
    }
    assert "1.5.5.5" not in run.state.phases
    assert run.phase("1.5.5").status is PhaseStatus.BLOCKED
    assert run.status() is OrchestrationStatus.BLOCKED
    # `next` does not move on to phase 2 as if the review had passed (retry_count 0 there, as
    # the original's `next` said for every blocked phase)
    assert run.next() == {**action, "retry_count": 0}
    # an operator retry re-reviews the phase; passing it moves on to phase 2
    assert run(E.RETRY, "1.5.5") == {
        "action": "spawn_reviewer",
        "phase": "1.5.5",
        "git_range": "1.5.5a..1.5.5b",
    }
    assert run.phase("1.5.5").retry_count == 1
    assert run(E.REVIEW_PASS, "1.5.5") == {"action": "spawn_planner", "phase": "2"}
    assert run.state.current_phase == 2


def test_review_pass_on_remediation_of_last_phase_finalizes() -> None:
    run = Run(make_state(total_phases=1))
    run(E.VALIDATION_PASS, "validation")
    _to_review(run, "1")
    run(E.REVIEW_GAPS, "1", issues=("x",))
    _to_review(run, "1.5")
    assert run(E.REVIEW_PASS, "1.5") == {"action": "finalize"}
    assert run.status() is OrchestrationStatus.COMPLETE


def test_consensus_review_pass_pass() -> None:
    run = _reviewing(consensus=True)
    first = run(E.REVIEW_PASS, "1")
    assert first == {
        "action": "spawn_reviewer",
        "phase": "1",
        "git_range": "a..b",
        "model": "haiku",
    }
    assert run.next() == first
    assert len(run.phase("1").review_verdicts) == 1
    assert run(E.REVIEW_PASS, "1") == {"action": "spawn_planner", "phase": "2"}
    assert run.phase("1").review_verdicts == ()


def test_consensus_disagreement_blocks_and_retry_rereviews() -> None:
    run = _reviewing(consensus=True)
    run(E.REVIEW_GAPS, "1", issues=("a",))
    action = run(E.REVIEW_PASS, "1")
    assert action == {
        "action": "consensus_disagreement",
        "phase": "1",
        "verdict_1": "gaps",
        "verdict_2": "pass",
        "issues": ["a"],
    }
    assert run.phase("1").status is PhaseStatus.BLOCKED
    assert run.status() is OrchestrationStatus.BLOCKED
    assert run.next()["can_retry"] is False
    assert run(E.RETRY, "1") == {"action": "spawn_reviewer", "phase": "1", "git_range": "a..b"}
    assert run.phase("1").review_verdicts == ()
    assert run.phase("1").status is PhaseStatus.REVIEWING


def test_consensus_gaps_gaps_merges_issues() -> None:
    run = _reviewing(consensus=True)
    run(E.REVIEW_GAPS, "1", issues=("a", "b"))
    assert run(E.REVIEW_GAPS, "1", issues=("b", "c")) == {
        "action": "remediate",
        "phase": "1",
        "remediation_phase": "1.5",
        "issues": ["a", "b", "c"],
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("planning", {"action": "spawn_planner", "phase": "1"}),
        ("executing", {"action": "spawn_executor", "phase": "1", "plan_path": "/p.md"}),
        ("reviewing", {"action": "spawn_reviewer", "phase": "1", "git_range": "a..b"}),
    ],
)
def test_retry_resumes_at_the_right_step(status: str, expected: dict[str, Any]) -> None:
    run = Run(make_state())
    run(E.VALIDATION_PASS, "validation")
    if status != "planning":
        run(E.PLAN_COMPLETE, "1", plan_path="/p.md")
        run(E.EXECUTE_STARTED, "1")
    if status == "reviewing":
        run(E.EXECUTE_COMPLETE, "1", git_range="a..b")
    run(E.ERROR, "1", reason="session died")
    assert run.phase("1").blocked_reason == "session died"
    assert run.next() == {
        "action": "error",
        "phase": "1",
        "reason": "session died",
        "retry_count": 0,
        "can_retry": True,
    }
    assert run(E.RETRY, "1") == expected
    assert run.phase("1").status.value == status
    assert run.phase("1").blocked_reason is None
    assert run.state.status.value == status


@pytest.mark.parametrize(
    "setup",
    [
        [],
        [(E.PLAN_COMPLETE, {"plan_path": "/p.md"})],
        [(E.PLAN_COMPLETE, {"plan_path": "/p.md"}), (E.EXECUTE_STARTED, {})],
        [(E.PLAN_COMPLETE, {"plan_path": "/p.md"}), (E.EXECUTE_COMPLETE, {"git_range": "a..b"})],
    ],
    ids=["planning", "planned", "executing", "reviewing"],
)
@pytest.mark.parametrize("gate", [False, True])
def test_pause_resume_round_trip_restores_exactly(
    setup: list[tuple[EventKind, dict[str, Any]]], gate: bool
) -> None:
    run = Run(make_state(gate=gate))
    run(E.VALIDATION_PASS, "validation")
    for kind, kw in setup:
        run(kind, "1", **kw)
        if kind is E.PLAN_COMPLETE and gate and len(setup) > 1:
            run(E.PLAN_APPROVED, "1")
    before = run.state
    next_before = run.next()
    assert run(E.PAUSE, "1") == {"action": "wait", "reason": "phase 1 paused by operator"}
    phase = run.phase("1")
    assert phase.status is PhaseStatus.BLOCKED and phase.blocked_reason == "paused by operator"
    assert phase.paused_from is before.phases["1"].status
    assert run.status() is OrchestrationStatus.BLOCKED
    assert run.state.paused_from is before.status
    assert run.next() == {"action": "wait", "reason": "phase 1 paused by operator"}
    resumed = run(E.RESUME, "1", minutes=7)
    assert run.state == before
    assert resumed == next_before
    assert run.journal[-2:] == ["paused", "resumed"]


def test_pause_before_phase_one_and_resume() -> None:
    run = Run(make_state())
    before = run.state
    assert run(E.PAUSE, "validation") == {
        "action": "wait",
        "reason": "orchestration paused by operator",
    }
    assert run.state.paused and run.state.paused_phase is None
    with pytest.raises(InvalidTransition, match="paused"):
        apply(run.state, Event(kind=E.VALIDATION_PASS, phase="validation"), run.now)
    with pytest.raises(InvalidTransition, match="pause is at validation"):
        apply(run.state, Event(kind=E.RESUME, phase="1"), run.now)
    assert run(E.RESUME, "validation") == {"action": "spawn_validator"}
    assert run.state == before


def test_paused_orchestration_refuses_other_events_but_accepts_retry_and_error() -> None:
    run = _reviewing()
    run(E.PAUSE, "1", reason="lunch")
    assert run.phase("1").blocked_reason == "lunch"
    refused: list[tuple[EventKind, dict[str, Any]]] = [
        (E.REVIEW_PASS, {}),
        (E.PAUSE, {}),
        (E.EXECUTE_COMPLETE, {"git_range": "a..c"}),
    ]
    for kind, kw in refused:
        with pytest.raises(InvalidTransition, match="paus"):
            apply(run.state, Event(kind=kind, phase="1", **kw), run.now)
    paused = run.state
    assert run(E.RETRY, "1") == {"action": "spawn_reviewer", "phase": "1", "git_range": "a..b"}
    assert not run.state.paused and run.phase("1").paused_from is None
    run.state = paused
    run(E.ERROR, "1", reason="reviewer crashed")
    assert not run.state.paused
    assert run.phase("1").blocked_reason == "reviewer crashed"
    assert run.next()["action"] == "error"


def test_plan_approval_gate() -> None:
    run = Run(make_state(gate=True))
    run(E.VALIDATION_PASS, "validation")
    waiting = {"action": "wait", "reason": "phase 1 plan awaiting approval"}
    assert run(E.PLAN_COMPLETE, "1", plan_path="/p1.md") == waiting
    assert run.phase("1").plan_approval is PlanApproval.PENDING
    assert run.phase("1").awaiting_approval
    assert run.next() == waiting
    assert run.journal[-2:] == ["phase_completed", "plan_awaiting_approval"]
    gated: list[tuple[EventKind, dict[str, Any]]] = [
        (E.EXECUTE_STARTED, {}),
        (E.EXECUTE_COMPLETE, {"git_range": "a..b"}),
    ]
    for kind, kw in gated:
        with pytest.raises(InvalidTransition, match="awaiting operator approval"):
            apply(run.state, Event(kind=kind, phase="1", **kw), run.now)

    rejected = run(E.PLAN_REJECTED, "1", issues=("split the migration step, then test it",))
    assert rejected == {
        "action": "spawn_planner",
        "phase": "1",
        "issues": ["split the migration step, then test it"],
    }
    phase = run.phase("1")
    assert phase.status is PhaseStatus.PLANNING
    assert phase.plan_approval is PlanApproval.REJECTED
    assert phase.plan_path is None
    assert run.next() == rejected  # the feedback survives an orchestrator restart

    assert run(E.PLAN_COMPLETE, "1", plan_path="/p1-v2.md") == waiting
    assert run.phase("1").plan_feedback == ()
    assert run(E.PLAN_APPROVED, "1") == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": "/p1-v2.md",
    }
    assert run.phase("1").plan_approval is PlanApproval.APPROVED
    assert run.next()["action"] == "spawn_executor"
    assert run(E.EXECUTE_STARTED, "1")["action"] == "wait"


def test_gate_applies_to_reused_plans_and_retries() -> None:
    run = Run(make_state(gate=True), plans={"1": "/p1.md"})
    assert run(E.VALIDATION_PASS, "validation") == {
        "action": "wait",
        "reason": "phase 1 plan awaiting approval",
    }
    run(E.ERROR, "1", reason="planner lost")
    assert run(E.RETRY, "1") == {"action": "wait", "reason": "phase 1 plan awaiting approval"}
    assert run.phase("1").awaiting_approval


def test_plan_events_without_gate_are_refused() -> None:
    run = Run(make_state(gate=False))
    run(E.VALIDATION_PASS, "validation")
    run(E.PLAN_COMPLETE, "1", plan_path="/p.md")
    with pytest.raises(InvalidTransition, match="gate is off"):
        apply(run.state, Event(kind=E.PLAN_APPROVED, phase="1"), run.now)
    with pytest.raises(InvalidTransition, match="not awaiting plan approval"):
        apply(run.state, Event(kind=E.PLAN_REJECTED, phase="1", issues=("x",)), run.now)


def _unchanged(state: SupervisorState, event: Event) -> TransitionErrorInfo:
    before = encode_supervisor_state(state)
    with pytest.raises(TransitionError) as info:
        apply(state, event, T0)
    assert encode_supervisor_state(state) == before
    return TransitionErrorInfo(info.value)


@attrs.frozen
class TransitionErrorInfo:
    error: BaseException


@pytest.mark.parametrize("phase", ["1-retry", "phase-1", "1 ", "", "1.5.5.5", "0", "2.3"])
def test_bad_phase_is_invalid_input(phase: str) -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    info = _unchanged(state, Event(kind=E.PLAN_COMPLETE, phase=phase, plan_path="/p.md"))
    assert isinstance(info.error, InvalidInput)
    assert str(info.error).startswith(f"Invalid phase '{phase}': ")


def test_missing_inputs() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    info = _unchanged(state, Event(kind=E.PLAN_COMPLETE, phase="1"))
    assert isinstance(info.error, InvalidInput) and "--plan-path" in str(info.error)
    executing = make_state(phases={"1": PhaseState(status=PhaseStatus.EXECUTING)})
    info = _unchanged(executing, Event(kind=E.EXECUTE_COMPLETE, phase="1"))
    assert isinstance(info.error, InvalidInput) and "--git-range" in str(info.error)


def test_wrong_event_names_both_statuses() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    info = _unchanged(state, Event(kind=E.REVIEW_PASS, phase="1"))
    assert isinstance(info.error, InvalidTransition)
    assert str(info.error) == (
        "cannot apply review_pass to phase 1: its status is planning (needs reviewing)"
    )


def test_unknown_phase() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    info = _unchanged(state, Event(kind=E.ERROR, phase="2", reason="x"))
    assert isinstance(info.error, PhaseNotFound)
    assert str(info.error) == "Phase '2' not found in supervisor state"


def test_retry_of_a_phase_that_is_not_blocked() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.EXECUTING)})
    info = _unchanged(state, Event(kind=E.RETRY, phase="1"))
    assert isinstance(info.error, InvalidTransition)
    assert str(info.error) == "Unexpected state: Phase 1 is not blocked (status: executing)"


def test_validation_events_do_not_reset_a_running_phase() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.EXECUTING)})
    info = _unchanged(state, Event(kind=E.VALIDATION_PASS, phase="validation"))
    assert isinstance(info.error, InvalidTransition)


# --------------------------------------------------------------------------------------------
# manual `state` commands


def test_update_status_follows_the_transition_table() -> None:
    state = make_state()
    t = update_status(state, "1", PhaseStatus.PLANNED, T0, plan_path="/p.md")
    assert t.state.phases["1"].plan_path == "/p.md"
    assert t.state.status is OrchestrationStatus.PLANNING
    assert action_to_dict(t.action)["action"] == "spawn_executor"
    t = update_status(t.state, "1", PhaseStatus.EXECUTING, T0 + timedelta(minutes=3))
    assert t.state.status is OrchestrationStatus.EXECUTING
    t = update_status(t.state, "1", PhaseStatus.REVIEWING, T0 + timedelta(minutes=13))
    assert t.state.phases["1"].breakdown.execution_mins == 10
    assert t.events[0].detail == {"from": "executing", "to": "reviewing", "plan_path": "/p.md"}
    with pytest.raises(InvalidTransition) as refused:
        update_status(t.state, "1", PhaseStatus.PLANNED, T0)
    assert str(refused.value) == (
        "Invalid status transition: cannot go from 'reviewing' to 'planned'"
    )
    with pytest.raises(InvalidTransition, match="from 'planning' to 'executing'"):
        update_status(state, "1", PhaseStatus.EXECUTING, T0)
    # complete and blocked have their own commands, once the transition itself is allowed
    with pytest.raises(InvalidTransition, match="from 'planning' to 'complete'"):
        update_status(state, "1", PhaseStatus.COMPLETE, T0)
    with pytest.raises(InvalidInput) as own:
        update_status(t.state, "1", PhaseStatus.COMPLETE, T0)
    assert str(own.value) == "Use 'state phase-complete' to mark a phase complete"
    with pytest.raises(InvalidInput) as own:
        update_status(state, "1", PhaseStatus.BLOCKED, T0)
    assert str(own.value) == "Use 'state blocked' to mark a phase blocked"
    with pytest.raises(InvalidInput) as beyond:
        update_status(state, "3", PhaseStatus.PLANNED, T0)
    assert str(beyond.value) == (
        "Phase 3 does not exist (total phases: 2).\n"
        "\n"
        "Valid phases: 1-2\n"
        "Remediation phases (e.g., 1.5, 2.5) are created dynamically."
    )


def test_update_status_honours_gate_and_pause() -> None:
    gated = make_state(gate=True)
    t = update_status(gated, "1", PhaseStatus.PLANNED, T0, plan_path="/p.md")
    assert t.state.phases["1"].awaiting_approval
    with pytest.raises(InvalidTransition, match="approval"):
        update_status(t.state, "1", PhaseStatus.EXECUTING, T0)
    paused = apply(t.state, Event(kind=E.PAUSE, phase="1"), T0).state
    with pytest.raises(InvalidTransition, match="paused"):
        update_status(paused, "1", PhaseStatus.PLANNING, T0)


def test_complete_phase_moves_to_next_or_completes() -> None:
    reviewing = PhaseState(
        status=PhaseStatus.REVIEWING, planning_started_at=T0, review_started_at=T0
    )
    state = make_state(phases={"1": reviewing}, status=OrchestrationStatus.REVIEWING)
    t = complete_phase(state, "1", "a..b", T0 + timedelta(minutes=4))
    assert t.state.phases["1"].status is PhaseStatus.COMPLETE
    assert t.state.phases["1"].git_range == "a..b"
    assert t.state.phases["1"].duration_mins == 4
    assert (t.state.status, t.state.current_phase) == (OrchestrationStatus.PLANNING, 2)
    assert action_to_dict(t.action) == {"action": "spawn_planner", "phase": "2"}
    last = make_state(total_phases=1, phases={"1": reviewing})
    assert complete_phase(last, "1", "a..b", T0).state.status is OrchestrationStatus.COMPLETE
    planning = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    with pytest.raises(InvalidTransition, match="from 'planning' to 'complete'"):
        complete_phase(planning, "1", "a..b", T0)
    # a phase that never started counts as planning, as in the original
    with pytest.raises(InvalidTransition) as absent:
        complete_phase(planning, "2", "a..b", T0)
    assert str(absent.value) == "Invalid status transition: cannot go from 'planning' to 'complete'"
    with pytest.raises(InvalidInput, match="Phase 3 does not exist"):
        complete_phase(planning, "3", "a..b", T0)


def test_block_phase() -> None:
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.EXECUTING)})
    t = block_phase(state, "1", "disk full", T0)
    assert t.state.phases["1"].blocked_reason == "disk full"
    assert t.state.status is OrchestrationStatus.BLOCKED
    assert action_to_dict(t.action)["action"] == "error"
    with pytest.raises(InvalidTransition, match="from 'blocked' to 'blocked'"):
        block_phase(t.state, "1", "again", T0)
    done = make_state(phases={"1": PhaseState(status=PhaseStatus.COMPLETE)})
    with pytest.raises(InvalidTransition, match="from 'complete' to 'blocked'"):
        block_phase(done, "1", "x", T0)
    # on a paused phase, `state blocked` turns the pause into a real block
    paused = apply(state, Event(kind=E.PAUSE, phase="1"), T0).state
    t = block_phase(paused, "1", "broken", T0)
    assert not t.state.paused and t.state.phases["1"].blocked_reason == "broken"


def test_model_policy_appears_only_when_not_default() -> None:
    state = make_state()
    state = attrs.evolve(state, model_policy=attrs.evolve(state.model_policy, planner="sonnet"))
    t: Transition = apply(state, Event(kind=E.VALIDATION_PASS, phase="validation"), T0)
    assert action_to_dict(t.action) == {"action": "spawn_planner", "phase": "1", "model": "sonnet"}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({}, {}),
        ({"executor": "opus"}, {"model": "opus"}),
        ({"executor": "haiku", "planner": "opus"}, {}),
    ],
)
def test_executor_model_is_named_only_when_not_haiku(
    policy: dict[str, str], expected: dict[str, str]
) -> None:
    """The original's defaults: opus for validator, planner and reviewer, haiku for executor."""
    assert ModelPolicy().executor == "haiku"
    state = make_state(phases={"1": PhaseState(status=PhaseStatus.PLANNING)})
    state = attrs.evolve(state, model_policy=attrs.evolve(state.model_policy, **policy))
    t = apply(state, Event(kind=E.PLAN_COMPLETE, phase="1", plan_path="/p.md"), T0)
    assert action_to_dict(t.action) == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": "/p.md",
        **expected,
    }
    assert action_to_dict(next_action(t.state)) == action_to_dict(t.action)


def test_validator_and_reviewer_models_follow_the_policy() -> None:
    state = make_state()
    policy = attrs.evolve(state.model_policy, validator="sonnet", reviewer="sonnet")
    state = attrs.evolve(state, model_policy=policy)
    assert action_to_dict(next_action(state)) == {"action": "spawn_validator", "model": "sonnet"}
    reviewing = PhaseState(status=PhaseStatus.REVIEWING, git_range="a..b")
    state = attrs.evolve(state, phases={"1": reviewing})
    assert action_to_dict(next_action(state)) == {
        "action": "spawn_reviewer",
        "phase": "1",
        "git_range": "a..b",
        "model": "sonnet",
    }
