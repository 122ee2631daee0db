"""The plan revision an approval names: find the phase's plan file, hash it, compare.

The dashboard sends the SHA-256 of the plan it showed (`InboundAction.plan_hash`). Before
`approve_plan` runs, the daemon hashes the plan file as it is on the laptop now: the phase's
`plan_path` in `<worktree>/.claude/tina/supervisor-state.json`, the worktree from
`~/.claude/tina-sessions/<feature>.json` (a relative `plan_path` is relative to the worktree).
A different hash is `plan_changed`, a file that is gone (or no plan recorded) `plan_missing`;
nothing is run then. Blocking: the handler calls `check_plan_revision` in a thread.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from tina.local import ReadError, read_session_lookup, read_supervisor_state
from tina.local.files import display_path
from tina.local.paths import state_path
from tina.messages import ActionResult, InboundAction

SHOWN = 12
"""Hex digits of a revision shown in messages."""


class _Missing(Exception):
    """No plan file to hash; the message says why."""


def plan_file(claude_dir: Path, feature: str, phase: str) -> Path:
    """The plan file of `phase` as the orchestration's state records it; `_Missing` if the
    orchestration, its state or the phase's plan path cannot be found."""
    lookup = claude_dir / "tina-sessions" / f"{feature}.json"
    try:
        worktree = Path(read_session_lookup(lookup).worktree_path)
    except ReadError as exc:
        raise _Missing(
            f"the orchestration {feature} cannot be found on the laptop ({exc})"
        ) from None
    try:
        state = read_supervisor_state(state_path(worktree))
    except ReadError as exc:
        raise _Missing(f"the orchestration's state cannot be read ({exc})") from None
    recorded = state.phase(phase)
    if recorded is None or not recorded.plan_path:
        raise _Missing(f"no plan is recorded for phase {phase} in {state_path(worktree)}")
    return worktree / recorded.plan_path  # an absolute plan_path stays as it is


def file_sha256(path: Path) -> str | None:
    """The SHA-256 (hex) of a regular file's bytes; None if it does not exist. Never blocks on
    a FIFO (opened with O_NONBLOCK and checked to be a regular file); OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{display_path(path)} is not a regular file")
        return hashlib.file_digest(file, "sha256").hexdigest()


def check_plan_revision(action: InboundAction, claude_dir: Path) -> ActionResult | None:
    """None when `action` may run: it is not an approval naming a revision, or the plan on the
    laptop is that revision. Otherwise the failed result (`plan_changed`, `plan_missing`,
    `plan_unreadable`)."""
    if action.type != "approve_plan" or action.plan_hash is None:
        return None
    assert action.feature is not None
    assert action.phase is not None
    shown = action.plan_hash[:SHOWN]
    try:
        path = plan_file(claude_dir, action.feature, action.phase)
        now = file_sha256(path)
    except _Missing as exc:
        return ActionResult(
            ok=False,
            code="plan_missing",
            message=f"the plan of phase {action.phase} is gone from the laptop: {exc} (shown "
            f"revision {shown}); nothing was approved",
        )
    except OSError as exc:
        return ActionResult(
            ok=False,
            code="plan_unreadable",
            message=f"cannot read the plan of phase {action.phase} to check its revision: "
            f"{exc.strerror or exc}",
        )
    if now is None:
        return ActionResult(
            ok=False,
            code="plan_missing",
            message=f"the plan of phase {action.phase} is gone from the laptop "
            f"({display_path(path)}; shown revision {shown}); nothing was approved",
        )
    if now != action.plan_hash:
        return ActionResult(
            ok=False,
            code="plan_changed",
            message=f"the plan of phase {action.phase} changed on the laptop since it was shown "
            f"(shown revision {shown}, now {now[:SHOWN]}); read it again before approving",
        )
    return None
