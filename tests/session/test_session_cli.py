"""End to end: the real `tina-session` script against a real temporary git repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tina.local import paths, read_journal, read_session_lookup, read_supervisor_state
from tina.local.models import OrchestrationStatus, PhaseStatus

from .conftest import Cli, Run, git

FEATURE = "billing-export"


def _init(cli: Cli, repo: Path, *extra: str, feature: str = FEATURE, phases: int = 2) -> Run:
    return cli(
        "init",
        "--feature",
        feature,
        "--cwd",
        str(repo),
        "--design-doc",
        str(repo / "docs" / "billing-export-design.md"),
        "--total-phases",
        str(phases),
        *extra,
    )


def _advance(cli: Cli, phase: str, event: str, *extra: str) -> Run:
    return cli(
        "orchestrate", "advance", "--feature", FEATURE, "--phase", phase, "--event", event, *extra
    )


def _action(run: Run) -> dict[str, Any]:
    assert run.code == 0, run.out
    out = dict(run.out)
    assert out.pop("ok") is True
    assert out.pop("feature") == FEATURE
    return out


def _worktree(repo: Path) -> Path:
    return repo / ".worktrees" / FEATURE


def _journal_types(repo: Path) -> list[str]:
    chunk = read_journal(paths.journal_path(_worktree(repo)))
    assert chunk.errors == ()
    return [entry.type for entry in chunk.entries]


def _commit(worktree: Path, name: str) -> str:
    (worktree / name).write_text(f"{name}\n")
    git(worktree, "add", name)
    git(worktree, "commit", "-q", "-m", f"add {name}")
    return git(worktree, "rev-parse", "--short", "HEAD").strip()


def _write_plan(worktree: Path, phase: str) -> Path:
    plan = worktree / "docs" / "plans" / f"2026-02-07-{FEATURE}-phase-{phase}.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(f"# Phase {phase} plan\n")
    return plan


def test_init_creates_worktree_state_lookup_and_journal(cli: Cli, repo: Path, home: Path) -> None:
    run = _init(cli, repo, "--require-plan-approval")
    assert run.code == 0
    worktree = _worktree(repo)
    assert run.out == {
        "ok": True,
        "feature": FEATURE,
        "worktree_path": str(worktree),
        "repo_root": str(repo),
        "branch": f"tina/{FEATURE}",
        "spec_doc": str(repo / "docs" / "billing-export-design.md"),
        "total_phases": 2,
        "require_plan_approval": True,
        "state_path": str(paths.state_path(worktree)),
        "lookup_path": str(home / ".claude" / "tina-sessions" / f"{FEATURE}.json"),
        "gitignore_updated": True,
    }
    # a real git worktree on a new branch
    assert git(worktree, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"tina/{FEATURE}"
    assert str(worktree) in git(repo, "worktree", "list")
    # .worktrees is ignored, and tina's files stay out of the agents' commits
    assert (repo / ".gitignore").read_text() == ".worktrees\n"
    assert git(repo, "status", "--porcelain", "--ignored", ".worktrees").startswith("!!")
    assert git(worktree, "status", "--porcelain") == ""

    state = read_supervisor_state(paths.state_path(worktree))
    assert state.status is OrchestrationStatus.PLANNING
    assert state.total_phases == 2 and state.current_phase == 1
    assert state.approval_policy.require_plan_approval
    raw = json.loads(paths.state_path(worktree).read_text())
    assert "spec_doc" in raw and "design_doc" not in raw
    lookup = read_session_lookup(home / ".claude" / "tina-sessions" / f"{FEATURE}.json")
    assert (lookup.worktree_path, lookup.repo_root) == (str(worktree), str(repo))
    assert _journal_types(repo) == ["orchestration_started"]

    again = _init(cli, repo)
    assert again.code == 1 and again.out["error"]["code"] == "already_initialized"
    assert read_supervisor_state(paths.state_path(worktree)) == state


def test_init_validates_inputs(cli: Cli, repo: Path, tmp_path: Path) -> None:
    bad_feature = _init(cli, repo, feature="../escape")
    assert bad_feature.code == 2 and "invalid feature name" in bad_feature.out["error"]["message"]
    not_git = tmp_path / "plain"
    not_git.mkdir()
    run = cli(
        "init", "--feature", "x", "--cwd", str(not_git),
        "--design-doc", str(repo / "docs" / "billing-export-design.md"), "--total-phases", "1",
    )  # fmt: skip
    assert run.code == 2 and "not inside a git repository" in run.out["error"]["message"]
    run = cli(
        "init", "--feature", "x", "--cwd", str(repo), "--design-doc", str(repo / "nope.md"),
        "--total-phases", "1",
    )  # fmt: skip
    assert run.code == 2 and "not an existing file" in run.out["error"]["message"]
    assert _init(cli, repo, phases=0).code == 2
    assert _init(cli, repo, "--branch", "bad..branch").code == 2
    usage = cli("init", "--feature", "x")
    assert usage.code == 2 and usage.out["error"]["code"] == "usage"
    assert not (repo / ".worktrees").exists()  # nothing was created by refused commands


def test_init_with_an_existing_branch_uses_a_suffix(cli: Cli, repo: Path) -> None:
    git(repo, "branch", f"tina/{FEATURE}")
    run = _init(cli, repo)
    assert run.code == 0
    assert run.out["branch"].startswith(f"tina/{FEATURE}-")
    assert len(run.out["branch"]) == len(f"tina/{FEATURE}-") + 14


def test_whole_orchestration_to_completion(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    next_ = cli("orchestrate", "next", "--feature", FEATURE)
    assert _action(next_) == {"action": "spawn_validator"}
    assert _action(_advance(cli, "validation", "validation_pass")) == {
        "action": "spawn_planner",
        "phase": "1",
    }
    base = git(worktree, "rev-parse", "--short", "HEAD").strip()
    for phase in ("1", "2"):
        plan = _write_plan(worktree, phase)
        assert _action(_advance(cli, phase, "plan_complete", "--plan-path", str(plan))) == {
            "action": "spawn_executor",
            "phase": phase,
            "plan_path": str(plan),
        }
        assert _action(_advance(cli, phase, "execute_started"))["action"] == "wait"
        head = _commit(worktree, f"phase{phase}.txt")
        git_range = f"{base}..{head}"
        assert _action(_advance(cli, phase, "execute_complete", "--git-range", git_range)) == {
            "action": "spawn_reviewer",
            "phase": phase,
            "git_range": git_range,
        }
        base = head
        passed = _action(_advance(cli, phase, "review_pass"))
        assert passed == (
            {"action": "spawn_planner", "phase": "2"} if phase == "1" else {"action": "finalize"}
        )
    assert _action(cli("orchestrate", "next", "--feature", FEATURE)) == {"action": "complete"}
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.status is OrchestrationStatus.COMPLETE
    assert all(p.status is PhaseStatus.COMPLETE for p in state.phases.values())
    assert state.phases["2"].git_range is not None
    assert _journal_types(repo) == [
        "orchestration_started",
        "phase_started",
        *["phase_completed", "phase_started", "phase_completed", "phase_completed"],
        "phase_started",
        *["phase_completed", "phase_started", "phase_completed", "phase_completed"],
        "phase_completed",
    ]
    listed = cli("list")
    assert listed.code == 0
    assert [(o["feature"], o["status"]) for o in listed.out["orchestrations"]] == [
        (FEATURE, "complete")
    ]
    # a finished orchestration refuses further events and changes nothing
    before = paths.state_path(worktree).read_bytes()
    refused = _advance(cli, "2", "review_pass")
    assert refused.code == 1 and refused.out["error"]["code"] == "invalid_transition"
    assert paths.state_path(worktree).read_bytes() == before


def test_blocked_phase_and_its_retry(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    _advance(cli, "1", "plan_complete", "--plan-path", str(plan))
    _advance(cli, "1", "execute_started")
    error = _advance(cli, "1", "error", "--issues", "executor session died")
    assert _action(error) == {
        "action": "error",
        "phase": "1",
        "reason": "executor session died",
        "retry_count": 0,
        "can_retry": True,
    }
    assert _action(cli("orchestrate", "next", "--feature", FEATURE))["action"] == "error"
    shown = cli("state", "show", "--feature", FEATURE, "--phase", "1")
    assert shown.out["phase_state"]["status"] == "blocked"
    assert shown.out["phase_state"]["blocked_reason"] == "executor session died"
    listed = cli("list").out["orchestrations"][0]
    assert listed["status"] == "blocked" and listed["paused"] is False

    assert _action(_advance(cli, "1", "retry")) == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": str(plan),
    }
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.status is OrchestrationStatus.EXECUTING
    assert state.phases["1"].retry_count == 1
    assert state.phases["1"].blocked_reason is None
    not_blocked = _advance(cli, "1", "retry")
    assert not_blocked.code == 1
    assert "needs blocked" in not_blocked.out["error"]["message"]
    assert _journal_types(repo)[-2:] == ["error", "retry"]


def test_pause_resume_and_plan_approval_gate(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo, "--require-plan-approval").code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    waiting = _action(_advance(cli, "1", "plan_complete", "--plan-path", str(plan)))
    assert waiting == {"action": "wait", "reason": "phase 1 plan awaiting approval"}

    paused = _action(_advance(cli, "1", "pause"))
    assert paused == {"action": "wait", "reason": "phase 1 paused by operator"}
    state = cli("state", "show", "--feature", FEATURE).out["state"]
    assert state["status"] == "blocked" and state["paused_from"] == "planning"
    assert state["phases"]["1"]["paused_from"] == "planned"
    assert state["phases"]["1"]["blocked_reason"] == "paused by operator"
    refused = _advance(cli, "1", "plan_approved")
    assert refused.code == 1 and "paused" in refused.out["error"]["message"]
    assert _action(_advance(cli, "1", "resume")) == waiting
    assert cli("state", "show", "--feature", FEATURE).out["state"]["status"] == "planning"

    rejected = _advance(
        cli, "1", "plan_rejected", "--issues", "split the migration, then add tests"
    )
    assert _action(rejected) == {
        "action": "spawn_planner",
        "phase": "1",
        "issues": ["split the migration, then add tests"],
    }
    assert _action(_advance(cli, "1", "plan_complete", "--plan-path", str(plan))) == waiting
    assert _action(_advance(cli, "1", "plan_approved")) == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": str(plan),
    }
    assert "plan_rejected" in _journal_types(repo)
    assert _journal_types(repo)[-1] == "plan_approved"


def test_invalid_input_changes_nothing(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    _advance(cli, "validation", "validation_pass")
    state_file = paths.state_path(_worktree(repo))
    journal = paths.journal_path(_worktree(repo))
    before = (state_file.read_bytes(), journal.read_bytes())

    unknown = cli("orchestrate", "advance", "--feature", "nope", "--phase", "1", "--event", "retry")
    assert unknown.code == 1 and unknown.out["error"]["code"] == "unknown_feature"
    bad_phase = _advance(cli, "1-retry", "retry")
    assert bad_phase.code == 2 and "-retry" in bad_phase.out["error"]["message"]
    bad_event = _advance(cli, "1", "pass")
    assert bad_event.code == 2 and bad_event.out["error"]["code"] == "unknown_event"
    assert "review_pass" in bad_event.out["error"]["message"]
    wrong = _advance(cli, "1", "review_pass")
    assert wrong.code == 1 and wrong.out["error"] == {
        "code": "invalid_transition",
        "message": "cannot apply review_pass to phase 1: its status is planning (needs reviewing)",
    }
    missing = _advance(cli, "7", "error")
    assert missing.code == 1 and missing.out["error"]["code"] == "phase_not_found"
    no_plan = _advance(cli, "1", "plan_complete")
    assert no_plan.code == 2 and "--plan-path" in no_plan.out["error"]["message"]
    ghost = _advance(cli, "1", "plan_complete", "--plan-path", "/no/such/plan.md")
    assert ghost.code == 2
    bad_range = _advance(cli, "1", "execute_complete", "--git-range", "HEAD")
    assert bad_range.code == 2 and "<rev>..<rev>" in bad_range.out["error"]["message"]
    no_feedback = _advance(cli, "1", "plan_rejected")
    assert no_feedback.code == 2
    assert (state_file.read_bytes(), journal.read_bytes()) == before


def test_manual_state_commands(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo, phases=1).code == 0
    worktree = _worktree(repo)
    plan = _write_plan(worktree, "1")
    base = ("--feature", FEATURE, "--phase", "1")
    run = cli("state", "update", *base, "--status", "planned", "--plan-path", str(plan))
    assert run.code == 0 and run.out["phase_state"]["plan_path"] == str(plan)
    assert run.out["next"] == {"action": "spawn_executor", "phase": "1", "plan_path": str(plan)}
    refused = cli("state", "update", *base, "--status", "reviewing")
    assert refused.code == 1
    assert refused.out["error"]["message"] == "invalid status transition: planned -> reviewing"
    assert cli("state", "update", *base, "--status", "executing").code == 0
    blocked = cli("state", "blocked", *base, "--reason", "disk full")
    assert blocked.code == 0 and blocked.out["orchestration"]["status"] == "blocked"
    assert cli("state", "update", *base, "--status", "reviewing").code == 0
    done = cli("state", "phase-complete", *base, "--git-range", "abc..def")
    assert done.code == 0
    assert done.out["orchestration"]["status"] == "complete"
    assert done.out["next"] == {"action": "complete"}
    assert _journal_types(repo)[1:] == [
        "status_changed",
        "status_changed",
        "error",
        "status_changed",
        "phase_completed",
    ]
    bad = cli("state", "update", "--feature", FEATURE, "--phase", "1", "--status", "done")
    assert bad.code == 2


def test_cleanup_and_list(cli: Cli, repo: Path, home: Path) -> None:
    assert _init(cli, repo).code == 0
    sessions = home / ".claude" / "tina-sessions"
    (sessions / "broken.json").write_text('{"feature": ')
    listed = cli("list")
    assert [o["feature"] for o in listed.out["orchestrations"]] == [FEATURE]
    assert len(listed.out["errors"]) == 1
    assert listed.out["errors"][0]["path"].endswith("broken.json")

    run = cli("cleanup", "--feature", FEATURE)
    assert run.code == 0 and run.out["journaled"] is True
    assert not (sessions / f"{FEATURE}.json").exists()
    assert _journal_types(repo)[-1] == "cleanup"
    assert _worktree(repo).is_dir()  # the worktree itself is left alone
    assert cli("list").out["orchestrations"] == []
    gone = cli("orchestrate", "next", "--feature", FEATURE)
    assert gone.code == 1 and gone.out["error"]["code"] == "unknown_feature"
    assert cli("cleanup", "--feature", FEATURE).code == 1
    # the feature can be started again once the old worktree is out of the way
    git(repo, "worktree", "remove", "--force", str(_worktree(repo)))
    assert _init(cli, repo).code == 0


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["orchestrate"],
        ["orchestrate", "advance", "--feature", FEATURE],
        ["state", "show"],
        ["init", "--feature", "x", "--cwd", ".", "--design-doc", "d", "--total-phases", "two"],
    ],
)
def test_usage_errors_exit_2_with_json(cli: Cli, argv: list[str]) -> None:
    run = cli(*argv)
    assert run.code == 2
    assert run.out["error"]["code"] == "usage"
