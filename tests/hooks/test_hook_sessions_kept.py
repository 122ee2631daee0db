"""The hooks actor keeps what it knows of Claude Code sessions: an ended lead stays ended while
its team exists (not forgotten after an hour), and the sessions survive a daemon restart in the
state file (0600, written at most once a second, tolerant of a bad file)."""

from __future__ import annotations

import json
import shutil
import stat
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import claude as claude_actor
from tina.daemon.actors import hooks as hooks_actor
from tina.daemon.actors.claude import ClaudeWatcher
from tina.daemon.actors.hooks import (
    ENDED_KEEP_MS,
    SAVE_INTERVAL,
    STATE_FILE_MAX,
    Hooks,
    HookSessions,
    decode_sessions,
    encode_sessions,
)
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub

from .test_liveness_merge import (
    IN_PROCESS,
    LEAD,
    REAL,
    T0,
    Panes,
    hook,
    lead,
    merged,
    pending_members,
    until,
)

TEAM = "api-audit"


def team_of(*teams: str) -> Any:
    """`ClaudeWatcher.team_of_session` for a watcher whose only team is led by LEAD (while
    `teams` holds it)."""
    live = set(teams)
    return lambda sid: TEAM if sid == LEAD and TEAM in live else None


class Writes:
    """A state writer in trio alone (the autojump clock can run): records what it writes,
    when, and puts it in the file."""

    def __init__(self) -> None:
        self.at: list[float] = []
        self.docs: list[dict[str, Any]] = []

    async def __call__(self, path: Path, data: bytes) -> None:
        self.at.append(trio.current_time())
        self.docs.append(json.loads(data))
        path.write_bytes(data)
        await trio.lowlevel.checkpoint()

    def last(self) -> dict[str, dict[str, Any]]:
        return {s["session_id"]: s for s in self.docs[-1]["sessions"]}


# --- never forgotten while the team exists ------------------------------------------------------


async def test_an_ended_lead_stays_ended_while_its_team_exists() -> None:
    teams = {TEAM}
    hooks = Hooks(team_of=lambda sid: TEAM if sid == LEAD and TEAM in teams else None)
    await hooks.take(hook("SessionStart startup", T0))
    await hooks.take(hook("SessionEnd", T0 + 1))
    await hooks.take(hook("SessionEnd", T0 + 2, session_id="no-team"))
    # Hours of other sessions' events later, the lead is still dead; a session of no team is
    # forgotten an hour after it ended, as before.
    for hour in (1, 2, 5):
        await hooks.take(hook("Stop", T0 + hour * ENDED_KEEP_MS + 10, session_id="other"))
        view = hooks.lead_session(LEAD)
        assert view is not None
        assert (view.liveness, view.detail) == ("ended", "prompt_input_exit")
        assert "no-team" not in hooks.sessions.by_id
    # Once its team is gone, the lead's session is forgotten too.
    teams.clear()
    await hooks.take(hook("Stop", T0 + 6 * ENDED_KEEP_MS, session_id="other"))
    assert hooks.lead_session(LEAD) is None
    assert set(hooks.sessions.by_id) == {"other"}


async def test_past_the_bound_ended_sessions_of_no_team_go_first() -> None:
    hooks = Hooks(team_of=team_of(TEAM), sessions=HookSessions(max_sessions=3))
    await hooks.take(hook("SessionEnd", T0))  # the lead: its team exists
    await hooks.take(hook("SessionEnd", T0 + 10, session_id="orphan"))  # newer, but no team
    await hooks.take(hook("Stop", T0 + 20, session_id="a"))
    await hooks.take(hook("Stop", T0 + 30, session_id="b"))
    assert set(hooks.sessions.by_id) == {LEAD, "a", "b"}
    # Still bounded: then the ended ones of a live team, before any running session.
    await hooks.take(hook("Stop", T0 + 40, session_id="c"))
    assert set(hooks.sessions.by_id) == {"a", "b", "c"}


# --- the state file ------------------------------------------------------------------------------


