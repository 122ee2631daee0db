"""Whole orchestrations driven by the original skills' exact command lines (reference §4.1).

The test plays the orchestrator (``skills/orchestrate``: validation → plan → execute → review)
and the phase executor (``agents/phase-executor.md``: ``start`` then ``wait``); the stand-in
``claude`` plays the team lead in the tmux pane ``start`` opens. Each test asserts what those
callers parse: the worktree path from ``init``, ``jq -r .action``, exit codes, and the git
range on ``wait``'s last line.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .conftest import FAST_LEAD, Skills, poll

REASON = "Phase reviewer rejected 3 times"


def assert_action(got: dict[str, Any], action: str, **fields: Any) -> None:
    """The fields a caller reads (``.action`` first, then those named); others are ignored."""
    assert next(iter(got)) == "action", got
    assert {"action": got["action"], **{k: got.get(k) for k in fields}} == {
        "action": action,
        **fields,
    }, got


def validate(skills: Skills) -> None:
    assert_action(skills.next(), "spawn_validator")
    assert_action(skills.advance("validation", "validation_pass"), "spawn_planner", phase="1")


def plan_and_execute(skills: Skills, phase: str) -> str:
    """plan_complete → spawn_executor → the executor → execute_complete → spawn_reviewer."""
    plan = skills.write_plan(phase)
    assert_action(
        skills.advance(phase, "plan_complete", plan_path=plan),
        "spawn_executor",
        phase=phase,
        plan_path=plan,
    )
    git_range = skills.execute(phase, plan)
    assert_action(
        skills.advance(phase, "execute_complete", git_range=git_range),
        "spawn_reviewer",
        phase=phase,
        git_range=git_range,
    )
    return git_range


def lead_commits(phase: str, tasks: int = 2) -> list[str]:
    """The stand-in lead's commit subjects for ``phase``, newest first (as git log shows)."""
    return [f"phase {phase}: Task {n}: piece {n} of phase {phase}" for n in range(tasks, 0, -1)]


def status_file(skills: Skills, phase: str) -> dict[str, Any]:
    doc = json.loads((skills.worktree / ".claude/tina" / f"phase-{phase}/status.json").read_text())
    assert isinstance(doc, dict)
    return doc


def session_name(skills: Skills, phase: str) -> str:
    result = skills.tina("name", "--feature", skills.feature, "--phase", phase)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- a. one phase --------------------------------------------------------------------------------


