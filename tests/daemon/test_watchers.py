"""The Claude Code and worktree watchers over real files (no hub: changes are fed directly)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.claude import ClaudeWatcher, iterm_key, pane_member
from tina.daemon.actors.worktree import WorktreeWatcher
from tina.daemon.sync.coalescer import OrchestrationItem, TeamItem, TeamRemoval
from tina.daemon.sync.syncer import Syncer


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def team_config(name: str, members: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "createdAt": 1770480842000,
        "leadAgentId": f"team-lead@{name}",
        "leadSessionId": "s",
        "members": [
            {
                "agentId": f"{m}@{name}",
                "name": m,
                "joinedAt": 1770480842000,
                "tmuxPaneId": "%1",
                "cwd": "/w",
            }
            for m in members
        ],
    }


def task(i: str, status: str = "pending", **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "subject": f"s{i}",
        "description": "d",
        "status": status,
        "blocks": [],
        "blockedBy": [],
        **extra,
    }


@pytest.fixture
def syncer() -> Syncer:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(None)
    return Syncer(cell)


def pending(syncer: Syncer) -> dict[tuple[str, str], Any]:
    return dict(syncer.coalescer.pending)


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


async def test_one_task_change_reads_one_file_and_makes_one_snapshot(
    tmp_path: Path, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead", "executor-1"]))
    for i in range(50):
        write(claude / f"tasks/alpha/{i}.json", task(str(i)))
    write(claude / "tasks/6c0f3f7e-session/1.json", task("1"))  # a plain session: never sent
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    assert set(pending(syncer)) == {("team", "alpha")}
    item = pending(syncer)[("team", "alpha")]
    assert isinstance(item, TeamItem)
    assert [t.task_id for t in item.tasks] == [str(i) for i in range(50)]
    assert [m.agent_name for m in item.members] == ["team-lead", "executor-1"]
    syncer.coalescer.take()

    reads = watcher.reads
    changed = write(claude / "tasks/alpha/7.json", task("7", "in_progress", owner="executor-1"))
    await watcher.on_changes({changed}, rescan=False)
    assert watcher.reads == reads + 1
    item = pending(syncer)[("team", "alpha")]
    assert isinstance(item, TeamItem)
    assert {t.task_id: t.status for t in item.tasks}["7"] == "in_progress"
    assert len(pending(syncer)) == 1


async def test_rescan_rereads_only_what_changed(tmp_path: Path, syncer: Syncer) -> None:
    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    files = [write(claude / f"tasks/alpha/{i}.json", task(str(i))) for i in range(20)]
    watcher = ClaudeWatcher(claude, syncer)
    await watcher.rescan(force=True)
    reads = watcher.reads
    assert await watcher.rescan() == set()
    assert watcher.reads == reads
    write(files[3], task("3", "completed"))
    bump_mtime(files[3])
    assert await watcher.rescan() == {"alpha"}
    assert watcher.reads == reads + 1


async def test_a_rescan_reads_a_team_s_task_files_in_a_few_worker_thread_hops(
    tmp_path: Path, syncer: Syncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cold start of 10,000 task files made two hops (stat, read) per file: under load each
    # hand-over to a worker thread and back waits for the scheduler.
    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    for i in range(300):
        write(claude / f"tasks/alpha/{i}.json", task(str(i)))
    hops = 0
    run_sync = trio.to_thread.run_sync

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run_sync(*args, **kwargs)

    monkeypatch.setattr(trio.to_thread, "run_sync", counted)
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    item = pending(syncer)[("team", "alpha")]
    assert isinstance(item, TeamItem)
    assert len(item.tasks) == 300
    assert watcher.reads == 301  # every task file and the config
    assert hops < 10


async def test_half_written_files_are_logged_with_their_path_and_skipped(
    tmp_path: Path, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    good = write(claude / "tasks/alpha/1.json", task("1"))
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    syncer.coalescer.take()
    with structlog.testing.capture_logs() as logs:
        write(good, '{"id": "1", "subject": "s1", "stat')
        await watcher.on_changes({good}, rescan=False)
        broken_cfg = write(claude / "teams/beta/config.json", "{not json")
        await watcher.on_changes({broken_cfg}, rescan=False)
    assert pending(syncer) == {}  # nothing sent for either
    events = [(e["event"], e["path"]) for e in logs]
    assert ("file.unreadable", str(good)) in events
    assert ("file.unreadable", str(broken_cfg)) in events
    write(good, task("1", "completed"))
    await watcher.on_changes({good}, rescan=False)
    item = pending(syncer)[("team", "alpha")]
    assert isinstance(item, TeamItem)
    assert item.tasks[0].status == "completed"


async def test_removed_team_config_removes_the_team(tmp_path: Path, syncer: Syncer) -> None:
    claude = tmp_path / ".claude"
    cfg = write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    cfg.unlink()
    await watcher.on_changes({cfg}, rescan=False)
    assert isinstance(pending(syncer)[("team", "alpha")], TeamRemoval)


async def test_worktree_watcher_sends_state_once_per_content_and_tails_the_journal(
    tmp_path: Path, syncer: Syncer
) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures" / "state"
    sample = next(
        p for p in sorted(fixtures.glob("*.json")) if "spec" in p.name or "design" in p.name
    )
    wt = tmp_path / "wt"
    state = write(wt / ".claude/tina/supervisor-state.json", sample.read_text())
    watcher = WorktreeWatcher(wt, str(tmp_path), syncer)
    await watcher.refresh(set(), rescan=True)
    item = pending(syncer)[("orch", str(wt))]
    assert isinstance(item, OrchestrationItem)
    syncer.coalescer.take()
    await watcher.refresh({state}, rescan=False)  # same bytes: nothing new
    assert pending(syncer) == {}

    journal = wt / ".claude/tina/events.jsonl"
    line = {
        "id": "a" * 32,
        "type": "info",
        "source": "tina-session",
        "summary": "hello",
        "feature": "f",
        "recorded_at": "2026-02-07T16:03:12Z",
        "detail": None,
        "phase": "1",
    }
    write(
        journal, json.dumps(line) + "\n" + json.dumps({**line, "id": "b" * 32})[:20]
    )  # second line half-written
    await watcher.refresh({journal}, rescan=False)
    assert [e.idempotency_key for e in syncer._events[str(wt)]] == ["a" * 32]
    with journal.open("w") as f:
        f.write(json.dumps(line) + "\n" + json.dumps({**line, "id": "b" * 32}) + "\n")
    await watcher.refresh({journal}, rescan=False)
    assert [e.idempotency_key for e in syncer._events[str(wt)]] == ["a" * 32, "b" * 32]
    await trio.lowlevel.checkpoint()


async def test_a_team_change_is_in_the_outbox_before_the_watcher_reads_the_next_one(
    tmp_path: Path,
) -> None:
    """A SIGKILL after the watcher handled a change must not lose that observation: the watcher
    goes on only once the outbox has the record (it is written off the event loop)."""
    from tina.daemon.sync.outbox import Outbox, OutboxFile

    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    changed = write(claude / "tasks/alpha/1.json", task("1", "in_progress"))
    path = tmp_path / "state" / "outbox.jsonl"
    cell: LatestValue[GatewayProtocol | None] = LatestValue(None)
    syncer = Syncer(cell, outbox=Outbox(path, disk=trio.CapacityLimiter(1)))
    watcher = ClaudeWatcher(claude, syncer)
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await watcher.rescan(force=True)
        write(changed, task("1", "completed"))
        bump_mtime(changed)
        await watcher.on_changes({changed}, rescan=False)
        # No checkpoint since on_changes returned: what is on disk now is what a SIGKILL keeps.
        records = OutboxFile(path).load()
        nursery.cancel_scope.cancel()
    assert [(type(r).__name__, getattr(r, "dir_name", None)) for r in records] == [
        ("TeamItem", "alpha")
    ]
    team = records[0]
    assert isinstance(team, TeamItem)
    assert [t.status for t in team.tasks] == ["completed"]


async def test_changed_paths_whose_names_are_not_utf8_are_logged_once_and_never_read(
    tmp_path: Path, syncer: Syncer
) -> None:
    # The inotify backend hands over every changed path, names that are not UTF-8 included
    # (decoded with lone surrogates); such a file is skipped, never read nor sent.
    claude = tmp_path / ".claude"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    write(claude / "tasks/alpha/1.json", task("1"))
    write(claude / "teams/alpha/inboxes/team-lead.json", [])
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    syncer.coalescer.take()

    def bad(directory: Path, name: bytes, doc: Any) -> Path:
        raw = os.fsencode(directory) + b"/" + name
        with open(raw, "wb") as f:
            f.write(json.dumps(doc).encode())
        return Path(os.fsdecode(raw))

    bad_task = bad(claude / "tasks/alpha", b"later\xfb.json", task("8"))
    bad_inbox = bad(claude / "teams/alpha/inboxes", b"x\xfa.json", [])
    os.makedirs(os.fsencode(claude / "teams") + b"/bad\xfd")
    bad_team = bad(
        Path(os.fsdecode(os.fsencode(claude / "teams") + b"/bad\xfd")),
        b"config.json",
        team_config("bad", ["team-lead"]),
    )
    reads = watcher.reads
    with structlog.testing.capture_logs() as logs:
        for _ in range(2):
            await watcher.on_changes({bad_task, bad_inbox, bad_team}, rescan=False)
    assert watcher.reads == reads
    assert pending(syncer) == {}
    logged = sorted(e["path"] for e in logs if e["event"] == "file.undecodable_name")
    assert logged == sorted(repr(os.fsencode(p)) for p in (bad_task, bad_inbox, bad_team.parent))

    # Good files beside them still sync.
    good = write(claude / "tasks/alpha/2.json", task("2"))
    await watcher.on_changes({bad_task, good}, rescan=False)
    item = pending(syncer)[("team", "alpha")]
    assert isinstance(item, TeamItem)
    assert [t.task_id for t in item.tasks] == ["1", "2"]


async def test_a_full_rescan_hands_over_teams_as_it_reads_them(
    tmp_path: Path, syncer: Syncer
) -> None:
    # A cold start of many teams: they reach the syncer 50 at a time while the rest is read,
    # each with its config, its tasks and its inboxes, not all of them once everything is read.
    claude = tmp_path / ".claude"
    for t in range(120):
        write(claude / f"teams/t{t:03}/config.json", team_config(f"t{t:03}", ["team-lead"]))
        write(claude / f"teams/t{t:03}/inboxes/team-lead.json", [])
        for i in range(3):
            write(claude / f"tasks/t{t:03}/{i}.json", task(str(i)))
    watcher = ClaudeWatcher(claude, syncer)
    handed: list[tuple[int, int, int]] = []

    async def progress(teams: set[str]) -> None:
        await watcher.emit(teams)
        handed.append((len(teams), len(watcher.configs), len(syncer.coalescer.pending)))

    dirty = await watcher.rescan(force=True, progress=progress)
    assert len(dirty) == 120
    # Handed over at 50, 100 and the last 20, each when only the teams read so far were read.
    assert handed == [(50, 50, 50), (50, 100, 100), (20, 120, 120)]
    item = pending(syncer)[("team", "t007")]
    assert isinstance(item, TeamItem) and [t.task_id for t in item.tasks] == ["0", "1", "2"]
    assert set(watcher.inboxes) == {f"t{t:03}" for t in range(120)}


async def test_a_pane_teammates_session_is_the_member_in_its_pane(
    tmp_path: Path, syncer: Syncer
) -> None:
    """`pane_member`: the one teammate whose `tmuxPaneId` is the pane a session's hooks ran in;
    pane ids are unique per tmux server only, so a team whose lead runs on another is not it."""
    claude = tmp_path / ".claude"

    def config(name: str, lead: str, panes: dict[str, str]) -> dict[str, Any]:
        doc = team_config(name, list(panes))
        doc["leadSessionId"] = lead
        for member in doc["members"]:
            member["tmuxPaneId"] = panes[member["name"]]
        return doc

    write(
        claude / "teams/alpha/config.json",
        config("alpha", "la", {"team-lead": "", "executor-1": "%5"}),
    )
    write(
        claude / "teams/beta/config.json", config("beta", "lb", {"team-lead": "", "reviewer": "%7"})
    )
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))

    def member(w: ClaudeWatcher, pane: str, socket: str | None, socket_of: Any) -> Any:
        return pane_member(w.pane_members(), pane, socket, socket_of)

    sockets = {"la": "/tmp/tmux-1/default", "lb": "/tmp/tmux-1/other"}
    assert member(watcher, "%5", "/tmp/tmux-1/default", sockets.get) == ("alpha", "executor-1")
    assert member(watcher, "%5", None, sockets.get) == ("alpha", "executor-1")
    assert member(watcher, "%9", None, sockets.get) is None
    # The same pane id on two teams: the tmux server decides; without it, nobody.
    write(
        claude / "teams/beta/config.json", config("beta", "lb", {"team-lead": "", "reviewer": "%5"})
    )
    watcher._emit(await watcher.rescan(force=True))
    assert member(watcher, "%5", "/tmp/tmux-1/other", sockets.get) == ("beta", "reviewer")
    assert member(watcher, "%5", "/tmp/tmux-1/default", sockets.get) == ("alpha", "executor-1")
    assert member(watcher, "%5", None, sockets.get) is None
    assert member(watcher, "%5", "/tmp/tmux-1/default", lambda lead: None) is None


async def test_an_iterm2_pane_teammates_session_is_the_member_whose_pane_is_its_iterm_session(
    tmp_path: Path, syncer: Syncer
) -> None:
    """The iTerm2 backend records the pane's iTerm2 session id as `tmuxPaneId`."""
    claude = tmp_path / ".claude"
    doc = team_config("alpha", ["team-lead", "executor-1", "executor-2", "executor-3"])
    doc["leadSessionId"] = "la"
    uuid = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B"
    for member, pane, backend in zip(
        doc["members"],
        ["", uuid.lower(), "w0t1p2:1111AAAA-0000-4000-8000-000000000000", uuid],
        [None, "iterm2", "iterm2", "tmux"],  # the last is not an iTerm2 pane: never matched
        strict=True,
    ):
        member["tmuxPaneId"] = pane
        if backend:
            member["backendType"] = backend
    write(claude / "teams/alpha/config.json", doc)
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    members = watcher.pane_members()
    assert pane_member(members, iterm_key(uuid), None, lambda lead: None) == (
        "alpha",
        "executor-1",
    )
    assert pane_member(
        members, iterm_key("1111aaaa-0000-4000-8000-000000000000"), None, lambda lead: None
    ) == ("alpha", "executor-2")
    assert pane_member(members, uuid, None, lambda lead: None) is None  # not a tmux pane
    assert iterm_key(uuid) in members and uuid not in members