async def test_a_restart_gives_the_sessions_back_and_the_lead_reads_gone(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    shutil.copytree(REAL / TEAM, claude / "teams" / TEAM)
    state = tmp_path / "state" / hooks_actor.STATE_FILE_NAME

    # The first daemon sees the lead's session end, and stops.
    before = Hooks(team_of=team_of(TEAM), state_file=state)
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks_actor.run, before)
        await before.take(hook("SessionStart startup", T0))
        await before.take(hook("SessionEnd", T0 + 1))
        nursery.cancel_scope.cancel()
    assert state.is_file()

    # The next one reads the team from its files (the lead works, by them) and then the state
    # file: the team is sent again at once, its lead and in-process teammates gone.
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = ClaudeWatcher(claude, syncer, panes=Panes())
    after = Hooks(
        team_of=watcher.team_of_session, on_session=watcher.hook_changed, state_file=state
    )
    watcher.session_of = after.lead_session
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(partial(claude_actor.run, claude, hub, syncer, watcher=watcher))
        assert pending_members(syncer, TEAM) == merged(TEAM, None)
        assert merged(TEAM, None)["team-lead"][0] == "working"
        syncer.coalescer.take()
        await nursery.start(hooks_actor.run, after)
        view = after.lead_session(LEAD)
        assert view is not None
        assert view.liveness == "ended"
        got = await until(lambda: pending_members(syncer, TEAM))
        assert got == merged(TEAM, lead("ended", "prompt_input_exit"))
        assert got["team-lead"] == ("gone", "its Claude Code session ended (prompt_input_exit)")
        assert all(got[name][0] == "gone" for name in IN_PROCESS)
        nursery.cancel_scope.cancel()


async def test_the_file_is_0600_and_holds_nothing_secret(tmp_path: Path) -> None:
    state = tmp_path / hooks_actor.STATE_FILE_NAME
    state.write_text("{}")
    state.chmod(0o644)
    hooks = Hooks(team_of=team_of(TEAM), state_file=state)
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks_actor.run, hooks)
        secret = {"command": "curl -H 'Authorization: Bearer sk-SECRET'"}
        await hooks.take(hook("PreToolUse", T0, tool_input=secret))
        await hooks.take(
            hook("StopFailure rate_limit", T0 + 1, error_details="sk-SECRET in the reply")
        )
        nursery.cancel_scope.cancel()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert b"SECRET" not in state.read_bytes()
    assert [p.name for p in state.parent.iterdir()] == [state.name]  # no temp file left
    [saved], skipped = decode_sessions(state.read_bytes())
    assert skipped == []
    assert (saved.session_id, saved.liveness, saved.reason) == (LEAD, "rate_limited", "rate_limit")
    assert (saved.cwd, saved.team, saved.tool_name) == ("/home/dev/shop", TEAM, "Bash")
    assert saved.error_text is None


async def test_writes_are_coalesced_to_one_a_second(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    writes = Writes()
    hooks = Hooks(state_file=tmp_path / "hooks.json", write_state=writes)
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks_actor.run, hooks)
        start = trio.current_time()
        # 70 changes of liveness over 4.83 s: written at once, then once a second.
        for i in range(70):
            await trio.sleep_until(start + 0.07 * i)
            await hooks.take(hook("UserPromptSubmit" if i % 2 else "Stop", T0 + i))
        with trio.fail_after(10 * SAVE_INTERVAL):  # virtual time
            while len(writes.at) < 6:
                await trio.sleep(SAVE_INTERVAL / 10)
        assert [round(t - start, 2) for t in writes.at] == [0, 1, 2, 3, 4, 5]
        assert writes.last()[LEAD]["liveness"] == "working"  # the 70th event's
        # Events that change nothing kept (the same liveness, a tool call) are not written.
        for i in range(20):
            await hooks.take(hook("PostToolUse", T0 + 100 + i))
        await trio.testing.wait_all_tasks_blocked()
        assert not hooks._save_wake.is_set()  # no write is waiting to happen
        assert len(writes.at) == 6
        # Once the last write's second has passed (virtual time), a change is written at once.
        await trio.sleep_until(writes.at[-1] + SAVE_INTERVAL)
        await hooks.take(hook("Stop", T0 + 200))
        await trio.testing.wait_all_tasks_blocked()
        assert len(writes.at) == 7
        await hooks.take(hook("SessionEnd", T0 + 201))
        nursery.cancel_scope.cancel()
    assert len(writes.at) == 8
    assert writes.last()[LEAD]["liveness"] == "ended"
    assert all(b - a >= SAVE_INTERVAL for a, b in pairwise(writes.at[:-1]))


