"""`main(argv)` called in-process: the same JSON contract, for quick checks of edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tina.local import encode_session_lookup, encode_supervisor_state, paths
from tina.local.models import SessionLookup
from tina.session.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

from .conftest import make_state


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return code, out


def _install(worktree: Path, state_bytes: bytes, feature: str = "billing-export") -> None:
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
    state = make_state(worktree_path=str(worktree))
    whole = encode_supervisor_state(state)
    _install(worktree, whole[: len(whole) // 2])
    code, out = _run(capsys, "orchestrate", "next", "--feature", "billing-export")
    assert code == EXIT_FAILED
    assert out["error"]["code"] == "state_unreadable"
    assert "supervisor-state.json" in out["error"]["message"]
    assert "truncated" in out["error"]["message"]
    # once the file is whole again, the same command works
    paths.state_path(worktree).write_bytes(whole)
    code, out = _run(capsys, "orchestrate", "next", "--feature", "billing-export")
    assert (code, out) == (
        EXIT_OK,
        {"ok": True, "feature": "billing-export", "action": "spawn_validator"},
    )


def test_state_of_another_feature_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    other = make_state(worktree_path=str(worktree), feature="someone-else")
    _install(worktree, encode_supervisor_state(other))
    code, out = _run(
        capsys, "orchestrate", "advance", "--feature", "billing-export", "--phase", "validation",
        "--event", "validation_pass",
    )  # fmt: skip
    assert code == EXIT_FAILED and "someone-else" in out["error"]["message"]
    assert paths.state_path(worktree).read_bytes() == encode_supervisor_state(other)


def test_original_lookup_with_cwd_and_design_doc_state_is_driven(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Files written by the original tool (cwd, design_doc) are read and then upgraded."""
    worktree = tmp_path / "wt"
    original = json.loads(encode_supervisor_state(make_state(worktree_path=str(worktree))))
    original["design_doc"] = original.pop("spec_doc")
    for key in ("approval_policy",):
        original.pop(key)
    lookup_path = paths.session_lookup_path("billing-export")
    lookup_path.parent.mkdir(parents=True)
    lookup_path.write_text(json.dumps({"feature": "billing-export", "cwd": str(worktree)}))
    paths.state_path(worktree).parent.mkdir(parents=True)
    paths.state_path(worktree).write_text(json.dumps(original))
    code, out = _run(
        capsys, "orchestrate", "advance", "--feature", "billing-export", "--phase", "validation",
        "--event", "validation_pass",
    )  # fmt: skip
    assert code == EXIT_OK and out["action"] == "spawn_planner"
    written = json.loads(paths.state_path(worktree).read_text())
    assert written["spec_doc"] == original["design_doc"] and "design_doc" not in written


def test_help_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == EXIT_OK
    assert "orchestrate" in capsys.readouterr().out
    code, out = _run(capsys, "orchestrate", "advance", "--feature", "f", "--phase", "1")
    assert code == EXIT_USAGE
    assert out["error"] == {
        "code": "usage",
        "message": "orchestrate advance: the following arguments are required: --event",
    }


def test_list_with_no_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "list") == (EXIT_OK, {"ok": True, "orchestrations": [], "errors": []})


def test_writes_go_to_the_worktree_the_state_was_read_from(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A moved repository: the file's worktree_path is stale, the lookup is right."""
    worktree = tmp_path / "moved" / "wt"
    stale = tmp_path / "old" / "wt"
    _install(worktree, encode_supervisor_state(make_state(worktree_path=str(stale))))
    code, _ = _run(
        capsys, "orchestrate", "advance", "--feature", "billing-export", "--phase", "validation",
        "--event", "validation_pass",
    )  # fmt: skip
    assert code == EXIT_OK
    assert not stale.exists()
    assert b'"1"' in paths.state_path(worktree).read_bytes()
    assert paths.journal_path(worktree).exists()
