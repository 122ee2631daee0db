"""What the daemon sends Convex for the file shapes real Claude Code agent teams write
(tests/fixtures/real-shapes): the member and task fields beyond the first readers' view, on the
wire (camelCase, None left out) and through the outbox (its own snake_case format)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.convex.wire import make_converter
from tina.daemon.projection import task_snapshot, team_snapshot
from tina.daemon.sync.coalescer import TeamItem
from tina.daemon.sync.outbox import decode, encode
from tina.local import Task, TeamMember, parse_task, parse_team_config
from tina.local.models import TeamConfig
from tina.messages import MemberSnapshot, TaskSnapshot

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes"
WIRE = make_converter()


def _members(team: str) -> dict[str, dict[str, Any]]:
    path = REAL / "teams" / team / "config.json"
    _, members = team_snapshot(parse_team_config(path.read_bytes(), path=str(path)), team)
    return {m.agent_name: WIRE.unstructure(m) for m in members}


def _task(task_id: str) -> dict[str, Any]:
    path = REAL / "tasks/docs-refresh" / f"{task_id}.json"
    out: dict[str, Any] = WIRE.unstructure(
        task_snapshot(parse_task(path.read_bytes(), path=str(path)))
    )
    return out


def test_docs_refresh_members_carry_activity_backend_color_plan_mode_and_reach() -> None:
    members = _members("docs-refresh")
    lead = members["team-lead"]
    assert lead["reach"] == "lead"
    for absent in ("isActive", "backendType", "color", "planModeRequired"):
        assert absent not in lead  # absent in the file: absent on the wire, never null
    assert members["writer"] == {
        "agentId": "writer@docs-refresh",
        "agentName": "writer",
        "agentType": "general-purpose",
        "model": "sonnet",
        "joinedAt": 1770890461000.0,
        "tmuxPaneId": "in-process",
        "cwd": "/home/dev/shop",
        "isActive": False,
        "backendType": "in-process",
        "color": "blue",
        "planModeRequired": True,
        "reach": "in_process",
    }
    checker = members["checker"]
    assert checker["isActive"] is True
    assert checker["planModeRequired"] is False
    assert (checker["backendType"], checker["color"], checker["reach"]) == ("tmux", "green", "pane")
    assert "joinedAt" not in checker and "cwd" not in checker


def test_later_build_lead_is_reached_as_lead_and_a_custom_agent_by_its_pane() -> None:
    members = _members("session-7c1e0b2a")
    assert members["team-lead"]["reach"] == "lead"
    assert members["team-lead"]["backendType"] == "in-process"
    assert "model" not in members["team-lead"]
    profiler = members["profiler"]
    assert (profiler["reach"], profiler["tmuxPaneId"], profiler["color"]) == (
        "pane",
        "%14",
        "purple",
    )
    assert profiler["planModeRequired"] is False
    assert "isActive" not in profiler


def test_abandoned_spike_leaves_out_what_is_not_a_boolean_and_has_no_reach_for_iterm2() -> None:
    members = _members("abandoned-spike")
    assert members["team-lead"]["reach"] == "lead"
    assert "tmuxPaneId" not in members["team-lead"]
    researcher = members["researcher"]
    assert researcher["isActive"] is False
    assert "planModeRequired" not in researcher  # "yes" in the file
    reader = members["reader"]
    assert (reader["reach"], reader["backendType"], reader["color"]) == ("none", "iterm2", "cyan")
    assert "isActive" not in reader  # 1 in the file


def test_teammate_tracker_is_sent_as_internal() -> None:
    tracker = _task("1")
    assert tracker["internal"] is True
    assert tracker["subject"] == "writer"
    assert "createdAt" not in tracker and "updatedAt" not in tracker


def test_ordinary_tasks_carry_their_times_and_no_internal_flag() -> None:
    task = _task("2")
    assert (task["createdAt"], task["updatedAt"]) == (1770890520000.0, 1770890733000.0)
    assert "internal" not in task
    # `_internal: false` is an ordinary task; a non-timestamp and a null time are left out.
    ten = _task("10")
    assert "internal" not in ten
    assert "createdAt" not in ten and "updatedAt" not in ten
    assert _task("11")["createdAt"] == 1770891000000.0


def test_a_deleted_task_is_sent_with_its_status_for_convex_to_remove() -> None:
    deleted = _task("3")
    assert deleted["status"] == "deleted"
    assert deleted["updatedAt"] == 1770890801000.0


def test_an_ordinary_task_looks_on_the_wire_as_before() -> None:
    snap = task_snapshot(Task(id="1", subject="s", status="pending"))
    assert WIRE.unstructure(snap) == {
        "taskId": "1",
        "subject": "s",
        "description": "",
        "status": "pending",
        "blocks": [],
        "blockedBy": [],
    }


def _when(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.mark.parametrize("ms", [0.0, 1_770_890_733.0, 9_999_999_999_999.0])
def test_task_times_convex_would_refuse_are_left_out(ms: float) -> None:
    snap = task_snapshot(
        Task(id="1", subject="s", status="pending", created_at=_when(ms), updated_at=_when(ms))
    )
    assert snap.created_at is None and snap.updated_at is None


def test_long_backend_type_and_color_are_cut_to_what_convex_takes() -> None:
    member = TeamMember(agent_id="a@t", name="a", backend_type="b" * 100, color="c" * 100)
    _, [snap] = team_snapshot(TeamConfig(name="t", members=(member,)), "t")
    assert snap.backend_type is not None and len(snap.backend_type) == 32
    assert snap.color is not None and len(snap.color) == 32
    assert snap.reach == "none"


def test_the_outbox_round_trips_the_new_fields_and_reads_lines_without_them() -> None:
    members = [
        MemberSnapshot(agent_id=m["agentId"], agent_name=m["agentName"])
        for m in _members("docs-refresh").values()
    ]
    path = REAL / "teams/docs-refresh/config.json"
    team, full = team_snapshot(parse_team_config(path.read_bytes(), path=str(path)), "docs-refresh")
    tasks = [
        task_snapshot(parse_task(p.read_bytes(), path=str(p)))
        for p in sorted((REAL / "tasks/docs-refresh").glob("*.json"))
    ]
    item = TeamItem(dir_name="docs-refresh", seq=3.0, team=team, members=full, tasks=tasks)
    [line] = encode(item)
    record = json.loads(line)
    assert record["members"][1]["plan_mode_required"] is True  # the outbox's own names
    assert decode(record) == item
    # A line written before these fields existed decodes with their defaults.
    for m in record["members"]:
        for key in ("is_active", "backend_type", "color", "plan_mode_required", "reach"):
            m.pop(key, None)
    for t in record["tasks"]:
        for key in ("internal", "created_at", "updated_at"):
            t.pop(key, None)
    old = decode(record)
    assert isinstance(old, TeamItem)
    assert [m.agent_name for m in old.members] == [m.agent_name for m in members]
    assert all(m.reach is None and m.is_active is None for m in old.members)
    assert old.tasks == [
        attrs.evolve(t, internal=None, created_at=None, updated_at=None) for t in tasks
    ]
    assert all(isinstance(t, TaskSnapshot) for t in old.tasks)
