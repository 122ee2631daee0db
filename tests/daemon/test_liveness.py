"""Each agent's liveness, derived from its team's real-shape files (tests/fixtures/real-shapes):
the five states, the order in which the rules apply, and the watcher sending a team again when
a member's liveness changes (an inbox entry, a pane that died) and only then."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.claude import ClaudeWatcher, TmuxPanes
from tina.daemon.projection import member_liveness, team_snapshot, with_liveness
from tina.daemon.sync.coalescer import TeamItem
from tina.daemon.sync.syncer import Syncer
from tina.local import Inbox, parse_inbox, read_inbox, read_team_config
from tina.messages import MemberSnapshot

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes" / "teams"


def load(team: str) -> tuple[list[MemberSnapshot], dict[str, Inbox], Any]:
    config = read_team_config(REAL / team / "config.json")
    snapshot, members = team_snapshot(config, team)
    inboxes = {p.stem: read_inbox(p) for p in sorted((REAL / team / "inboxes").glob("*.json"))}
    return members, inboxes, snapshot


def liveness(
    team: str, live_panes: frozenset[str] | None
) -> dict[str, tuple[str | None, str | None]]:
    members, inboxes, snapshot = load(team)
    return {
        m.agent_name: (m.liveness, m.liveness_reason)
        for m in with_liveness(snapshot, members, inboxes, live_panes)
    }


LIVE = frozenset({"%21", "%22", "%99"})  # %23 (stuck's pane) is gone


def test_each_state_from_the_api_audit_team() -> None:
    got = liveness("api-audit", LIVE)
    assert got == {
        "team-lead": ("working", None),
        # isActive false, but an unanswered permission request (snake_case form) comes first
        "scanner": ("waiting", "waiting for permission to use Bash"),
        # its request (camelCase form) was answered; its idle notification is newer than
        # anything sent to it: idle, and the notification's summary says why
        "fixer": ("idle", "Fixed the auth headers"),
        # idle at 09:03:00, then a task was assigned to it at 09:03:45: working again
        "reviewer": ("working", None),
        "tester": ("idle", None),  # isActive false, no notification: nothing more to say
        # wrote once more after approving its shutdown, but inactive: shut down (its
        # unanswered permission request does not make it waiting)
        "closer": ("shut_down", "shut down at 2026-03-04 09:03:30 UTC"),
        "stuck": ("gone", "its tmux pane %23 is gone"),  # before its permission request
        # approved a shutdown, then wrote again and is active: working
        "restarted": ("working", None),
        "idler": ("idle", "idle since 2026-03-04 09:06:00 UTC"),
    }


def test_panes_not_known_never_make_an_agent_gone() -> None:
    got = liveness("api-audit", None)
    assert got["stuck"] == ("waiting", "waiting for permission to use WebFetch")
    assert got["scanner"][0] == "waiting"


def test_no_tmux_server_means_every_pane_teammate_is_gone() -> None:
    got = liveness("api-audit", frozenset())
    gone = {name for name, (state, _) in got.items() if state == "gone"}
    assert gone == {"scanner", "closer", "stuck"}
    assert got["fixer"][0] == "idle"  # in-process teammates have no pane to lose


def test_docs_refresh_shutdowns_in_every_shape_claude_code_writes() -> None:
    # checker: shutdown_approved is its latest message in the lead's inbox (the entries after
    # it in the file are older); writer: shutdown_rejected, then shutdown_response approve.
    got = liveness("docs-refresh", frozenset({"%3"}))
    assert got["checker"] == ("shut_down", "shut down at 2026-02-12 10:10:01 UTC")
    assert got["writer"] == ("shut_down", "shut down at 2026-02-12 10:11:30 UTC")
    assert got["team-lead"] == ("working", None)
    # gone comes first, even for an agent that shut down
    assert liveness("docs-refresh", frozenset())["checker"] == ("gone", "its tmux pane %3 is gone")


def _one(
    team: str, name: str, live_panes: frozenset[str] | None = LIVE, **changes: Any
) -> tuple[str, str | None]:
    members, inboxes, _ = load(team)
    member = attrs.evolve(next(m for m in members if m.agent_name == name), **changes)
    own = inboxes.get(name)
    return member_liveness(
        member,
        lead_inbox=inboxes["team-lead"].messages,
        own_inbox=own.messages if own is not None else (),
        live_panes=live_panes,
    )


def test_order_of_the_rules() -> None:
    # shut_down before waiting: closer has both
    assert _one("api-audit", "closer")[0] == "shut_down"
    # active again: the later message wins over the approved shutdown, so it is waiting
    assert _one("api-audit", "closer", is_active=True) == (
        "waiting",
        "waiting for permission to use Read",
    )
    # waiting before idle: scanner is inactive and waiting
    assert _one("api-audit", "scanner") == ("waiting", "waiting for permission to use Bash")
    # idle before working: isActive false alone is enough (the reason: its last notification)
    assert _one("api-audit", "reviewer") == ("working", None)
    assert _one("api-audit", "reviewer", is_active=False) == (
        "idle",
        "idle since 2026-03-04 09:03:00 UTC",
    )
    # inactive after an approved shutdown: shut down, not idle
    assert _one("api-audit", "restarted") == ("working", None)
    assert _one("api-audit", "restarted", is_active=False)[0] == "shut_down"
    # gone before everything
    assert _one("api-audit", "closer", live_panes=frozenset())[0] == "gone"


def test_a_permission_response_in_the_inbox_ends_the_wait() -> None:
    members, inboxes, _ = load("api-audit")
    scanner = next(m for m in members if m.agent_name == "scanner")
    answered = Path(REAL / "api-audit" / "inboxes" / "fixer.json").read_bytes()
    # fixer's inbox holds the answer to fixer's request; moved to scanner's file with scanner's
    # request id, it answers scanner's request.
    text = answered.decode().replace("perm-1772614920000-d3e4f", "perm-1772614860000-a1b2c")
    own = parse_inbox(text.encode(), agent="scanner")
    state, _ = member_liveness(
        attrs.evolve(scanner, is_active=True),
        lead_inbox=inboxes["team-lead"].messages,
        own_inbox=own.messages,
        live_panes=LIVE,
    )
    assert state == "working"


# --- through the Claude watcher -------------------------------------------------------------


class Panes:
    """A stand-in for `tmux list-panes`: the panes a test says are alive."""

    def __init__(self, panes: set[str] | None) -> None:
        self.panes = panes
        self.calls = 0

    async def __call__(self) -> frozenset[str] | None:
        self.calls += 1
        return None if self.panes is None else frozenset(self.panes)


@pytest.fixture
def syncer() -> Syncer:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(None)
    return Syncer(cell)


def members_of(syncer: Syncer, team: str) -> dict[str, tuple[str | None, str | None]]:
    item = syncer.coalescer.pending[("team", team)]
    assert isinstance(item, TeamItem)
    return {m.agent_name: (m.liveness, m.liveness_reason) for m in item.members}


def copy_team(tmp_path: Path, team: str) -> Path:
    claude = tmp_path / ".claude"
    shutil.copytree(REAL / team, claude / "teams" / team)
    return claude


async def test_the_watcher_sends_liveness_and_resends_the_team_only_when_it_changes(
    tmp_path: Path, syncer: Syncer
) -> None:
    claude = copy_team(tmp_path, "api-audit")
    panes = Panes({"%21", "%22", "%23"})
    watcher = ClaudeWatcher(claude, syncer, panes=panes)
    await watcher.emit(await watcher.rescan(force=True))
    assert panes.calls == 1  # one listing for the refresh
    assert members_of(syncer, "api-audit")["stuck"][0] == "waiting"
    assert members_of(syncer, "api-audit")["reviewer"] == ("working", None)
    syncer.coalescer.take()
    syncer._messages.clear()  # the inboxes' first read: tested in test_inbox_messages.py

    # An inbox entry that changes nobody's liveness: the messages go, the team does not.
    lead = claude / "teams/api-audit/inboxes/team-lead.json"
    entries = json.loads(lead.read_text())
    entries.append(
        {
            "from": "reviewer",
            "text": "Reviewed src/auth.ts: looks right.",
            "timestamp": "2026-03-04T09:03:50.000Z",
            "read": False,
        }
    )
    lead.write_text(json.dumps(entries, indent=2))
    await watcher.on_changes({lead}, rescan=False)
    assert ("team", "api-audit") not in syncer.coalescer.pending
    assert [m.text for m in syncer._messages["api-audit"].values()] == [
        "Reviewed src/auth.ts: looks right."
    ]

    # reviewer goes idle: its team is sent again with the new state.
    entries.append(
        {
            "from": "reviewer",
            "text": json.dumps(
                {
                    "type": "idle_notification",
                    "from": "reviewer",
                    "timestamp": "2026-03-04T09:07:00.000Z",
                    "idleReason": "available",
                    "summary": "Review done",
                }
            ),
            "timestamp": "2026-03-04T09:07:00.000Z",
            "read": False,
        }
    )
    lead.write_text(json.dumps(entries, indent=2))
    await watcher.on_changes({lead}, rescan=False)
    assert members_of(syncer, "api-audit")["reviewer"] == ("idle", "Review done")
    syncer.coalescer.take()

    # A pane dies without any file changing: the periodic check notices.
    await watcher.check_panes()
    assert ("team", "api-audit") not in syncer.coalescer.pending  # nothing changed yet
    panes.panes = {"%21", "%22"}
    await watcher.check_panes()
    assert members_of(syncer, "api-audit")["stuck"] == ("gone", "its tmux pane %23 is gone")
    syncer.coalescer.take()

    # tmux cannot be asked this time: the last known panes stand (no flapping).
    panes.panes = None
    await watcher.check_panes()
    assert ("team", "api-audit") not in syncer.coalescer.pending


async def test_teams_without_pane_teammates_never_list_panes(
    tmp_path: Path, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    shutil.copytree(REAL / "session-7c1e0b2a", claude / "teams" / "solo")
    config = json.loads((claude / "teams/solo/config.json").read_text())
    config["members"] = config["members"][:1]  # the lead only
    (claude / "teams/solo/config.json").write_text(json.dumps(config))
    panes = Panes(set())
    watcher = ClaudeWatcher(claude, syncer, panes=panes)
    await watcher.emit(await watcher.rescan(force=True))
    await watcher.check_panes()
    assert panes.calls == 0
    assert members_of(syncer, "solo") == {"team-lead": ("working", None)}


FAKE_TMUX = """
import os, sys
with open(os.environ["TMUX_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
mode = os.environ["TMUX_MODE"]
if mode == "panes":
    print("%1\\n%14\\n\\n%3")
elif mode == "no-server":
    sys.stderr.write("no server running on /tmp/tmux-1000/tina\\n")
    sys.exit(1)
else:
    sys.stderr.write("unknown option -- Z\\n")
    sys.exit(1)
"""


@pytest.mark.integration  # runs a stand-in for tmux
async def test_tmux_panes_asks_the_configured_server_once_with_argv(tmp_path: Path) -> None:
    script = tmp_path / "tmux.py"
    script.write_text(FAKE_TMUX)
    log = tmp_path / "log"
    env = {"TMUX_LOG": str(log), "TMUX_MODE": "panes", "PATH": os.defpath}
    panes = TmuxPanes([sys.executable, str(script), "-L", "tina"], env=env)
    assert await panes() == frozenset({"%1", "%14", "%3"})
    assert log.read_text().splitlines() == ["-L tina list-panes -a -F #{pane_id}"]

    panes.env = {**env, "TMUX_MODE": "no-server"}
    assert await panes() == frozenset()  # no server: no panes, every pane teammate is gone

    panes.env = {**env, "TMUX_MODE": "broken"}
    with structlog.testing.capture_logs() as logs:
        assert await panes() is None  # not known: nobody is called gone for it
        assert await panes() is None
    assert [e["event"] for e in logs] == ["tmux.panes_unknown"]  # logged once

    missing = TmuxPanes([str(tmp_path / "no-such-tmux")])
    assert await missing() is None