def test_a_single_phase_runs_to_finalize_then_complete(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    worktree = skills.init()
    assert skills.feature == "billing-export"
    assert worktree == skills.repo.resolve() / ".worktrees" / "billing-export"
    assert worktree.is_dir()
    validate(skills)
    plan = skills.write_plan("1")
    assert skills.advance("1", "plan_complete", plan_path=plan)["action"] == "spawn_executor"

    # The phase-executor's two lines exactly as the agent runs them.
    started = skills.start("1", plan)
    assert started.returncode == 0, (started.stdout, started.stderr)
    # The skill dispatches on `.action` only for `wait` (the reason is not read).
    assert skills.advance("1", "execute_started")["action"] == "wait"
    done = skills.wait("1", stream=30, timeout=1800)
    assert done.code == 0, (done.lines, done.stderr)
    assert done.last["status"] == "complete"
    git_range = done.last["git_range"]  # the lead wrote none: tina-session computed it
    assert set(lead_commits("1")) <= set(skills.commit_subjects(git_range))

    assert_action(
        skills.advance("1", "execute_complete", git_range=git_range),
        "spawn_reviewer",
        phase="1",
        git_range=git_range,
    )
    assert_action(skills.advance("1", "review_pass"), "finalize")
    assert_action(skills.next(), "complete")

    # What the lead received: the exact command line, and the init line once.
    start = next(e for e in skills.standin_log() if e["event"] == "start")
    assert start["argv"][1:] == ["--dangerously-skip-permissions"]
    assert os.path.basename(start["argv"][0]) == "claude"
    assert os.path.realpath(start["cwd"]) == os.path.realpath(worktree)
    plan_abs = os.path.realpath(plan)
    assert skills.init_lines() == [
        f"/tina:team-lead-init team_name: billing-export-phase-1 plan_path: {plan_abs}"
    ]


# --- b. three phases -----------------------------------------------------------------------------


def test_b_three_phases_each_with_its_own_git_range(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=3)
    # The second lead runs both gates as the skill does (they pass: no project to verify); the
    # third writes its own git_range, which wait must hand on.
    skills.scenario(
        {
            "default": FAST_LEAD,
            "phases": {"2": {"run_gates": True}, "3": {"write_git_range": True}},
        }
    )
    skills.init()
    validate(skills)
    ranges: dict[str, str] = {}
    for n in ("1", "2", "3"):
        ranges[n] = plan_and_execute(skills, n)
        following = skills.advance(n, "review_pass")
        if n == "3":
            assert_action(following, "finalize")
        else:
            assert_action(following, "spawn_planner", phase=str(int(n) + 1))
    assert_action(skills.next(), "complete")

    for n, git_range in ranges.items():
        subjects = set(skills.commit_subjects(git_range))
        assert set(lead_commits(n)) <= subjects, (n, git_range, subjects)
        for other in {"1", "2", "3"} - {n}:
            assert not set(lead_commits(other)) & subjects, (n, other, git_range)
    assert ranges["3"] == status_file(skills, "3")["git_range"]
    gates = [(e["gate"], e["exit_code"]) for e in skills.standin_log() if e["event"] == "gate_run"]
    assert gates == [("verify", 0), ("complexity", 0)]


# --- c. review gaps: remediation 1.5 and 1.5.5, then an error ------------------------------------


def test_c_review_gaps_remediate_twice_in_tmux_then_stop(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=2)
    skills.init()
    validate(skills)
    plan_and_execute(skills, "1")
    assert_action(
        skills.advance("1", "review_gaps", issues="missing tests, no docs"),
        "remediate",
        phase="1",
        remediation_phase="1.5",
        issues=["missing tests", "no docs"],
    )
    assert_action(skills.next(), "spawn_planner", phase="1.5")

    plan_and_execute(skills, "1.5")
    assert_action(
        skills.advance("1.5", "review_gaps", issues="still no docs"),
        "remediate",
        phase="1.5",
        remediation_phase="1.5.5",
        issues=["still no docs"],
    )
    plan_and_execute(skills, "1.5.5")
    assert_action(
        skills.advance("1.5.5", "review_gaps", issues="docs are wrong"),
        "error",
        phase="1.5.5",
        reason="Phase 1.5.5 has failed review after 2 remediation attempts",
        can_retry=False,
    )

    # Both remediation leads ran in their own tmux sessions (still alive, as real leads stay).
    for phase in ("1.5", "1.5.5"):
        exists = skills.tina("exists", "--feature", skills.feature, "--phase", phase)
        assert exists.returncode == 0, (phase, exists.stderr)
        assert f"team_name: billing-export-phase-{phase} plan_path: " in "\n".join(
            skills.init_lines()
        )
        # Progress comes from the team's directory, which Claude Code names with dashes.
        status = skills.tina("status", "--feature", skills.feature, "--phase", phase)
        assert status.returncode == 0, status.stderr
        progress = json.loads(status.stdout)
        assert progress["status"] == "complete", progress
        assert (progress.get("tasks_complete"), progress.get("tasks_total")) == (2, 2), progress


# --- d. a blocked phase, retried -----------------------------------------------------------------


def test_d_blocked_phase_reaches_the_orchestrator_and_a_retry_completes(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    skills.scenario(
        {
            "default": FAST_LEAD,
            "phases": {"1": [{"outcome": "blocked", "reason": REASON}, {"outcome": "complete"}]},
        }
    )
    skills.init()
    validate(skills)
    plan = skills.write_plan("1")
    skills.advance("1", "plan_complete", plan_path=plan)
    assert skills.start("1", plan).returncode == 0
    skills.advance("1", "execute_started")
    blocked = skills.wait("1")
    assert blocked.code == 1, (blocked.lines, blocked.stderr)
    assert blocked.last["status"] == "blocked"
    # The lead writes `reason` (the skill's word); the executor must get it.
    assert blocked.last.get("blocked_reason") == REASON, blocked.last

    # execute-1 error: <reason>  →  --event error --issues "<reason>"
    assert_action(
        skills.advance("1", "error", issues=blocked.last["blocked_reason"]),
        "error",
        phase="1",
        reason=REASON,
        retry_count=0,
        can_retry=True,
    )
    assert_action(skills.advance("1", "retry"), "spawn_executor", phase="1", plan_path=plan)
    # The orchestrator re-spawns the executor, which runs the same two lines again.
    git_range = skills.execute("1", plan)
    assert len(skills.init_lines()) == 2, skills.init_lines()
    outcomes = [e["outcome"] for e in skills.standin_log() if e["event"] == "outcome"]
    assert outcomes == ["blocked", "complete"]
    assert skills.advance("1", "execute_complete", git_range=git_range)["action"] == (
        "spawn_reviewer"
    )
    assert_action(skills.advance("1", "review_pass"), "finalize")


# --- e. the lead's session dies ------------------------------------------------------------------


def test_e_a_dead_session_is_exit_3_session_died(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    skills.scenario({"default": FAST_LEAD, "phases": {"1": {"outcome": "die", "tasks": 2}}})
    skills.init()
    validate(skills)
    plan = skills.write_plan("1")
    skills.advance("1", "plan_complete", plan_path=plan)
    assert skills.start("1", plan).returncode == 0
    skills.advance("1", "execute_started")
    streamed = skills.wait("1")
    assert streamed.code == 3, (streamed.lines, streamed.stderr)
    assert streamed.last["status"] == "session_died"

    session = session_name(skills, "1")
    plain = skills.wait("1", stream=None, timeout=None)
    assert plain.code == 3
    assert plain.lines == [
        {"status": "session_died", "reason": f"tmux session '{session}' no longer exists"}
    ]
    assert skills.advance("1", "error", issues="session_died")["can_retry"] is True


# --- f. timeout ----------------------------------------------------------------------------------


def test_f_a_lead_that_never_finishes_times_out_with_exit_2(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    skills.scenario({"default": {**FAST_LEAD, "outcome": "hang"}})
    skills.init()
    validate(skills)
    plan = skills.write_plan("1")
    skills.advance("1", "plan_complete", plan_path=plan)
    assert skills.start("1", plan).returncode == 0
    skills.advance("1", "execute_started")
    timed_out = skills.wait("1", stream=1, timeout=2)
    assert timed_out.code == 2, (timed_out.lines, timed_out.stderr)
    assert timed_out.last["status"] == "timeout"
    error = skills.advance("1", "error", issues="timeout after 2 seconds")
    assert (error["action"], error["can_retry"]) == ("error", True)


# --- g. start twice: resume ----------------------------------------------------------------------


def test_g_a_second_start_resumes_without_resending_the_init_line(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    skills.init()
    validate(skills)
    plan = skills.write_plan("1")
    skills.advance("1", "plan_complete", plan_path=plan)
    assert skills.start("1", plan).returncode == 0
    again = skills.start("1", plan)
    assert again.returncode == 0, (again.stdout, again.stderr)
    session = session_name(skills, "1")
    assert f"Session '{session}' already exists. Resuming." in again.stdout

    # A sentinel typed after the second start: once the lead has read it, anything the second
    # start had typed would have been read before it.
    skills.tmux("send-keys", "-t", f"={session}:", "-l", "sentinel-after-resume")
    skills.tmux("send-keys", "-t", f"={session}:", "Enter")
    poll(
        lambda: any(
            e["event"] == "input" and e["line"] == "sentinel-after-resume"
            for e in skills.standin_log()
        ),
        what="the lead to read the sentinel",
    )
    assert len(skills.init_lines()) == 1, skills.init_lines()
    assert [e["event"] for e in skills.standin_log()].count("start") == 1  # claude typed once
    done = skills.wait("1")
    assert done.code == 0 and "git_range" in done.last


# --- h. the phase gates --------------------------------------------------------------------------


def test_h_a_failing_verification_gate_blocks_the_phase(make_skills: Any) -> None:
    skills: Skills = make_skills(phases=1)
    # A Python project whose tests fail: `tina-session check verify` must fail in the worktree.
    (skills.repo / "pyproject.toml").write_text('[project]\nname = "acme"\nversion = "0"\n')
    (skills.repo / "tests").mkdir()
    (skills.repo / "tests" / "test_acme.py").write_text("def test_broken():\n    assert 1 == 2\n")
    skills.git(skills.repo, "add", "pyproject.toml", "tests")
    skills.git(skills.repo, "commit", "-q", "-m", "a failing test")
    skills.scenario({"default": {**FAST_LEAD, "run_gates": True}})
    skills.init()
    validate(skills)
    plan = skills.write_plan("1")
    skills.advance("1", "plan_complete", plan_path=plan)
    assert skills.start("1", plan).returncode == 0
    skills.advance("1", "execute_started")
    blocked = skills.wait("1")
    assert blocked.code == 1, (blocked.lines, blocked.stderr)
    assert blocked.last.get("blocked_reason") == "Verification gate failed", blocked.last

    status = status_file(skills, "1")
    assert (status["status"], status["gate"]) == ("blocked", "verify")
    assert status["context"]["command"] == "tina-session check verify"
    assert status["context"]["exit_code"] != 0
    gates = [(e["gate"], e["exit_code"]) for e in skills.standin_log() if e["event"] == "gate_run"]
    assert gates[0][0] == "verify" and gates[0][1] != 0
    assert len(gates) == 1  # the skill stops at the first failing gate
