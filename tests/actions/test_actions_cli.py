"""The daemon's handlers against the real `tina-session` console script (no fake CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tina.convex.actions import action_from_wire
from tina.daemon.actions import HandlerEnv, run_action

TINA_SESSION = Path(sys.executable).parent / "tina-session"
FEATURE = "billing-export"


def _git(repo: Path, *args: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def _tina_session(henv: HandlerEnv, *args: str) -> str:
    proc = subprocess.run(
        [str(TINA_SESSION), *args],
        env=dict(henv.env),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def _action(stdout: str) -> dict[str, Any]:
    assert stdout.count("\n") == 1 and stdout.endswith("\n")
    out: dict[str, Any] = json.loads(stdout)
    return out


@pytest.fixture
def awaiting_approval(tmp_path: Path) -> tuple[HandlerEnv, Path]:
    """An orchestration whose phase 1 plan waits for the operator, made by the real CLI."""
    repo = tmp_path / "acme"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "billing-export-design.md").write_text("# Billing export\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "initial")
    henv = HandlerEnv.build(
        claude_dir=tmp_path / "claude",
        tina_session=str(TINA_SESSION),
        tmux_socket=None,
        timeout=60,
    )
    printed = _tina_session(
        henv, "init", "--feature", FEATURE, "--cwd", str(repo),
        "--design-doc", str(repo / "docs" / "billing-export-design.md"),
        "--total-phases", "2", "--require-plan-approval",
    )  # fmt: skip
    worktree = repo / ".worktrees" / FEATURE
    assert printed == f"{worktree}\n"
    advance = ("orchestrate", "advance", "--feature", FEATURE)
    _tina_session(henv, *advance, "--phase", "validation", "--event", "validation_pass")
    plan = worktree / "docs" / "plans" / "phase-1.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text("# Phase 1 plan\n")
    waiting = _action(
        _tina_session(
            henv, *advance, "--phase", "1", "--event", "plan_complete", "--plan-path", str(plan)
        )
    )
    assert waiting == {"action": "wait", "reason": "phase 1 plan awaiting approval"}
    return henv, worktree


@pytest.mark.parametrize("feedback", ["-h", "--event=retry", "--", "- leading dash", "--issues"])
async def test_reject_plan_feedback_that_looks_like_an_option_arrives_verbatim(
    feedback: str, awaiting_approval: tuple[HandlerEnv, Path]
) -> None:
    henv, worktree = awaiting_approval
    action = action_from_wire(
        {
            "_id": "act1",
            "type": "reject_plan",
            "expiresAt": 4e12,
            "payload": {"feature": FEATURE, "phase": "1", "feedback": feedback},
        }
    )
    result = await run_action(action, henv)
    assert result.ok, result
    assert (
        result.message == f"reject_plan applied to phase 1 of {FEATURE}; next action: spawn_planner"
    )
    assert (result.output or "") == json.dumps(
        {"action": "spawn_planner", "phase": "1", "issues": [feedback]}, separators=(",", ":")
    )
    assert json.loads(result.output or "") == {
        "action": "spawn_planner",
        "phase": "1",
        "issues": [feedback],
    }
    state = json.loads((worktree / ".claude" / "tina" / "supervisor-state.json").read_text())
    assert state["phases"]["1"]["plan_feedback"] == [feedback]
    assert state["phases"]["1"]["status"] == "planning"


async def test_refused_action_reports_the_cli_error(
    awaiting_approval: tuple[HandlerEnv, Path],
) -> None:
    """A transition the state machine refuses: the reason is the CLI's `Error:` message."""
    henv, worktree = awaiting_approval
    state_file = worktree / ".claude" / "tina" / "supervisor-state.json"
    before = state_file.read_bytes()
    action = action_from_wire(
        {
            "_id": "act2",
            "type": "approve_plan",
            "expiresAt": 4e12,
            "payload": {"feature": FEATURE, "phase": "2"},
        }
    )
    result = await run_action(action, henv)
    assert (result.ok, result.code, result.exit_code) == (False, "cli_exit_non_zero", 1)
    assert result.message == "Phase '2' not found in supervisor state"
    assert state_file.read_bytes() == before
