"""Claude Code run with a config dir of its own (`CLAUDE_CONFIG_DIR=~/.claude-work claude`): its
teams, task lists and transcripts are there, while tina-session's lookups stay in
`~/.claude/tina-sessions`. The daemon told so (`claude_config_dir`) watches its teams, writes
its inboxes and reads its transcripts there: the real daemon, local backend and files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .conftest import Api, eventually
from .test_daemon import action_row, one, submit
from .test_usage import FEATURE, LEAD_SESSION, TEAM, assistant, orchestration, totals

pytestmark = pytest.mark.timeout(180)


def test_teams_inboxes_and_transcripts_of_claude_codes_own_config_dir(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    work = laptop.home / ".claude-work"
    laptop.extra_env["TINA_CLAUDE_CONFIG_DIR"] = str(work)
    laptop.start_daemon()
    wt = laptop.init_orchestration(FEATURE, phases=2)  # its lookup: ~/.claude/tina-sessions
    orch = eventually(lambda: orchestration(backend))
    laptop.write_team(
        TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION, config_dir=work
    )
    team = eventually(lambda: one(backend, "teams", dirName=TEAM))
    assert not (laptop.claude / "teams" / TEAM).exists()

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
    inbox = json.loads((work / "teams" / TEAM / "inboxes" / "team-lead.json").read_text())
    assert [(e["from"], e["text"]) for e in inbox] == [("tina", "hi")]

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
