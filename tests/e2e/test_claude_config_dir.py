"""Claude Code run with a config dir of its own (`CLAUDE_CONFIG_DIR=~/.claude-work claude`): its
teams, task lists and transcripts are there, while tina-session's lookups stay in
`~/.claude/tina-sessions`. The daemon told so (`claude_config_dir`) watches its teams, writes
its inboxes and reads its transcripts there: the real daemon, local backend and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import Api, eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .test_daemon import action_row, one, rows, submit
from .test_usage import (
    FEATURE,
    LEAD_SESSION,
    TEAM,
    assistant,
    dashboard_open,
    orchestration,
    totals,
    work_session,
)

pytestmark = pytest.mark.timeout(180)


def message_the_lead(
    backend: BackendProcess, owner: Api, team: dict[str, Any], config_dir: Path
) -> None:
    """A message from the dashboard reaches the lead's inbox in `config_dir`."""
    sent = submit(
        owner,
        {
            "type": "send_message",
            "teamId": team["_id"],
            "agentName": "team-lead",
            "text": "hi",
            "via": "inbox",
        },
    )
    done: dict[str, Any] = eventually(
        lambda: (
            action_row(backend, sent)["status"] in ("completed", "failed")
            and action_row(backend, sent)
        )
    )
    assert (done["status"], done["result"]["via"]) == ("completed", "inbox"), done
    inbox = json.loads((config_dir / "teams" / TEAM / "inboxes" / "team-lead.json").read_text())
    assert [(e["from"], e["text"]) for e in inbox] == [("tina", "hi")]


def test_teams_inboxes_and_transcripts_of_claude_codes_own_config_dir(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    work = laptop.home / ".claude-work"
    laptop.extra_env["TINA_CLAUDE_CONFIG_DIR"] = str(work)
    dashboard_open(owner)  # usage within a second, not at the next 30 s round
    laptop.start_daemon()
    wt = laptop.init_orchestration(FEATURE, phases=2)  # its lookup: ~/.claude/tina-sessions
    orch = eventually(lambda: orchestration(backend))
    laptop.write_team(
        TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION, config_dir=work
    )
    team = eventually(lambda: one(backend, "teams", dirName=TEAM))
    assert not (laptop.claude / "teams" / TEAM).exists()

    message_the_lead(backend, owner, team, work)

    project = str(wt).replace("/", "-").replace(".", "-")
    transcript = work / "projects" / project / f"{LEAD_SESSION}.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(assistant(wt, "c1", input_tokens=40, output_tokens=4))
    got = eventually(
        lambda: (t := totals(owner, orch["_id"])) is not None and t["messages"] == 1 and t,
        timeout=60,
    )
    assert got["input"] == 40
    breakdown = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
    assert [(a.get("phaseNumber"), a.get("agentName")) for a in breakdown["byAgent"]] == [
        ("1", "team-lead")
    ]


def test_a_config_dir_the_daemon_was_not_told_of_is_read_from_its_first_hook_teams_too(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    """The daemon (launchd: no `CLAUDE_CONFIG_DIR`, no `claude_config_dir`) learns
    `~/.claude-work` from a hook's `transcript_path`: its teams reach Convex, the dashboard's
    message goes to the inbox there, the lead's usage is its phase's, and after a restart the
    team is still there (not taken for gone before that config dir is read again)."""
    work = laptop.home / ".claude-work"
    dashboard_open(owner)
    laptop.start_daemon()
    wt = laptop.init_orchestration(FEATURE, phases=2)
    orch = eventually(lambda: orchestration(backend))
    laptop.write_team(
        TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION, config_dir=work
    )
    work_session(laptop, wt, assistant(wt, "c1", input_tokens=40, output_tokens=4))
    team = eventually(lambda: one(backend, "teams", dirName=TEAM), timeout=60)

    message_the_lead(backend, owner, team, work)
    assert not (laptop.claude / "teams" / TEAM).exists()

    eventually(
        lambda: (t := totals(owner, orch["_id"])) is not None and t["messages"] == 1, timeout=60
    )
    breakdown = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
    assert [(a.get("phaseNumber"), a.get("agentName")) for a in breakdown["byAgent"]] == [
        ("1", "team-lead")
    ]

    # Restarted: the team Convex knows is in a config dir learnt before; it stays (a team
    # deleted meanwhile in ~/.claude is removed: the check ran), and a change to it is read with
    # no hook.
    laptop.write_team("gone-team", [{"name": "team-lead"}], cwd=wt, lead_session_id="s-gone")
    eventually(lambda: one(backend, "teams", dirName="gone-team"), timeout=60)
    laptop.stop_daemon()
    laptop.remove_team("gone-team")
    laptop.start_daemon()
    eventually(
        lambda: "removedAt" in (one(backend, "teams", dirName="gone-team") or {}), timeout=60
    )
    vanished = [e["team"] for e in laptop.log_events() if e.get("event") == "team.vanished"]
    assert vanished == ["gone-team"]
    laptop.write_team(
        TEAM,
        [{"name": "team-lead"}, {"name": "executor-1"}],
        cwd=wt,
        lead_session_id=LEAD_SESSION,
        config_dir=work,
    )

    def members() -> list[str]:
        return sorted(
            m["agentName"] for m in rows(backend, "teamMembers") if m["teamId"] == team["_id"]
        )

    assert eventually(lambda: members() == ["executor-1", "team-lead"], timeout=60)