async def test_teams_of_a_second_config_dir_are_read_from_it_and_a_same_named_one_is_shadowed(
    tmp_path: Path, syncer: Syncer
) -> None:
    """`CLAUDE_CONFIG_DIR=~/.claude-work claude` keeps its teams there: the watcher reads them
    once that config dir is added, each team from its own config dir (events, rescans, the path
    the dispatcher writes to); a team of the same name in another is not read."""
    claude, work = tmp_path / ".claude", tmp_path / ".claude-work"
    write(claude / "teams/alpha/config.json", team_config("alpha", ["team-lead"]))
    write(work / "teams/beta/config.json", team_config("beta", ["team-lead", "executor-1"]))
    write(work / "tasks/beta/1.json", task("1"))
    write(work / "teams/alpha/config.json", team_config("alpha", ["team-lead", "impostor"]))
    watcher = ClaudeWatcher(claude, syncer)
    watcher._emit(await watcher.rescan(force=True))
    assert set(pending(syncer)) == {("team", "alpha")}
    syncer.coalescer.take()

    with structlog.testing.capture_logs() as logs:
        assert watcher.add_config_dir(work)
        assert not watcher.add_config_dir(work)
        watcher._emit(await watcher.rescan())
    item = pending(syncer)[("team", "beta")]
    assert isinstance(item, TeamItem)
    assert [t.task_id for t in item.tasks] == ["1"]
    assert [m.agent_name for m in item.members] == ["team-lead", "executor-1"]
    assert ("team", "alpha") not in pending(syncer)  # the first config dir's alpha stays
    assert [(e["event"], e["team"]) for e in logs if e["event"] == "team.shadowed"] == [
        ("team.shadowed", "alpha")
    ]
    assert watcher.team_path("beta") == work / "teams" / "beta"
    assert watcher.team_path("alpha") == claude / "teams" / "alpha"
    syncer.coalescer.take()

    # Changes: beta's under its own config dir count; alpha's under the other do not.
    changed = write(work / "tasks/beta/1.json", task("1", "completed"))
    ignored = write(work / "teams/alpha/config.json", team_config("alpha", ["x"]))
    await watcher.on_changes({changed, ignored}, rescan=False)
    assert set(pending(syncer)) == {("team", "beta")}
    item = pending(syncer)[("team", "beta")]
    assert isinstance(item, TeamItem) and item.tasks[0].status == "completed"
    syncer.coalescer.take()
    # A new team made in the second config dir is its own from its first event.
    made = write(work / "teams/gamma/config.json", team_config("gamma", ["team-lead"]))
    await watcher.on_changes({made}, rescan=False)
    assert set(pending(syncer)) == {("team", "gamma")}
    assert watcher.team_path("gamma") == work / "teams" / "gamma"
    syncer.coalescer.take()
    # Removed there, it is removed; made again in the first config dir, it is read there.
    (work / "teams/beta/config.json").unlink()
    (work / "tasks/beta/1.json").unlink()
    await watcher.on_changes(
        {work / "teams/beta/config.json", work / "tasks/beta/1.json"}, rescan=False
    )
    assert isinstance(pending(syncer)[("team", "beta")], TeamRemoval)
    syncer.coalescer.take()
    again = write(claude / "teams/beta/config.json", team_config("beta", ["team-lead"]))
    await watcher.on_changes({again}, rescan=False)
    assert isinstance(pending(syncer)[("team", "beta")], TeamItem)
    assert watcher.team_path("beta") == claude / "teams" / "beta"
