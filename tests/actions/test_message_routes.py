"""`send_message` by route: pane, inbox, lead_session (real tmux server, real files)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tina.convex.actions import action_from_wire
from tina.daemon.actions import HandlerEnv, _handlers, run_action
from tina.local import append_inbox_message, read_inbox
from tina.local.names import phase_tmux_session
from tina.messages import InboundAction

from .tmux_rig import Tmux, eventually

LEAD = {"agentId": "team-lead@t", "name": "team-lead", "agentType": "team-lead", "tmuxPaneId": ""}
HELPER = {"agentId": "helper@t", "name": "helper", "tmuxPaneId": "in-process"}
ITERM = {"agentId": "iterm@t", "name": "iterm", "tmuxPaneId": "w0t1p0"}


def write_team(claude: Path, members: list[dict[str, Any]]) -> Path:
    team = claude / "teams" / "t"
    team.mkdir(parents=True, exist_ok=True)
    (team / "config.json").write_text(
        json.dumps(
            {
                "name": "t",
                "createdAt": 1770480842000,
                "leadAgentId": "team-lead@t",
                "leadSessionId": "s",
                "members": members,
            }
        )
    )
    return team


def write_lookup(claude: Path, feature: str, worktree: Path) -> None:
    sessions = claude / "tina-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    (sessions / f"{feature}.json").write_text(
        json.dumps(
            {
                "feature": feature,
                "worktree_path": str(worktree),
                "created_at": "2026-02-07T16:00:00Z",
            }
        )
    )


def send(agent: str, text: str, **payload: Any) -> InboundAction:
    doc = {"teamDir": "t", "agentName": agent, "text": text, **payload}
    return action_from_wire({"_id": "act1", "type": "send_message", "payload": doc})


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "wt"
    path.mkdir()
    return path


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    return tmp_path / "claude"


@pytest.fixture
def henv(claude: Path, tmux: Tmux) -> HandlerEnv:
    return HandlerEnv.build(
        claude_dir=claude, tina_session="tina-session", tmux_socket=tmux.socket, timeout=10
    )


# --- lead_session --------------------------------------------------------------------------------


async def test_lead_session_types_into_the_phase_leads_tmux_session(
    claude: Path, worktree: Path, tmux: Tmux, henv: HandlerEnv
) -> None:
    write_team(claude, [LEAD, HELPER])
    write_lookup(claude, "f", worktree)
    session = phase_tmux_session("f", "1.5")
    lead_pane = await tmux.open(session, "exec cat", worktree, runs="cat")
    # A decoy: same program, same directory, another session; it must get nothing.
    decoy = await tmux.open("tina-f-phase-1", "exec cat", worktree, runs="cat")
    text = "wrap up phase 1.5; $(echo no)"
    result = await run_action(
        send("team-lead", text, via="lead_session", feature="f", phase="1.5"), henv
    )
    assert (result.ok, result.code, result.via, result.message_key) == (
        True,
        "ok",
        "lead_session",
        None,
    ), result
    assert session in result.message and result.message.startswith("typed into team-lead's")

    async def echoed() -> bool:  # typed, then echoed back by cat after Enter
        return (await tmux.screen(lead_pane)).count(text) >= 2

    await eventually(echoed)
    assert text not in await tmux.screen(decoy)


async def test_lead_session_fails_clearly_when_the_session_is_gone(
    claude: Path, worktree: Path, tmux: Tmux, henv: HandlerEnv
) -> None:
    write_team(claude, [LEAD])
    write_lookup(claude, "f", worktree)
    session = phase_tmux_session("f", "2")
    await tmux.open(session, "exec cat", worktree, runs="cat")
    await tmux("kill-session", "-t", f"={session}")
    other = await tmux.open("keep-the-server-alive", "exec cat", worktree, runs="cat")
    result = await run_action(
        send("team-lead", "hello", via="lead_session", feature="f", phase="2"), henv
    )
    assert (result.ok, result.code) == (False, "lead_session_gone"), result
    assert session in result.message and "no longer exists" in result.message
    assert "inbox" in result.message  # what still reaches it
    assert "hello" not in await tmux.screen(other)


async def test_lead_session_refuses_a_teammate_and_a_team_outside_a_phase(
    claude: Path, worktree: Path, henv: HandlerEnv
) -> None:
    write_team(claude, [LEAD, HELPER])
    teammate = await run_action(
        send("helper", "hi", via="lead_session", feature="f", phase="1"), henv
    )
    assert (teammate.ok, teammate.code) == (False, "not_lead"), teammate
    assert "helper is not the lead of team t" in teammate.message
    no_phase = await run_action(send("team-lead", "hi", via="lead_session"), henv)
    assert (no_phase.ok, no_phase.code) == (False, "no_lead_session"), no_phase
    assert "no orchestration phase" in no_phase.message
    no_lookup = await run_action(
        send("team-lead", "hi", via="lead_session", feature="f", phase="1"), henv
    )
    assert (no_lookup.ok, no_lookup.code) == (False, "orchestration_gone"), no_lookup


# --- inbox ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["inbox", None])
async def test_an_in_process_teammate_is_reached_through_its_inbox(
    claude: Path, henv: HandlerEnv, via: str | None
) -> None:
    team = write_team(claude, [LEAD, HELPER])
    inbox = team / "inboxes" / "helper.json"
    append_inbox_message(inbox, sender="team-lead", text="start on task 3")
    payload = {} if via is None else {"via": via}
    result = await run_action(send("helper", "also check the docs", **payload), henv)
    assert (result.ok, result.code, result.via) == (True, "ok", "inbox"), result
    assert result.message == "written to helper's inbox"
    first, ours = read_inbox(inbox).messages
    assert first.text == "start on task 3"
    assert (ours.sender, ours.text, ours.read, ours.summary) == (
        "tina",
        "also check the docs",
        False,
        "from the tina dashboard",
    )
    assert result.message_key == ours.key
    assert [p.name for p in inbox.parent.iterdir()] == ["helper.json"]  # no lock left


async def test_the_leads_inbox_is_created_on_the_first_message(
    claude: Path, henv: HandlerEnv
) -> None:
    team = write_team(claude, [LEAD])
    result = await run_action(send("team-lead", "status?", via="inbox"), henv)
    assert (result.ok, result.via) == (True, "inbox"), result
    [entry] = read_inbox(team / "inboxes" / "team-lead.json").messages
    assert (entry.text, entry.key) == ("status?", result.message_key)


async def test_inbox_refusals_become_failed_results_and_write_nothing(
    claude: Path, henv: HandlerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = write_team(claude, [LEAD, HELPER])
    inbox = team / "inboxes" / "helper.json"
    inbox.parent.mkdir()
    inbox.write_text('{"not": "an inbox"}')
    odd = await run_action(send("helper", "hi", via="inbox"), henv)
    assert (odd.ok, odd.code, odd.via, odd.message_key) == (
        False,
        "inbox_unrecognised",
        None,
        None,
    )
    assert "helper.json" in odd.message and "expected a JSON array" in odd.message
    assert inbox.read_text() == '{"not": "an inbox"}'

    inbox.write_text("[]")
    (inbox.parent / "helper.json.lock").mkdir()  # held (fresh) by someone else
    monkeypatch.setattr(
        _handlers, "append_inbox_message", functools.partial(append_inbox_message, timeout=0.2)
    )
    locked = await run_action(send("helper", "hi", via="inbox"), henv)
    assert (locked.ok, locked.code) == (False, "inbox_locked"), locked
    assert inbox.read_text() == "[]"

    nobody = await run_action(send("nobody", "hi", via="inbox"), henv)
    assert (nobody.ok, nobody.code) == (False, "agent_gone")
    assert not (inbox.parent / "nobody.json").exists()


# --- pane ----------------------------------------------------------------------------------------


async def test_via_pane_is_refused_for_members_without_one_with_their_own_reason(
    claude: Path, henv: HandlerEnv
) -> None:
    team = write_team(claude, [LEAD, HELPER, ITERM])
    lead = await run_action(send("team-lead", "hi", via="pane", feature="f", phase="1"), henv)
    assert (lead.ok, lead.code) == (False, "lead_has_no_pane"), lead
    assert "team-lead is the lead of team t" in lead.message
    assert "inbox" in lead.message and "lead_session" in lead.message
    assert "in-process" not in lead.message and "inside its lead" not in lead.message
    helper = await run_action(send("helper", "hi", via="pane"), henv)
    assert (helper.ok, helper.code) == (False, "in_process_teammate"), helper
    assert "inside its lead's process" in helper.message and "inbox" in helper.message
    assert "message the lead" not in helper.message
    iterm = await run_action(send("iterm", "hi", via="pane"), henv)
    assert (iterm.ok, iterm.code) == (False, "no_pane"), iterm
    assert "'w0t1p0'" in iterm.message
    assert not (team / "inboxes").exists()  # a refused route falls back to nothing


async def test_a_lead_marked_in_process_is_still_named_the_lead(
    claude: Path, henv: HandlerEnv
) -> None:
    # Some teams record the lead with tmuxPaneId "in-process": leadAgentId still says who it is.
    write_team(claude, [{**LEAD, "tmuxPaneId": "in-process", "agentType": "general"}])
    result = await run_action(send("team-lead", "hi", via="pane"), henv)
    assert (result.ok, result.code) == (False, "lead_has_no_pane"), result
    assert "lead_session" not in result.message  # no phase: only the inbox


async def test_via_pane_types_into_a_pane_teammate_and_says_so(
    claude: Path, worktree: Path, tmux: Tmux, henv: HandlerEnv
) -> None:
    pane = await tmux.open("agents", "exec cat", worktree, runs="cat")
    member = {"agentId": "executor-1@t", "name": "executor-1", "tmuxPaneId": pane}
    write_team(claude, [LEAD, {**member, "cwd": str(worktree)}])
    for via in ("pane", None):
        text = f"rebase please ({via})"
        payload = {} if via is None else {"via": via}
        result = await run_action(send("executor-1", text, **payload), henv)
        assert (result.ok, result.via, result.message_key) == (True, "pane", None), result
        assert result.message == f"typed into executor-1's tmux pane {pane}"

        async def echoed(text: str = text) -> bool:
            return (await tmux.screen(pane)).count(text) >= 2

        await eventually(echoed)
    # The same teammate through its inbox instead.
    boxed = await run_action(send("executor-1", "by inbox", via="inbox"), henv)
    assert (boxed.ok, boxed.via) == (True, "inbox"), boxed
    assert "by inbox" not in await tmux.screen(pane)
