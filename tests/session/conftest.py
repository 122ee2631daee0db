from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.local.models import (
    ApprovalPolicy,
    ModelPolicy,
    OrchestrationStatus,
    PhaseState,
    SupervisorState,
)

T0 = datetime(2026, 2, 7, 16, 0, tzinfo=UTC)


def make_state(
    *,
    total_phases: int = 2,
    phases: dict[str, PhaseState] | None = None,
    status: OrchestrationStatus = OrchestrationStatus.PLANNING,
    gate: bool = False,
    consensus: bool = False,
    **changes: Any,
) -> SupervisorState:
    state = SupervisorState(
        feature="billing-export",
        spec_doc="/repo/docs/spec.md",
        worktree_path="/repo/.worktrees/billing-export",
        branch="tina/billing-export",
        total_phases=total_phases,
        current_phase=1,
        status=status,
        orchestration_started_at=T0,
        phases=dict(phases or {}),
        model_policy=ModelPolicy(review_consensus=consensus),
        approval_policy=ApprovalPolicy(require_plan_approval=gate),
    )
    return attrs.evolve(state, **changes)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is a temporary directory: no test touches the real ~/.claude or tmux server."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("TINA_CLAUDE_DIR", "TINA_TMUX_SOCKET", "TMUX"):
        monkeypatch.delenv(name, raising=False)
    return home


def tina_session_argv() -> list[str]:
    script = Path(sys.executable).parent / "tina-session"
    if not script.exists():  # pragma: no cover - the console script is installed by pip -e
        raise RuntimeError("tina-session is not installed; run `pip install -e '.[dev]'`")
    return [str(script)]


class Cli:
    """The isolated environment (HOME, tmux directory, cwd) tests run `tina-session` in."""

    def __init__(self, home: Path, cwd: Path) -> None:
        # Even the default tmux server would live in a temporary directory.
        tmux_dir = cwd / "tmux-default"
        tmux_dir.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
            "TMUX_TMPDIR": str(tmux_dir),
        }
        self.cwd = cwd


def git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit and a design doc."""
    path = tmp_path / "acme"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "docs").mkdir()
    (path / "docs" / "billing-export-design.md").write_text("# Billing export\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def cli(home: Path, tmp_path: Path) -> Cli:
    return Cli(home, tmp_path)
