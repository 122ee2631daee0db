"""The lead's Claude Code session, as its hook events tell it, merged into its team's liveness
(`merge_hook_liveness`), on the real-shape teams (tests/fixtures/real-shapes); and the hooks
actor telling the Claude watcher, which sends the team again at once (no polling)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import claude as claude_actor
from tina.daemon.actors.claude import ClaudeWatcher
from tina.daemon.actors.hooks import Hooks
from tina.daemon.projection import merge_hook_liveness, team_snapshot, with_liveness
from tina.daemon.sync.coalescer import TeamItem
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.hooks.event import parse_hook_event
from tina.local import read_inbox, read_team_config
from tina.messages import HookEvent, LeadSession, MemberSnapshot, TeamSnapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = FIXTURES / "real-shapes" / "teams"
EVENTS = {e["label"]: e["input"] for e in json.loads((FIXTURES / "hooks/events.json").read_text())}
LEAD = "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74"  # api-audit's leadSessionId
SPIKE_LEAD = "e8a4d2f0-6b13-4c57-8a9e-0f1d2c3b4a59"  # abandoned-spike's
LIVE = frozenset({"%7", "%21", "%22"})  # stuck's %23 is gone
IN_PROCESS = {"fixer", "reviewer", "tester", "restarted", "idler"}
T0 = 1_772_614_800_000.0


def files(team: str) -> tuple[TeamSnapshot, list[MemberSnapshot]]:
    """The team's members with their liveness from its files alone."""
    config = read_team_config(REAL / team / "config.json")
    snapshot, members = team_snapshot(config, team)
    inboxes = {p.stem: read_inbox(p) for p in sorted((REAL / team / "inboxes").glob("*.json"))}
    return snapshot, with_liveness(snapshot, members, inboxes, LIVE)


def merged(
    team: str, session: LeadSession | None, **member_changes: dict[str, Any]
) -> dict[str, tuple[str | None, str | None]]:
    snapshot, members = files(team)
    members = [attrs.evolve(m, **member_changes.get(m.agent_name, {})) for m in members]
    return {
        m.agent_name: (m.liveness, m.liveness_reason)
        for m in merge_hook_liveness(snapshot, members, session)
    }


def lead(liveness: Any, detail: str | None = None, **more: Any) -> LeadSession:
    return LeadSession(session_id=LEAD, liveness=liveness, detail=detail, **more)


def test_a_dead_lead_takes_its_in_process_teammates_with_it() -> None:
    before = merged("api-audit", None)
    after = merged("api-audit", lead("ended", "prompt_input_exit"))
    assert after["team-lead"] == ("gone", "its Claude Code session ended (prompt_input_exit)")
    for name in IN_PROCESS:  # idle and working alike: they lived in its process
        assert before[name][0] in ("idle", "working")
        assert after[name] == ("gone", "the lead's Claude Code session ended"), name
    # Pane teammates are processes of their own; files win for shut_down and gone.
    for name in ("scanner", "closer", "stuck"):
        assert after[name] == before[name], name
    assert after["scanner"][0] == "waiting"
    assert after["closer"][0] == "shut_down"
    assert after["stuck"] == ("gone", "its tmux pane %23 is gone")


def test_an_idle_pane_teammate_stays_idle_when_its_lead_ends() -> None:
    spike = LeadSession(session_id=SPIKE_LEAD, liveness="ended", detail="logout")
    after = merged("abandoned-spike", spike)
    assert after["team-lead"] == ("gone", "its Claude Code session ended (logout)")
    assert after["researcher"] == ("idle", None)  # tmux pane %7 still there
    assert after["reader"] == ("working", None)  # iTerm2: not in the lead's process


def test_an_idle_or_working_lead_session_says_so() -> None:
    assert merged("api-audit", lead("idle"))["team-lead"] == ("idle", None)
    assert merged("api-audit", lead("idle", "idle_prompt"))["team-lead"] == ("idle", None)
    # An idle lead has no effect on its teammates.
    assert {k: v for k, v in merged("api-audit", lead("idle")).items() if k != "team-lead"} == {
        k: v for k, v in merged("api-audit", None).items() if k != "team-lead"
    }
    idle_by_file = {"team-lead": {"liveness": "idle", "liveness_reason": "idle since 09:00"}}
    assert merged("api-audit", lead("working"), **idle_by_file)["team-lead"] == ("working", None)
    assert merged("api-audit", lead("idle"), **idle_by_file)["team-lead"] == (
        "idle",
        "idle since 09:00",  # the files' reason stands when they agree
    )


def test_a_rate_limited_lead() -> None:
    hinted = lead("rate_limited", "rate_limit", retry_hint="resets 3pm (Europe/London)")
    got = merged("api-audit", hinted)
    assert got["team-lead"] == ("rate_limited", "rate limited; resets 3pm (Europe/London)")
    assert merged("api-audit", lead("rate_limited", "rate_limit"))["team-lead"] == (
        "rate_limited",
        "rate limited",
    )
    assert got["fixer"] == ("idle", "Fixed the auth headers")  # teammates as their files say


