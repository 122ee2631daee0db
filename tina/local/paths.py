"""Where tina and Claude Code keep their local files.

Everything resolves from the home directory (``Path.home()``, i.e. ``$HOME``) at call time, so
tests can point ``HOME`` at a temporary directory. ``TINA_CLAUDE_DIR`` overrides ``~/.claude``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .names import phase_tmux_session as phase_tmux_session
from .names import team_dir_name as team_dir_name

__all__ = [
    "CLAUDE_DIR_ENV",
    "claude_dir",
    "inbox_dir",
    "inbox_path",
    "journal_path",
    "phase_status_path",
    "phase_tmux_session",
    "plans_dir",
    "session_lookup_path",
    "sessions_dir",
    "state_lock_path",
    "state_path",
    "task_dir",
    "tasks_dir",
    "team_config_path",
    "team_dir_name",
    "teams_dir",
    "tina_dir",
    "worktree_path_for",
    "worktrees_dir",
]

CLAUDE_DIR_ENV = "TINA_CLAUDE_DIR"


def claude_dir(env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude``, or ``$TINA_CLAUDE_DIR`` when set."""
    environ = os.environ if env is None else env
    override = environ.get(CLAUDE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    home = environ.get("HOME") if env is not None else None
    return (Path(home) if home else Path.home()) / ".claude"


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude/tina-sessions``: one session lookup per feature."""
    return claude_dir(env) / "tina-sessions"


def session_lookup_path(feature: str, env: Mapping[str, str] | None = None) -> Path:
    return sessions_dir(env) / f"{feature}.json"


def teams_dir(env: Mapping[str, str] | None = None) -> Path:
    return claude_dir(env) / "teams"


def tasks_dir(env: Mapping[str, str] | None = None) -> Path:
    return claude_dir(env) / "tasks"


def team_config_path(team_name: str, env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude/teams/<team dir>/config.json``; the directory name has dots as dashes."""
    return teams_dir(env) / team_dir_name(team_name) / "config.json"


def task_dir(team_name: str, env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude/tasks/<team dir>/``: one ``<id>.json`` per task."""
    return tasks_dir(env) / team_dir_name(team_name)


def inbox_dir(team_name: str, env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude/teams/<team dir>/inboxes/``: one ``<agent name>.json`` per member, created on
    its first message (the directory may not exist)."""
    return teams_dir(env) / team_dir_name(team_name) / "inboxes"


def inbox_path(team_name: str, agent: str, env: Mapping[str, str] | None = None) -> Path:
    """``~/.claude/teams/<team dir>/inboxes/<agent name>.json`` (``team-lead.json`` for the
    lead)."""
    return inbox_dir(team_name, env) / f"{agent}.json"


def worktrees_dir(repo_root: Path) -> Path:
    return repo_root / ".worktrees"


def worktree_path_for(repo_root: Path, feature: str) -> Path:
    return worktrees_dir(repo_root) / feature


def tina_dir(worktree: Path) -> Path:
    """``<worktree>/.claude/tina``: state file, events journal, phase status files."""
    return worktree / ".claude" / "tina"


def state_path(worktree: Path) -> Path:
    return tina_dir(worktree) / "supervisor-state.json"


def state_lock_path(worktree: Path) -> Path:
    """Lock file serialising tina-session commands on one worktree."""
    return tina_dir(worktree) / "state.lock"


def journal_path(worktree: Path) -> Path:
    """Append-only orchestration events journal (JSON lines)."""
    return tina_dir(worktree) / "events.jsonl"


def phase_status_path(worktree: Path, phase: str) -> Path:
    """``phase-<phase>/status.json``; the directory keeps the dot (``phase-1.5``)."""
    return tina_dir(worktree) / f"phase-{phase}" / "status.json"


def plans_dir(worktree: Path) -> Path:
    return worktree / "docs" / "plans"
