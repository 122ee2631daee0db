"""Usage and quota, whole: the real daemon against the local backend, over real transcript files
under the laptop's Claude directory, the real status-line script and `tina hook`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import Api, eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.claude_hooks import run_status_line, status_line_command, transcript_path
from tina.dev.sim.sandbox import Laptop
from tina.usage.account import account_key

from .conftest import run_hook

pytestmark = pytest.mark.timeout(180)

FEATURE = "billing-export"
TEAM = f"{FEATURE}-phase-1"
LEAD_SESSION = "5b1f0c3e-8d2a-4f6b-9c7e-1a2b3c4d5e6f"
MODEL = "claude-sonnet-4-5-20250929"


def transcript_of(laptop: Laptop, cwd: Path, session: str) -> Path:
    """Where Claude Code keeps a session's transcript: its cwd with / and . as -."""
    project = str(cwd).replace("/", "-").replace(".", "-")
    return laptop.claude / "projects" / project / f"{session}.jsonl"


def assistant(cwd: Path, message_id: str, **usage: Any) -> str:
    return (
        json.dumps(
            {
                "type": "assistant",
                "uuid": f"u-{message_id}",
                "parentUuid": None,
                "isSidechain": False,
                "timestamp": "2026-03-02T12:00:00.000Z",
                "sessionId": LEAD_SESSION,
                "cwd": str(cwd),
                "requestId": f"req_{message_id}",
                "message": {
                    "id": f"msg_{message_id}",
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [{"type": "text", "text": "done"}],
                    "usage": usage,
                },
            }
        )
        + "\n"
    )