def good_entries() -> list[dict[str, Any]]:
    sessions = HookSessions()
    sessions.apply(hook("SessionEnd", T0))
    sessions.apply(hook("Stop", T0 + 1, session_id="other"))
    doc = json.loads(encode_sessions(sessions.by_id.values()))
    entries: list[dict[str, Any]] = doc["sessions"]
    return entries


def bad_file(kind: str) -> tuple[bytes, str]:
    """A state file that is wrong as a whole, and what the log says of it."""
    good = json.dumps({"version": 1, "sessions": good_entries()}).encode()
    match kind:
        case "cut off":
            return good[: len(good) // 2], "not JSON"
        case "oversized":  # valid JSON, only too large
            return good + b" " * STATE_FILE_MAX, "at most 1 MiB"
        case "not utf-8":
            return b'{"version": 1, "sessions": ["\xff"]}', "not JSON"
        case "NaN":
            return good.replace(b'"events": 1', b'"events": NaN', 1), "NaN"
        case "another version":
            return good.replace(b'"version": 1', b'"version": 7', 1), "version 1"
        case "no sessions":
            return b'{"version": 1, "sessions": {}}', "sessions: expected an array"
    raise AssertionError(kind)


async def start_and_take_one(hooks: Hooks) -> None:
    """Run the actor (twice: a restart reads the file no more), and hand it an event."""
    for _ in range(2):
        async with trio.open_nursery() as nursery:
            await nursery.start(hooks_actor.run, hooks)
            assert hooks.offer(hook("Stop", T0 + 5, session_id="after"))
            await trio.testing.wait_all_tasks_blocked()
            assert "after" in hooks.sessions.by_id
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "kind", ["cut off", "oversized", "not utf-8", "NaN", "another version", "no sessions"]
)
async def test_a_bad_file_is_logged_once_and_ignored(tmp_path: Path, kind: str) -> None:
    state = tmp_path / "hooks.json"
    data, problem = bad_file(kind)
    state.write_bytes(data)
    writes = Writes()
    hooks = Hooks(state_file=state, write_state=writes)
    with structlog.testing.capture_logs() as logs:
        await start_and_take_one(hooks)
    [ignored] = [e for e in logs if e["event"].startswith("hook_state.")]
    assert ignored["event"] == "hook_state.ignored"
    assert ignored["log_level"] == "warning"
    assert ignored["path"] == str(state)
    assert problem in ignored["problem"]
    assert set(hooks.sessions.by_id) == {"after"}
    assert set(writes.last()) == {"after"}  # the next write replaces the bad file


async def test_an_unreadable_file_is_logged_and_ignored(tmp_path: Path) -> None:
    state = tmp_path / "hooks.json"
    state.mkdir()  # not a regular file: nor can it be written
    hooks = Hooks(state_file=state, write_state=Writes())
    with structlog.testing.capture_logs() as logs:
        await start_and_take_one(hooks)
    [ignored, failed] = [e for e in logs if e["event"].startswith("hook_state.")]
    assert ignored["event"] == "hook_state.ignored"
    assert ignored["path"] == str(state)
    assert "a directory" in ignored["problem"]
    # The writes fail (each run tries), logged once; the actor runs on.
    assert failed["event"] == "hook_state.write_failed"
    assert failed["path"] == str(state)
    assert hooks.writes == 0


