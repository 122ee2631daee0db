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


@pytest.mark.parametrize(
    "feature",
    ["billing-export", "a", "verbose-flag-56979", "v1.2_x", "My-Feature", "UPPER", "x" * 100],
)
def test_valid_features(feature: str) -> None:
    """The orchestrate skill names features after design docs, so capitals occur."""
    assert validate_feature(feature) == feature


@pytest.mark.parametrize(
    "feature",
    ["", "-x", ".hidden", "_x", "a/b", "a..b", "sp ace", "x" * 101, "../etc", "a\nb", "é", "a:b"],
)
def test_invalid_features(feature: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_feature(feature)
    assert str(info.value).startswith(f"Invalid feature name {feature!r}: use 1-100 characters")
    assert "without '..'" in str(info.value)


@pytest.mark.parametrize("phase", ["1", "2", "10", "1.5", "1.5.5", "999"])
def test_valid_phases(phase: str) -> None:
    assert validate_phase(phase) == phase


@pytest.mark.parametrize(
    ("phase", "first_line"),
    [
        ("1-retry", "do not add a '-retry' suffix."),
        ("2.5-Retry", "do not add a '-retry' suffix."),
        ("phase-1", "must contain only digits and dots."),
        ("1 ", "must contain only digits and dots."),
        ("validation", "must contain only digits and dots."),
        ("", "a phase cannot be empty."),
        (".5", "cannot start or end with a dot."),
        ("1.", "cannot start or end with a dot."),
        ("1..5", "cannot have consecutive dots."),
        ("1.5.5.5", "remediation depth is limited to 2 ('1.5', '1.5.5')."),
        ("0", "expected a main phase number from 1 to 999"),
        ("2.3", "expected a main phase number from 1 to 999"),
        ("1000", "expected a main phase number from 1 to 999"),
    ],
)
def test_invalid_phases(phase: str, first_line: str) -> None:
    """The original's multi-line advice: what is wrong, a blank line, then what to use."""
    with pytest.raises(InvalidName) as info:
        validate_phase(phase)
    lines = str(info.value).split("\n")
    assert lines[0].startswith(f"Invalid phase '{phase}': {first_line}")
    assert lines[1] == ""
    assert len(lines) >= 3


@pytest.mark.parametrize(("phase", "base"), [("1-retry", "1"), ("2.5-retry", "2.5")])
def test_retry_suffix_advice_names_the_phase_to_use(phase: str, base: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_phase(phase)
    assert str(info.value) == (
        f"Invalid phase '{phase}': do not add a '-retry' suffix.\n"
        "\n"
        "Retries reuse the same phase number:\n"
        f"- the phase itself: use '{base}'\n"
        f"- its remediation: '{base}.5' (created by the orchestrator after a failed review)"
    )


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
