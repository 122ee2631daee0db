"""approve_plan names the plan revision the operator read: a changed or missing plan is not
approved, and tina-session is not run (a fake tina-session records whether it ran)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tina.convex.actions import action_from_wire
from tina.daemon.actions import HandlerEnv, run_action
from tina.messages import InboundAction

PLAN = b"# Phase 1\n\n1. Add the export table.\n"


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "wt"
    (path / ".claude" / "tina").mkdir(parents=True)
    (path / "docs" / "plans").mkdir(parents=True)
    return path


@pytest.fixture
def henv(tmp_path: Path, worktree: Path) -> HandlerEnv:
    claude = tmp_path / "claude"
    (claude / "tina-sessions").mkdir(parents=True)
    (claude / "tina-sessions" / "f.json").write_text(
        json.dumps(
            {"feature": "f", "worktree_path": str(worktree), "created_at": "2026-02-07T16:00:00Z"}
        )
    )
    script = tmp_path / "fake-tina-session"
    script.write_text(
        '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/argv.txt"\necho \'{"action":"x"}\'\n'
    )
    script.chmod(0o755)
    return HandlerEnv.build(
        claude_dir=claude, tina_session=str(script), tmux_socket=None, timeout=5
    )


def ran(tmp_path: Path) -> list[str] | None:
    argv = tmp_path / "argv.txt"
    return argv.read_text().split() if argv.exists() else None


def write_state(worktree: Path, phases: dict[str, Any]) -> None:
    state = {
        "version": 1,
        "feature": "f",
        "design_doc": str(worktree / "docs" / "design.md"),
        "worktree_path": str(worktree),
        "branch": "tina/f",
        "total_phases": 2,
        "current_phase": 1,
        "status": "planning",
        "orchestration_started_at": "2026-02-07T16:03:12.418205Z",
        "phases": phases,
    }
    (worktree / ".claude" / "tina" / "supervisor-state.json").write_text(json.dumps(state))


def planned(plan_path: str) -> dict[str, Any]:
    return {"status": "planned", "plan_path": plan_path, "plan_approval": "pending"}


def approve(plan_hash: str | None, kind: str = "approve_plan", phase: str = "1") -> InboundAction:
    payload: dict[str, Any] = {"feature": "f", "phase": phase}
    if plan_hash is not None:
        payload["planHash"] = plan_hash
    if kind == "reject_plan":
        payload["feedback"] = "split it"
    return action_from_wire({"_id": "a1", "type": kind, "payload": payload})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("where", ["relative", "absolute"])
async def test_the_revision_that_was_shown_is_approved(
    tmp_path: Path, worktree: Path, henv: HandlerEnv, where: str
) -> None:
    plan = worktree / "docs" / "plans" / "phase-1.md"
    plan.write_bytes(PLAN)
    write_state(
        worktree, {"1": planned("docs/plans/phase-1.md" if where == "relative" else str(plan))}
    )
    result = await run_action(approve(sha(PLAN)), henv)
    assert (result.ok, result.code) == (True, "ok"), result
    assert ran(tmp_path) == [
        "orchestrate",
        "advance",
        "--feature=f",
        "--phase=1",
        "--event=plan_approved",
    ]


async def test_a_plan_changed_since_it_was_shown_is_not_approved(
    tmp_path: Path, worktree: Path, henv: HandlerEnv
) -> None:
    plan = worktree / "docs" / "plans" / "phase-1.md"
    plan.write_bytes(PLAN)
    write_state(worktree, {"1": planned("docs/plans/phase-1.md")})
    shown = sha(PLAN)
    changed = PLAN + b"2. Drop the old table.\n"
    plan.write_bytes(changed)
    result = await run_action(approve(shown), henv)
    assert (result.ok, result.code) == (False, "plan_changed"), result
    assert result.message == (
        f"the plan of phase 1 changed on the laptop since it was shown (shown revision "
        f"{shown[:12]}, now {sha(changed)[:12]}); read it again before approving"
    )
    assert ran(tmp_path) is None  # nothing was run


async def test_a_plan_that_is_gone_is_not_approved(
    tmp_path: Path, worktree: Path, henv: HandlerEnv
) -> None:
    write_state(worktree, {"1": planned("docs/plans/phase-1.md"), "2": {"status": "planning"}})
    gone = await run_action(approve(sha(PLAN)), henv)
    assert (gone.ok, gone.code) == (False, "plan_missing"), gone
    assert "phase-1.md" in gone.message and sha(PLAN)[:12] in gone.message
    unrecorded = await run_action(approve(sha(PLAN), phase="2"), henv)
    assert (unrecorded.ok, unrecorded.code) == (False, "plan_missing"), unrecorded
    assert "no plan is recorded for phase 2" in unrecorded.message
    assert ran(tmp_path) is None


async def test_a_plan_path_that_is_not_a_file_is_unreadable_not_approved(
    tmp_path: Path, worktree: Path, henv: HandlerEnv
) -> None:
    (worktree / "docs" / "plans" / "phase-1.md").mkdir()
    write_state(worktree, {"1": planned("docs/plans/phase-1.md")})
    result = await run_action(approve(sha(PLAN)), henv)
    assert (result.ok, result.code) == (False, "plan_unreadable"), result
    assert ran(tmp_path) is None


async def test_reject_and_an_approval_without_a_revision_are_not_checked(
    tmp_path: Path, worktree: Path, henv: HandlerEnv
) -> None:
    plan = worktree / "docs" / "plans" / "phase-1.md"
    plan.write_bytes(PLAN + b"changed\n")
    write_state(worktree, {"1": planned("docs/plans/phase-1.md")})
    rejected = await run_action(approve(sha(PLAN), kind="reject_plan"), henv)
    assert (rejected.ok, rejected.code) == (True, "ok"), rejected
    assert ran(tmp_path) is not None
    (tmp_path / "argv.txt").unlink()
    plan.unlink()
    unnamed = await run_action(approve(None), henv)
    assert (unnamed.ok, unnamed.code) == (True, "ok"), unnamed
    assert "--event=plan_approved" in (ran(tmp_path) or [])
