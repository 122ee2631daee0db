from __future__ import annotations

from pathlib import Path

import pytest

from tina.local import paths
from tina.local.names import (
    InvalidName,
    phase_sort_key,
    phase_team_name,
    phase_tmux_session,
    remediation_depth,
    team_dir_name,
    validate_feature,
    validate_phase,
)


@pytest.mark.parametrize("feature", ["billing-export", "a", "verbose-flag-56979", "v1.2_x"])
def test_valid_features(feature: str) -> None:
    assert validate_feature(feature) == feature


@pytest.mark.parametrize(
    "feature",
    ["", "-x", ".hidden", "a/b", "a..b", "UPPER", "sp ace", "x" * 65, "../etc", "a\nb", "é"],
)
def test_invalid_features(feature: str) -> None:
    with pytest.raises(InvalidName, match="invalid feature name"):
        validate_feature(feature)


@pytest.mark.parametrize("phase", ["1", "2", "10", "1.5", "1.5.5", "999"])
def test_valid_phases(phase: str) -> None:
    assert validate_phase(phase) == phase


@pytest.mark.parametrize(
    ("phase", "hint"),
    [
        ("1-retry", "-retry"),
        ("phase-1", "-retry"),
        ("1 ", "spaces"),
        ("0", None),
        ("1.5.5.5", "depth"),
        ("2.3", None),
        ("1..5", None),
        (".5", None),
        ("1.", None),
        ("", None),
        ("validation", "-retry"),
    ],
)
def test_invalid_phases(phase: str, hint: str | None) -> None:
    with pytest.raises(InvalidName) as info:
        validate_phase(phase)
    assert f"invalid phase {phase!r}" in str(info.value)
    if hint:
        assert hint in str(info.value)


def test_phase_helpers() -> None:
    assert sorted(["2", "1.5.5", "10", "1", "1.5"], key=phase_sort_key) == [
        "1",
        "1.5",
        "1.5.5",
        "2",
        "10",
    ]
    assert remediation_depth("1.5.5") == 2
    assert phase_team_name("billing-export", "1.5") == "billing-export-phase-1.5"
    assert team_dir_name("billing-export-phase-1.5") == "billing-export-phase-1-5"
    assert phase_tmux_session("billing-export", "1.5") == "tina-billing-export-phase-1_5"
    assert phase_tmux_session("v1.2", "2") == "tina-v1_2-phase-2"


def test_paths_follow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.claude_dir() == tmp_path / ".claude"
    assert paths.session_lookup_path("f") == tmp_path / ".claude/tina-sessions/f.json"
    assert (
        paths.team_config_path("f-phase-1.5") == tmp_path / ".claude/teams/f-phase-1-5/config.json"
    )
    assert paths.task_dir("f-phase-1.5") == tmp_path / ".claude/tasks/f-phase-1-5"


def test_claude_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINA_CLAUDE_DIR", str(tmp_path / "claude"))
    assert paths.teams_dir() == tmp_path / "claude/teams"
    assert paths.claude_dir({"HOME": "/h"}) == Path("/h/.claude")
    assert paths.claude_dir({"HOME": "/h", "TINA_CLAUDE_DIR": "/c"}) == Path("/c")


def test_worktree_paths() -> None:
    worktree = paths.worktree_path_for(Path("/r"), "f")
    assert worktree == Path("/r/.worktrees/f")
    assert paths.state_path(worktree) == worktree / ".claude/tina/supervisor-state.json"
    assert paths.journal_path(worktree) == worktree / ".claude/tina/events.jsonl"
    assert (
        paths.phase_status_path(worktree, "1.5") == worktree / ".claude/tina/phase-1.5/status.json"
    )
    assert paths.plans_dir(worktree) == worktree / "docs/plans"