async def test_entries_of_the_wrong_shape_are_skipped(tmp_path: Path) -> None:
    lead_entry, other = good_entries()
    assert lead_entry["session_id"] == LEAD
    bad: list[Any] = [
        ["not", "an", "object"],
        {**other, "session_id": ""},
        {**other, "session_id": 42},
        {**other, "liveness": "zombie"},
        {**other, "first_at": "yesterday"},
        {**other, "events": True},
        {**other, "cwd": ["/"]},
        {**lead_entry, "ended_at": None},  # ended, but when?
        {**lead_entry, "liveness": "idle"},  # a second entry for the lead
    ]
    state = tmp_path / "hooks.json"
    state.write_text(json.dumps({"version": 1, "sessions": [lead_entry, *bad, other]}))
    hooks = Hooks(state_file=state, write_state=Writes())
    with structlog.testing.capture_logs() as logs:
        await start_and_take_one(hooks)
    [skipped, loaded] = [e for e in logs if e["event"].startswith("hook_state.")]
    assert (loaded["event"], loaded["sessions"]) == ("hook_state.loaded", 2)
    assert skipped["event"] == "hook_state.entries_skipped"
    assert (skipped["path"], skipped["skipped"]) == (str(state), len(bad))
    assert skipped["problem"].startswith("sessions[1]: expected an object")
    assert set(hooks.sessions.by_id) == {LEAD, "other", "after"}
    view = hooks.lead_session(LEAD)
    assert view is not None
    assert view.liveness == "ended"


def test_a_full_file_keeps_what_matters_most_under_the_cap() -> None:
    sessions = HookSessions()
    for i in range(50):
        sessions.apply(hook("Stop", T0 + i, session_id=f"s{i:02}", cwd="/x" * 200))
    sessions.apply(hook("SessionEnd", T0 - 1))
    full = encode_sessions(sessions.by_keep(team_of(TEAM)))
    limit = len(full) // 2
    kept, _ = decode_sessions(encode_sessions(sessions.by_keep(team_of(TEAM)), limit=limit))
    assert 0 < len(kept) < 51
    assert len(encode_sessions(sessions.by_keep(team_of(TEAM)), limit=limit)) <= limit
    # The newest running sessions first, then the ended lead of a live team.
    assert [s.session_id for s in kept] == [f"s{i:02}" for i in range(49, 49 - len(kept), -1)]


def test_the_tmux_pane_a_session_ran_in_is_kept_across_a_restart() -> None:
    """It is what joins a pane teammate's session to its member (usage by agent)."""
    sessions = HookSessions()
    pane = attrs.evolve(
        hook("SessionStart startup", T0, session_id="pane-1"),
        tmux_pane="%4",
        tmux_socket="/tmp/tmux-501/default",
    )
    sessions.apply(pane)
    sessions.apply(hook("Stop", T0 + 1, session_id="pane-1"))  # an event without: kept
    (state,) = sessions.by_id.values()
    assert (state.tmux_pane, state.tmux_socket) == ("%4", "/tmp/tmux-501/default")
    kept, skipped = decode_sessions(encode_sessions(sessions.by_keep(team_of(TEAM))))
    assert skipped == []
    assert [(s.tmux_pane, s.tmux_socket) for s in kept] == [("%4", "/tmp/tmux-501/default")]


def test_the_iterm2_session_a_session_ran_in_is_kept_across_a_restart() -> None:
    sessions = HookSessions()
    iterm = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B"
    sessions.apply(
        attrs.evolve(hook("SessionStart startup", T0, session_id="it-1"), iterm_session=iterm)
    )
    sessions.apply(hook("Stop", T0 + 1, session_id="it-1"))  # an event without: kept
    kept, skipped = decode_sessions(encode_sessions(sessions.by_keep(team_of(TEAM))))
    assert skipped == []
    assert [(s.iterm_session, s.tmux_pane) for s in kept] == [(iterm, None)]
