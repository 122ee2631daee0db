"""Needs you from a laptop, whole: the real daemon over a real team's files and `tina hook` run as
Claude Code runs it, the repository's Convex functions on the local backend, and the dashboard's
user reading `needs:needsYou` and the team over the HTTP API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.dashboard_api import Api, eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .conftest import run_hook

pytestmark = pytest.mark.timeout(120)

TEAM = "needs-e2e"
LEAD_SESSION = "00000000-0000-4000-8000-000000000000"  # the sandbox's team configs' leadSessionId
REQUEST = "perm-1772614860000-a1b2c"


def permission_request(at: datetime) -> dict[str, Any]:
    """A teammate's permission request in the lead's inbox, in the snake_case form Claude Code
    was seen writing (reference/claude-agent-teams.md §6)."""
    body = {
        "type": "permission_request",
        "request_id": REQUEST,
        "agent_id": "worker",
        "tool_name": "Bash",
        "tool_use_id": "toolu_01SCANNEAbCdEfGhIjKlMn",
        "description": "Run the endpoint scanner",
        "input": {"command": "npm run scan:api"},
        "permission_suggestions": [],
    }
    return {
        "from": "worker",
        "text": json.dumps(body),
        "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "color": "yellow",
        "read": False,
    }


def needs_of(owner: Api, kind: str) -> list[dict[str, Any]]:
    return [i for i in owner.query("needs:needsYou")["items"] if i["kind"] == kind]


def members(backend: BackendProcess) -> dict[str, dict[str, Any]]:
    [team] = [t for t in backend.dump("teams")["teams"] if t["dirName"] == TEAM]
    rows = backend.dump("teamMembers")["teamMembers"]
    return {m["agentName"]: m for m in rows if m["teamId"] == team["_id"]}


def test_a_teammate_request_shows_and_a_dead_lead_is_gone(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    cwd = laptop.root
    laptop.write_team(TEAM, [{"name": "team-lead", "tmuxPaneId": ""}, {"name": "worker"}], cwd=cwd)
    laptop.start_daemon()
    eventually(lambda: members(backend)["team-lead"]["liveness"] == "working")

    # The teammate asks its lead for a tool: shown, with the tool, its input and the agent.
    inbox = laptop.claude / "teams" / TEAM / "inboxes" / "team-lead.json"
    inbox.parent.mkdir(parents=True, exist_ok=True)
    inbox.write_text(json.dumps([permission_request(datetime.now(UTC))], indent=2))
    [item] = eventually(lambda: needs_of(owner, "teammate_permission"))
    assert item["title"] == "worker asks to use Bash"
    assert item["nodeName"] == "laptop-a"
    assert (item["agentName"], item["requestId"], item["toolName"]) == ("worker", REQUEST, "Bash")
    assert json.loads(item["toolInput"]) == {"command": "npm run scan:api"}
    assert item["detail"] == "Run the endpoint scanner"
    assert item["key"].endswith(f":perm:{TEAM}:{REQUEST}")
    assert abs(item["since"] - time.time() * 1000) < 60_000
    assert owner.query("needs:needsYou")["count"] >= 1

    # The lead's Claude Code session ends: the lead and its in-process teammate are gone, and
    # the request nobody can answer any more leaves the list.
    run_hook(
        laptop,
        {
            "session_id": LEAD_SESSION,
            "transcript_path": str(laptop.home / "transcript.jsonl"),
            "cwd": str(cwd),
            "hook_event_name": "SessionEnd",
            "reason": "prompt_input_exit",
        },
    )
    lead = eventually(
        lambda: (
            members(backend)["team-lead"]
            if members(backend)["team-lead"]["liveness"] == "gone"
            else None
        )
    )
    assert lead["livenessReason"] == "its Claude Code session ended (prompt_input_exit)"
    assert members(backend)["worker"]["liveness"] == "gone"
    assert members(backend)["worker"]["livenessReason"] == "the lead's Claude Code session ended"
    eventually(lambda: needs_of(owner, "teammate_permission") == [])

    # The laptop's sessions, as the hooks told them.
    sessions = owner.query("needs:sessions")
    [session] = [s for s in sessions if s["sessionId"] == LEAD_SESSION]
    assert (session["liveness"], session["teamDir"], session["agentName"]) == (
        "ended",
        TEAM,
        "team-lead",
    )
    status = laptop.status()
    assert status is not None and status["needs"]["in_sync"] is True
