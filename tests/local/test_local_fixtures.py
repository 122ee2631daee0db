"""Every real-world variant in tests/fixtures is read correctly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tina.local import (
    OrchestrationStatus,
    PhaseStatus,
    PlanApproval,
    ReadError,
    TaskStatus,
    VerdictResult,
    encode_session_lookup,
    encode_supervisor_state,
    parse_session_lookup,
    parse_supervisor_state,
    read_journal,
    read_phase_status,
    read_session_lookup,
    read_supervisor_state,
    read_task,
    read_team_config,
)


def test_state_with_design_doc_of_the_original(fixtures: Path) -> None:
    state = read_supervisor_state(fixtures / "state/design-doc-145b20a.json")
    assert state.spec_doc.endswith("billing-export-design.md")
    assert state.status is OrchestrationStatus.PLANNING
    assert state.phase_keys() == ["1", "1.5"]
    phase = state.phases["1"]
    assert phase.status is PhaseStatus.COMPLETE
    assert phase.breakdown.execution_mins == 27
    assert phase.completed_at == datetime(2026, 2, 7, 16, 49, 51, 772120, tzinfo=UTC)
    assert state.phases["1.5"].planning_started_at is not None
    assert state.model_policy.executor == "haiku"
    assert state.timing.gaps == ()
    assert not state.paused


def test_state_with_spec_doc_and_head_fields(fixtures: Path) -> None:
    state = read_supervisor_state(fixtures / "state/spec-doc-head.json")
    assert state.spec_doc.startswith("convex://")
    assert state.spec_id == "k57d9s8a1b2c3d4e5f6a7b8c9d0e1f2"
    assert state.review_policy is not None
    assert state.review_policy["enforcement"] == "task_and_phase"
    assert state.model_policy.review_consensus is True
    phase1, phase2 = state.phases["1"], state.phases["2"]
    assert [v.result for v in phase1.review_verdicts] == [VerdictResult.PASS] * 2
    # nine fractional digits are truncated to microseconds; "+00:00" and "Z" both read as UTC
    assert phase1.planning_started_at == datetime(2026, 2, 13, 10, 16, tzinfo=UTC)
    assert phase1.execution_started_at == datetime(2026, 2, 13, 10, 20, 44, tzinfo=UTC)
    assert phase2.in_phase_repair_loops == 1
    assert phase2.blocked_reason is not None
    assert phase2.blocked_reason.startswith("in_phase_repair:")
    assert state.orchestration_started_at.tzinfo is UTC


def test_state_with_tina_additions(fixtures: Path) -> None:
    state = read_supervisor_state(fixtures / "state/tina-paused-gated.json")
    assert state.approval_policy.require_plan_approval is True
    assert state.paused and state.paused_from is OrchestrationStatus.PLANNING
    assert state.paused_phase == "1"
    phase = state.phases["1"]
    assert phase.paused_from is PhaseStatus.PLANNED
    assert phase.plan_approval is PlanApproval.PENDING
    assert phase.plan_feedback == ("split the migration step",)
    assert phase.retry_count == 1
    # policies default field by field
    assert state.model_policy.executor == "sonnet"
    assert state.model_policy.planner == "opus"


@pytest.mark.parametrize(
    "name", ["design-doc-145b20a.json", "spec-doc-head.json", "tina-paused-gated.json"]
)
def test_state_round_trips_through_the_writer(fixtures: Path, name: str) -> None:
    state = read_supervisor_state(fixtures / "state" / name)
    written = encode_supervisor_state(state)
    # Both eras' key for the spec path, same value: 145b20a needs design_doc, HEAD spec_doc.
    doc = json.loads(written)
    assert doc["design_doc"] == doc["spec_doc"] == state.spec_doc
    keys = list(doc)
    assert keys[:4] == ["version", "feature", "design_doc", "spec_doc"]
    assert parse_supervisor_state(written) == state
    # unknown keys of the input are not carried over
    assert b"some_future_field" not in written


def test_session_lookup_with_cwd_backfills_repo_root(fixtures: Path) -> None:
    lookup = read_session_lookup(fixtures / "sessions/cwd-145b20a.json")
    assert lookup.worktree_path == "/home/dev/acme/.worktrees/billing-export"
    assert lookup.repo_root == "/home/dev/acme"
    assert lookup.created_at == datetime(2026, 2, 7, 16, 3, 12, 401877, tzinfo=UTC)


def test_session_lookup_is_written_for_both_eras(fixtures: Path) -> None:
    """The original at 145b20a reads `cwd` (the worktree); later versions `worktree_path`."""
    lookup = read_session_lookup(fixtures / "sessions/cwd-145b20a.json")
    doc = json.loads(encode_session_lookup(lookup))
    assert list(doc) == ["feature", "cwd", "worktree_path", "repo_root", "created_at"]
    assert doc["cwd"] == doc["worktree_path"] == "/home/dev/acme/.worktrees/billing-export"
    assert doc["created_at"] == "2026-02-07T16:03:12.401877Z"
    assert parse_session_lookup(encode_session_lookup(lookup)) == lookup


def test_session_lookup_with_worktree_path(fixtures: Path) -> None:
    lookup = read_session_lookup(fixtures / "sessions/worktree-path.json")
    assert lookup.worktree_path.endswith("/.worktrees/billing-export")
    assert lookup.repo_root == "/home/dev/acme"


def test_phase_status_reason_key_written_by_the_skill(fixtures: Path) -> None:
    status = read_phase_status(fixtures / "phase-status/skill-blocked-reason.json")
    assert status.known_status is PhaseStatus.BLOCKED
    assert status.reason == "verify gate failed: 3 tests fail"
    assert status.gate == "verify"
    assert status.context == {"failing": ["test_export_csv", "test_export_empty", "test_totals"]}
    assert status.blocked_at == datetime(2026, 2, 7, 16, 40, tzinfo=UTC)


def test_phase_status_blocked_reason_key(fixtures: Path) -> None:
    status = read_phase_status(fixtures / "phase-status/rust-blocked-reason.json")
    assert status.reason == "executor session died"
    assert status.git_range is None
    assert status.heartbeat_at is not None


def test_team_with_dotted_name_in_process_member_and_lead_without_model(fixtures: Path) -> None:
    team = read_team_config(fixtures / "teams/billing-export-phase-1-5/config.json")
    assert team.name == "billing-export-phase-1.5"
    assert team.dir_name == "billing-export-phase-1-5"
    assert team.description is None
    assert team.created_at == datetime.fromtimestamp(1770483000, tz=UTC)
    lead, executor = team.members
    assert lead.model is None
    assert lead.agent_type is None
    assert lead.subscriptions == ()
    assert lead.tmux_pane is None and not lead.in_process
    assert executor.tmux_pane_id == "in-process"
    assert executor.in_process and executor.tmux_pane is None
    assert executor.model == "claude-sonnet-4-5"
    assert executor.color == "blue"


def test_team_with_tmux_panes(fixtures: Path) -> None:
    team = read_team_config(fixtures / "teams/billing-export-orchestration/config.json")
    assert [m.tmux_pane for m in team.members] == ["%17", "%18"]
    assert team.members[1].subscriptions == ("team-lead",)
    assert team.lead_session_id == "6c0f3f7e-52b1-4d0a-9a3e-0b7d1e9c2f41"


def test_tasks_including_unknown_status_and_null_fields(fixtures: Path) -> None:
    directory = fixtures / "tasks/billing-export-phase-1-5"
    first, deleted, finalize = (read_task(directory / f"{n}.json") for n in (1, 2, 3))
    assert first.known_status is TaskStatus.IN_PROGRESS
    assert first.metadata["feature_name"] == "billing-export"
    assert first.blocks == ("2",)
    assert deleted.status == "deleted"
    assert deleted.known_status is None
    assert finalize.owner is None and finalize.active_form is None
    assert finalize.blocks == ()
    assert finalize.metadata is None
    assert finalize.canonical() == {
        "status": "pending",
        "subject": "finalize",
        "owner": None,
        "description": "",
        "blockedBy": ["1", "2"],
        "metadata": None,
    }


def test_journal_with_a_line_still_being_written(fixtures: Path) -> None:
    path = fixtures / "journal/events.jsonl"
    chunk = read_journal(path)
    assert [e.type for e in chunk.entries] == ["orchestration_started", "phase_started"]
    assert chunk.errors == ()
    data = path.read_bytes()
    assert chunk.end == data.rfind(b"\n") + 1 < len(data)
    # tailing from the returned offset yields nothing new until the line is finished
    again = read_journal(path, offset=chunk.end)
    assert again.entries == () and again.end == chunk.end


def test_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as info:
        read_team_config(tmp_path / "nope" / "config.json")
    assert info.value.path.endswith("config.json")
    assert "no such file" in str(info.value)