def totals(owner: Api, orchestration_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = owner.query(
        "usage:orchestrationTotals", orchestrationId=orchestration_id
    )
    return found


def orchestration(backend: BackendProcess) -> dict[str, Any] | None:
    rows = backend.dump("orchestrations")["orchestrations"]
    found = [r for r in rows if r["featureName"] == FEATURE]
    return found[0] if found else None


def dashboard_open(owner: Api) -> None:
    """A dashboard says it is open, as the web app does every 20 s while it is visible: for the
    next 90 s the daemons send usage within a second of a new message (otherwise once per
    `usage_idle_secs`, 30 s)."""
    owner.mutation("presence:watch")


def started(
    laptop: Laptop, backend: BackendProcess, owner: Api | None = None
) -> tuple[Path, dict[str, Any], Path]:
    """The daemon running, an orchestration synced: its worktree, its row, and where the lead
    session's transcript goes (its directory made). With `owner`, a dashboard is open."""
    if owner is not None:
        dashboard_open(owner)
    laptop.start_daemon()
    wt = laptop.init_orchestration(FEATURE, phases=2)
    orch = eventually(lambda: orchestration(backend))
    transcript = transcript_of(laptop, wt, LEAD_SESSION)
    transcript.parent.mkdir(parents=True, exist_ok=True)
    return wt, orch, transcript


def test_an_assistant_line_becomes_its_orchestrations_usage_once(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    wt, orch, transcript = started(laptop, backend, owner)
    laptop.write_team(TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION)
    # usage is attributed as the daemon knows things when it reads the line: its team first
    eventually(lambda: [t for t in backend.dump("teams")["teams"] if t["dirName"] == TEAM])
    first = assistant(
        wt,
        "01",
        input_tokens=1200,
        output_tokens=800,
        cache_creation_input_tokens=4000,
        cache_read_input_tokens=30000,
    )
    # a streamed message is written once per content block: counted once
    transcript.write_text(first + first)

    got = eventually(
        lambda: (t := totals(owner, orch["_id"])) is not None and t["messages"] == 1 and t,
        timeout=60,
    )
    assert (got["input"], got["output"], got["cacheWrite"], got["cacheRead"]) == (
        1200,
        800,
        4000,
        30000,
    )
    # sonnet 4.5: $3 in, $15 out, $3.75 cache write, $0.30 cache read per million tokens
    assert got["costMicros"] == 1200 * 3 + 800 * 15 + 4000 * 3.75 + 30000 * 0.3
    assert got["unpricedTokens"] == 0
    breakdown = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
    assert [(p.get("phaseNumber"), p["messages"]) for p in breakdown["byPhase"]] == [("1", 1)]
    assert [a.get("agentName") for a in breakdown["byAgent"]] == ["team-lead"]

    # A restart reads on from where it was: nothing is sent twice, the next line once.
    laptop.stop_daemon()
    dashboard_open(owner)
    laptop.start_daemon()
    searched = {"web_search_requests": 2, "web_fetch_requests": 1}
    with transcript.open("a") as f:
        f.write(assistant(wt, "02", input_tokens=10, output_tokens=5, server_tool_use=searched))
    again = eventually(
        lambda: (t := totals(owner, orch["_id"])) is not None and t["messages"] == 2 and t,
        timeout=60,
    )
    assert (again["input"], again["output"]) == (1210, 805)
    # Its two web searches cost $10 a thousand on top of its tokens (a fetch costs tokens only).
    assert again["webSearches"] == 2
    assert again["costMicros"] == got["costMicros"] + 10 * 3 + 5 * 15 + 2 * 10_000
    status = laptop.status()
    assert status is not None and status["usage"]["pending"] == 0
    # The daemon numbers its batches in one stream, which the restart continued: Convex keeps
    # the last number applied (a replay of any of them is ignored however late), no id per batch.
    streams = backend.dump("usageStreams")["usageStreams"]
    assert len(streams) == 1 and streams[0]["seq"] >= 2
    assert backend.dump("usageBatches")["usageBatches"] == []


def test_with_no_dashboard_open_a_line_waits_and_a_dashboard_opening_sends_it_at_once(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    """Rounds an hour apart with no dashboard open (`usage_idle_secs`): a new line is in hand
    and waits; the moment a dashboard says it is open (`presence:watch`, what the web app calls)
    the daemon reads and sends it."""
    laptop.start_daemon(env={"TINA_USAGE_IDLE_SECS": "3600"})
    wt = laptop.init_orchestration(FEATURE, phases=2)
    orch = eventually(lambda: orchestration(backend))
    laptop.write_team(TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION)
    eventually(lambda: [t for t in backend.dump("teams")["teams"] if t["dirName"] == TEAM])

    def usage_status() -> dict[str, Any]:
        status = laptop.status()
        assert status is not None
        usage: dict[str, Any] = status["usage"]
        return usage

    # Convex says nobody watches (no dashboard ever opened on this deployment): lazy.
    eventually(lambda: usage_status()["pace"] == "lazy")
    transcript = transcript_of(laptop, wt, LEAD_SESSION)
    transcript.parent.mkdir(parents=True, exist_ok=True)
    transcript.write_text(assistant(wt, "lazy-1", input_tokens=70, output_tokens=7))
    eventually(lambda: usage_status()["waiting"])  # in hand, its round an hour off
    assert totals(owner, orch["_id"]) is None

    dashboard_open(owner)
    got = eventually(lambda: (t := totals(owner, orch["_id"])) is not None and t, timeout=30)
    assert (got["messages"], got["input"]) == (1, 70)
    assert usage_status()["pace"] == "quick"


def test_a_leads_usage_from_before_its_team_moves_to_its_phase_when_the_team_appears(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    # The lead starts working before it creates its team: its worktree names the orchestration.
    wt, orch, transcript = started(laptop, backend, owner)
    transcript.write_text(
        assistant(wt, "01", input_tokens=100, output_tokens=40, cache_creation_input_tokens=9000)
    )
    before = eventually(
        lambda: (t := totals(owner, orch["_id"])) is not None and t["messages"] == 1 and t,
        timeout=60,
    )
    breakdown = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
    assert [(p.get("phaseNumber"), p["messages"]) for p in breakdown["byPhase"]] == [(None, 1)]

    # The daemon restarts meanwhile: what it sent of the session is in its ledger.
    laptop.stop_daemon()
    dashboard_open(owner)
    laptop.start_daemon()
    # Its team appears, then its next line: all of it is now phase 1's, the lead's.
    laptop.write_team(TEAM, [{"name": "team-lead"}], cwd=wt, lead_session_id=LEAD_SESSION)
    eventually(lambda: [t for t in backend.dump("teams")["teams"] if t["dirName"] == TEAM])
    with transcript.open("a") as f:
        f.write(assistant(wt, "02", input_tokens=10, output_tokens=5))

    def moved() -> dict[str, Any] | None:
        got = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
        phases = [(p.get("phaseNumber"), p["messages"]) for p in got["byPhase"]]
        return got if phases == [("1", 2)] else None

    after = eventually(moved, timeout=60)
    assert [(a.get("phaseNumber"), a.get("agentName")) for a in after["byAgent"]] == [
        ("1", "team-lead")
    ]
    got = totals(owner, orch["_id"])
    assert got is not None and got["messages"] == 2
    # The move changed the breakdown only: the cost is the two messages', counted once.
    assert got["costMicros"] == before["costMicros"] + 10 * 3 + 5 * 15
    assert sum(p["costMicros"] for p in after["byPhase"]) == got["costMicros"]
    status = laptop.status()
    assert status is not None and status["usage"]["moved"] == 1


ITERM_PANE = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B"


@pytest.mark.parametrize(
    ("pane", "env"),
    [
        ({"tmuxPaneId": "%5"}, {"TMUX_PANE": "%5", "TMUX": "/tmp/t,1,0"}),
        # Claude Code's iTerm2 backend records the pane's iTerm2 session id as `tmuxPaneId`;
        # iTerm2 gives the teammate's process that id in `ITERM_SESSION_ID`.
        (
            {"tmuxPaneId": ITERM_PANE, "backendType": "iterm2"},
            {"ITERM_SESSION_ID": f"w0t0p1:{ITERM_PANE}"},
        ),
    ],
    ids=["tmux", "iterm2"],
)
def test_a_pane_teammates_usage_is_its_agents_by_the_pane_its_hooks_ran_in(
    backend: BackendProcess, laptop: Laptop, owner: Api, pane: dict[str, str], env: dict[str, str]
) -> None:
    """A pane teammate is a session of its own that leads nothing: its hooks run in its pane
    (`TMUX_PANE`, or an iTerm2 session's `ITERM_SESSION_ID`), and the team config names the
    member in that pane."""
    wt, orch, _ = started(laptop, backend, owner)
    members = [{"name": "team-lead", "tmuxPaneId": ""}, {"name": "executor-1", **pane}]
    laptop.write_team(TEAM, members, cwd=wt, lead_session_id=LEAD_SESSION)
    eventually(lambda: [t for t in backend.dump("teams")["teams"] if t["dirName"] == TEAM])
    teammate = "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    start = {"hook_event_name": "SessionStart", "session_id": teammate, "cwd": str(wt)}
    run_hook(laptop, {**start, "source": "startup"}, env)
    # The daemon holds the session (what the hook said is applied) before its first line.
    eventually(
        lambda: (
            (s := laptop.status()) is not None
            and any(teammate.startswith(x["id"]) for x in s["hooks"]["sessions"])
        )
    )
    transcript = transcript_of(laptop, wt, teammate)
    line = json.loads(assistant(wt, "p1", input_tokens=20, output_tokens=7))
    transcript.write_text(json.dumps({**line, "sessionId": teammate}) + "\n")

    def by_agent() -> list[tuple[Any, Any]] | None:
        got = owner.query("usage:orchestrationBreakdown", orchestrationId=orch["_id"])
        agents = [(a.get("phaseNumber"), a.get("agentName")) for a in got["byAgent"]]
        return agents or None

    assert eventually(by_agent, timeout=60) == [("1", "executor-1")]


def work_session(laptop: Laptop, wt: Path, first_line: str) -> Path:
    """The lead session started in `wt` by `CLAUDE_CONFIG_DIR=~/.claude-work claude`: its
    transcript (under that config dir, holding `first_line`) and its SessionStart hook."""
    work = laptop.home / ".claude-work"
    transcript = transcript_path(work, wt, LEAD_SESSION)
    transcript.parent.mkdir(parents=True)
    transcript.write_text(first_line)
    start = {
        "hook_event_name": "SessionStart",
        "session_id": LEAD_SESSION,
        "transcript_path": str(transcript),
        "cwd": str(wt),
        "source": "startup",
    }
    run_hook(laptop, start, {"CLAUDE_CONFIG_DIR": str(work)})
    return transcript


def test_a_session_of_another_claude_config_dir_is_read_from_its_first_hook(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    """`CLAUDE_CONFIG_DIR=~/.claude-work claude` keeps its transcripts under that directory,
    which the daemon (started by launchd, without the shell's environment) was not told of: the
    hooks' `transcript_path` shows it, and from then on it is read, across restarts."""
    wt, orch, _ = started(laptop, backend, owner)
    work = laptop.home / ".claude-work"
    # written before its first hook reaches the daemon: read all the same
    transcript = work_session(laptop, wt, assistant(wt, "w1", input_tokens=300, output_tokens=30))

    def counted(messages: int) -> dict[str, Any] | None:
        got = totals(owner, orch["_id"])
        return got if got is not None and got["messages"] == messages else None

    assert eventually(lambda: counted(1), timeout=60)["input"] == 300
    with transcript.open("a") as f:  # watched now: no hook needed for the next line
        f.write(assistant(wt, "w2", input_tokens=5, output_tokens=1))
    assert eventually(lambda: counted(2), timeout=60)["input"] == 305

    # Kept with the usage state: after a restart it is read again before any hook.
    laptop.stop_daemon()
    dashboard_open(owner)
    laptop.start_daemon()
    eventually(
        lambda: (
            (s := laptop.status()) is not None
            and str(work / "projects") in s["usage"]["directories"]
        )
    )
    with transcript.open("a") as f:
        f.write(assistant(wt, "w3", input_tokens=7, output_tokens=2))
    assert eventually(lambda: counted(3), timeout=60)["input"] == 312


def quota_of(owner: Api, name: str, account: str | None = None) -> dict[str, Any] | None:
    found = [
        q
        for q in owner.query("usage:fleetQuotaRows")["rows"]
        if q["nodeName"] == name and q.get("account") == account
    ]
    return found[0] if found else None


def status_line(laptop: Laptop, wt: Path, status: dict[str, Any]) -> None:
    """Claude Code runs the status line the worktree's settings name, in the worktree."""
    env = laptop.env()
    command = status_line_command(env, wt)
    assert command is not None
    done = run_status_line(command, status, env, wt)
    assert (done.returncode, done.stdout) == (0, "ctx:12%\n")


def test_the_status_lines_rate_limits_and_a_rate_limit_stop_reach_the_fleet_quota(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon()
    wt = laptop.init_orchestration(FEATURE, phases=2)
    eventually(lambda: orchestration(backend))
    transcript = transcript_of(laptop, wt, LEAD_SESSION)
    status = {
        "session_id": LEAD_SESSION,
        "transcript_path": str(transcript),
        "context_window": {"used_percentage": 12},
        "rate_limits": {
            "five_hour": {"used_percentage": 23.5, "resets_at": 4102444800},
            "seven_day": {"used_percentage": 41.2, "resets_at": 4103049600},
        },
    }
    status_line(laptop, wt, status)
    assert (wt / ".claude" / "tina" / "rate-limits.json").exists()

    quota = eventually(lambda: quota_of(owner, laptop.name, "~/.claude"), timeout=60)
    # The account ~/.claude is logged in to, as a key (`~/.claude.json`, as Claude Code keeps it).
    key = account_key((laptop.home / ".claude.json").read_bytes())
    assert key is not None and quota["accountKey"] == key
    assert quota["fiveHour"] == {"usedPct": 23.5, "resetsAt": 4102444800000}
    assert quota["sevenDay"] == {"usedPct": 41.2, "resetsAt": 4103049600000}
    assert "limitedAt" not in quota

    run_hook(
        laptop,
        {
            "session_id": LEAD_SESSION,
            "transcript_path": str(transcript),
            "cwd": str(wt),
            "hook_event_name": "StopFailure",
            "error": "rate_limit",
            "error_details": "5-hour limit reached",
        },
    )
    limited = eventually(
        lambda: (q := quota_of(owner, laptop.name, "~/.claude")) and "limitedAt" in q and q,
        timeout=60,
    )
    assert limited["limitedText"] == "5-hour limit reached"
    assert limited["fiveHour"]["usedPct"] == 23.5  # the windows kept

    # A session of another login (`CLAUDE_CONFIG_DIR=~/.claude-work claude`) in the same
    # worktree: its account gets a row of its own; the first one's stays as it was. Logged in
    # to the same account, it says so: the dashboard shows the two as one.
    laptop.login(
        json.loads((laptop.home / ".claude.json").read_text())["oauthAccount"]["accountUuid"],
        laptop.home / ".claude-work",
    )
    work = laptop.home / ".claude-work" / "projects" / transcript.parent.name / "w1.jsonl"
    other = {
        **status,
        "session_id": "w1",
        "transcript_path": str(work),
        "rate_limits": {"five_hour": {"used_percentage": 91, "resets_at": 4102444900}},
    }
    status_line(laptop, wt, other)
    second = eventually(lambda: quota_of(owner, laptop.name, "~/.claude-work"), timeout=60)
    assert second["fiveHour"] == {"usedPct": 91, "resetsAt": 4102444900000}
    assert second["accountKey"] == key
    assert "limitedAt" not in second and "sevenDay" not in second
    assert quota_of(owner, laptop.name, "~/.claude") == limited