def test_a_failed_or_waiting_lead_is_waiting_and_says_on_what() -> None:
    assert merged("api-audit", lead("failed", "server_error"))["team-lead"] == (
        "waiting",
        "stopped on an API error (server_error)",
    )
    assert merged("api-audit", lead("waiting", "Bash", tool_name="Bash"))["team-lead"] == (
        "waiting",
        "waiting for permission to use Bash",
    )
    asked = lead("waiting", "permission_prompt", tool_name="Edit")
    assert merged("api-audit", asked)["team-lead"][1] == "waiting for permission to use Edit"
    assert merged("api-audit", lead("waiting", "elicitation_dialog"))["team-lead"] == (
        "waiting",
        "waiting for an answer",
    )


def test_files_win_for_shut_down_gone_and_waiting() -> None:
    for state, reason in (("shut_down", "shut down at 09:00"), ("gone", "its tmux pane is gone")):
        change = {"team-lead": {"liveness": state, "liveness_reason": reason}}
        for hook in ("working", "idle", "ended", "rate_limited", "failed", "waiting"):
            assert merged("api-audit", lead(hook), **change)["team-lead"] == (state, reason)
    waiting = {"team-lead": {"liveness": "waiting", "liveness_reason": "waiting for permission"}}
    for hook in ("working", "idle"):
        assert merged("api-audit", lead(hook), **waiting)["team-lead"] == (
            "waiting",
            "waiting for permission",
        )
    # An in-process teammate that shut down stays shut down when its lead's session ends.
    down = {"fixer": {"liveness": "shut_down", "liveness_reason": "shut down at 09:05"}}
    assert merged("api-audit", lead("ended"), **down)["fixer"] == (
        "shut_down",
        "shut down at 09:05",
    )


def test_without_a_hook_session_the_files_alone_decide() -> None:
    snapshot, members = files("api-audit")
    assert merge_hook_liveness(snapshot, members, None) == members


# --- the hooks actor tells the Claude watcher ---------------------------------------------------


def hook(label: str, at: float, **changes: Any) -> HookEvent:
    event = parse_hook_event({**EVENTS[label], **changes}, received_at=at)
    assert event is not None
    return event


class Panes:
    async def __call__(self) -> frozenset[str]:
        return LIVE


def pending_members(syncer: Syncer, team: str) -> dict[str, tuple[str | None, str | None]] | None:
    item = syncer.coalescer.pending.get(("team", team))
    if item is None:
        return None
    assert isinstance(item, TeamItem)
    return {m.agent_name: (m.liveness, m.liveness_reason) for m in item.members}


async def until(check: Callable[[], Any]) -> Any:
    with trio.fail_after(10):
        while not (value := check()):
            await trio.sleep(0.01)
        return value


async def test_a_session_end_sends_the_team_again_at_once(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    shutil.copytree(REAL / "api-audit", claude / "teams" / "api-audit")
    cell: LatestValue[GatewayProtocol | None] = LatestValue(None)
    syncer = Syncer(cell)
    watcher = ClaudeWatcher(claude, syncer, panes=Panes())
    hooks = Hooks(team_of=watcher.team_of_session, on_session=watcher.hook_changed)
    watcher.session_of = hooks.lead_session
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(partial(claude_actor.run, claude, hub, syncer, watcher=watcher))
        assert pending_members(syncer, "api-audit") == merged("api-audit", None)
        syncer.coalescer.take()

        # The lead starts a turn: it was working by its files already, nothing to send.
        version = watcher.hook_wake.version
        await hooks.take(hook("UserPromptSubmit", T0))
        assert watcher.hook_wake.version == version + 1  # its session's liveness is news
        await trio.testing.wait_all_tasks_blocked()
        assert pending_members(syncer, "api-audit") is None
        # Another tool call changes nothing of its liveness: the watcher is not even told.
        await hooks.take(hook("PostToolUse", T0 + 1))
        assert watcher.hook_wake.version == version + 1

        # The turn ends: the lead is idle.
        await hooks.take(hook("Stop", T0 + 2))
        got = await until(lambda: pending_members(syncer, "api-audit"))
        assert got["team-lead"] == ("idle", None)
        syncer.coalescer.take()

        # A rate limit, then the session ends: the lead and its in-process teammates are gone.
        await hooks.take(hook("StopFailure rate_limit", T0 + 3))
        got = await until(lambda: pending_members(syncer, "api-audit"))
        assert got["team-lead"] == ("rate_limited", "rate limited")
        syncer.coalescer.take()
        await hooks.take(hook("SessionEnd", T0 + 4))
        got = await until(lambda: pending_members(syncer, "api-audit"))
        assert got == merged("api-audit", lead("ended", "prompt_input_exit"))
        assert got["team-lead"] == ("gone", "its Claude Code session ended (prompt_input_exit)")
        assert {n for n, (state, _) in got.items() if state == "gone"} == {
            "team-lead",
            "stuck",
            *IN_PROCESS,
        }
        # Another session's events never touch the team.
        syncer.coalescer.take()
        await hooks.take(hook("Stop", T0 + 5, session_id="someone-else"))
        await trio.testing.wait_all_tasks_blocked()
        assert pending_members(syncer, "api-audit") is None
        nursery.cancel_scope.cancel()
