"""`main(argv)` called in-process: edge cases of the files, help texts, and the original's eras."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from tina.local import encode_session_lookup, encode_supervisor_state, paths
from tina.local.models import OrchestrationStatus, PhaseState, PhaseStatus, SessionLookup
from tina.session.cli import build_parser, main
from tina.session.commands import orchestration

from .conftest import make_state

FEATURE = "billing-export"
FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _install(worktree: Path, state_bytes: bytes, feature: str = FEATURE) -> None:
    lookup = SessionLookup(feature=feature, worktree_path=str(worktree))
    path = paths.session_lookup_path(feature)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_session_lookup(lookup))
    state_path = paths.state_path(worktree)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_bytes(state_bytes)


def test_half_written_state_file_is_reported_not_crashed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    whole = encode_supervisor_state(make_state(worktree_path=str(worktree)))
    _install(worktree, whole[: len(whole) // 2])
    code, out, err = _run(capsys, "orchestrate", "next", "--feature", FEATURE)
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "supervisor-state.json" in err and "truncated" in err
    # once the file is whole again, the same command works
    paths.state_path(worktree).write_bytes(whole)
    assert _run(capsys, "orchestrate", "next", "--feature", FEATURE) == (
        0,
        '{"action":"spawn_validator"}\n',
        "",
    )


def test_missing_state_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    _install(worktree, b"{}")
    paths.state_path(worktree).unlink()
    for argv in (
        ("orchestrate", "next", "--feature", FEATURE),
        ("state", "show", "--feature", FEATURE),
        ("orchestrate", "advance", "--feature", FEATURE, "--phase", "1", "--event", "retry"),
    ):
        assert _run(capsys, *argv) == (
            1,
            "",
            f"Error: File not found: {paths.state_path(worktree)}\n",
        )


def test_state_of_another_feature_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    other = make_state(worktree_path=str(worktree), feature="someone-else")
    _install(worktree, encode_supervisor_state(other))
    code, out, err = _run(
        capsys, "orchestrate", "advance", "--feature", FEATURE, "--phase", "validation",
        "--event", "validation_pass",
    )  # fmt: skip
    assert (code, out) == (1, "") and "someone-else" in err
    assert paths.state_path(worktree).read_bytes() == encode_supervisor_state(other)


def test_files_of_the_original_are_driven_and_stay_readable_by_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fixtures: Path
) -> None:
    """A lookup with `cwd` and a state with `design_doc` (145b20a): read, driven, and written
    back with both eras' keys."""
    worktree = Path("/home/dev/acme/.worktrees/billing-export")
    lookup_path = paths.session_lookup_path(FEATURE)
    lookup_path.parent.mkdir(parents=True)
    moved = tmp_path / "wt"
    lookup = json.loads((fixtures / "sessions" / "cwd-145b20a.json").read_text())
    lookup["cwd"] = str(moved)
    lookup_path.write_text(json.dumps(lookup))
    paths.state_path(moved).parent.mkdir(parents=True)
    shutil.copy(fixtures / "state" / "design-doc-145b20a.json", paths.state_path(moved))
    original = json.loads(paths.state_path(moved).read_text())
    code, out, err = _run(capsys, "state", "show", "--feature", FEATURE)
    assert (code, err) == (0, "")
    assert out.startswith(f"Orchestration: {FEATURE}\n  Design: {original['design_doc']}\n")
    assert f"  Worktree: {worktree}\n" in out
    assert "  ✓ Phase 1: complete\n  ○ Phase 2: pending\n" in out
    assert out.endswith("  ○ Phase 1.5 (remediation): planning\n")
    assert _run(capsys, "orchestrate", "next", "--feature", FEATURE) == (
        0,
        '{"action":"spawn_planner","phase":"1.5"}\n',
        "",
    )
    code, out, err = _run(
        capsys, "state", "blocked", "--feature", FEATURE, "--phase", "1.5", "--reason", "disk full"
    )
    assert (code, out, err) == (0, "Phase 1.5 blocked: disk full\n", "")
    written = json.loads(paths.state_path(moved).read_text())
    assert written["design_doc"] == written["spec_doc"] == original["design_doc"]
    assert written["phases"]["1.5"]["blocked_reason"] == "disk full"
    assert written["model_policy"]["executor"] == "haiku"


def test_writes_go_to_the_worktree_the_state_was_read_from(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A moved repository: the file's worktree_path is stale, the lookup is right."""
    worktree = tmp_path / "moved" / "wt"
    stale = tmp_path / "old" / "wt"
    _install(worktree, encode_supervisor_state(make_state(worktree_path=str(stale))))
    code, out, _ = _run(
        capsys, "orchestrate", "advance", "--feature", FEATURE, "--phase", "validation",
        "--event", "validation_pass",
    )  # fmt: skip
    assert (code, out) == (0, '{"action":"spawn_planner","phase":"1"}\n')
    assert not stale.exists()
    assert b'"1"' in paths.state_path(worktree).read_bytes()
    assert paths.journal_path(worktree).exists()


def test_list_with_no_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "list") == (0, "No active orchestrations.\n", "")


def test_list_with_an_unreadable_directory(capsys: pytest.CaptureFixture[str]) -> None:
    sessions = paths.sessions_dir()
    sessions.parent.mkdir(parents=True)
    sessions.write_text("not a directory")
    code, out, err = _run(capsys, "list")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and "tina-sessions" in err and "Traceback" not in err


def test_consensus_second_reviewer_is_haiku(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    reviewing = PhaseState(status=PhaseStatus.REVIEWING, git_range="a..b")
    state = make_state(
        worktree_path=str(worktree),
        consensus=True,
        phases={"1": reviewing},
        status=OrchestrationStatus.REVIEWING,
    )
    _install(worktree, encode_supervisor_state(state))
    code, out, _ = _run(
        capsys, "orchestrate", "advance", "--feature", FEATURE, "--phase", "1",
        "--event", "review_pass",
    )  # fmt: skip
    assert (code, out) == (
        0,
        '{"action":"spawn_reviewer","phase":"1","git_range":"a..b","model":"haiku"}\n',
    )


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "orchestrate" in out
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("tina-session 0.1.1")
    code, out, err = _run(capsys, "orchestrate", "advance", "--feature", "f", "--phase", "1")
    assert (code, out) == (2, "")
    assert "the following arguments are required: --event" in err


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, sub in _subparsers(parser).items():
        found.append((*prefix, name))
        found += _walk(sub, (*prefix, name))
    return found


MINE = ("init", "state", "orchestrate", "list", "cleanup")


def test_every_command_of_this_group_has_examples_and_option_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    commands = [path for path in _walk(parser) if path[0] in MINE]
    assert ("state", "phase-complete") in commands and ("orchestrate", "advance") in commands
    for path in commands:
        sub = parser
        for name in path:
            sub = _subparsers(sub)[name]
        for action in sub._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                assert action.help, (path, action.option_strings)
        code, out, _ = _run(capsys, *path, "--help")
        assert code == 0
        assert "examples:\n  tina-session " in out, path


def test_event_list_covers_every_event() -> None:
    assert orchestration.VALID_EVENTS.startswith(
        "plan_complete, execute_complete, execute_started, review_pass, review_gaps, retry, "
        "validation_pass, validation_warning, validation_stop, error, "
    )
