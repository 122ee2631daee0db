"""Hostile files under ~/.claude and in worktrees, through the real actors (watch hub, Claude
watcher, discovery, worktree watchers, syncer) over real files with the real clock and the
in-memory FakeGateway.

- a FIFO, a device (a symlink to /dev/zero) or an oversized file named like a watched file is
  logged once with its path and the cap and skipped; nothing blocks, nothing fills memory;
- a name that is not UTF-8 is logged once and skipped; the watch goes on;
- and in every case a good file written afterwards, in the same team and in another, syncs.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import claude, discovery, worktree
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway
from tina.local.files import SESSION_LOOKUP_MAX, STATE_MAX, TASK_MAX, TEAM_CONFIG_MAX
from tina.supervision import ChildSpec, DynamicSupervisor

pytestmark = pytest.mark.timeout(90)  # a blocking open() of a FIFO would hang: fail instead


@attrs.define
class Daemon:
    fake: FakeGateway
    syncer: Syncer
    hub: WatchHub
    worktrees: DynamicSupervisor


@asynccontextmanager
async def daemon(claude_dir: Path) -> AsyncIterator[Daemon]:
    """The file side of the daemon, wired as `tina.daemon.app` wires it."""
    fake = FakeGateway()
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    hub = WatchHub()
    worktrees = DynamicSupervisor("worktrees")

    def spec(feature: str, path: Path, repo_root: str | None) -> ChildSpec:
        return ChildSpec(
            id=f"wt:{feature}", run=partial(worktree.run, path, repo_root, hub, syncer)
        )

    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(hub.run)
            await nursery.start(syncer.run)
            await nursery.start(worktrees.run)
            await nursery.start(partial(claude.run, claude_dir, hub, syncer))
            await nursery.start(discovery.run, claude_dir / "tina-sessions", hub, worktrees, spec)
            yield Daemon(fake=fake, syncer=syncer, hub=hub, worktrees=worktrees)
        finally:
            nursery.cancel_scope.cancel()


async def until(predicate: Callable[[], Any], timeout: float = 30) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    os.replace(tmp, path)  # atomic, as Claude Code and tina-session write
    return path


def team_config(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "createdAt": 1770480842000,
        "leadAgentId": f"team-lead@{name}",
        "members": [{"agentId": f"team-lead@{name}", "name": "team-lead", "cwd": "/w"}],
    }


def task(i: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "subject": f"s{i}", "description": "d", "status": "pending", **extra}


def synced_tasks(fake: FakeGateway, team: str) -> set[str]:
    got = fake.teams.get(team)
    return set() if got is None else {t.task_id for t in got[2]}


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[tuple[Any, ...]]:
    return sorted((e["path"], e.get("limit")) for e in logs if e["event"] == name)


def fsjoin(directory: Path, name: bytes) -> bytes:
    return os.fsencode(directory) + b"/" + name


def make_bad_file(directory: Path, name: bytes, doc: Any) -> bytes:
    directory.mkdir(parents=True, exist_ok=True)
    path = fsjoin(directory, name)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, json.dumps(doc).encode())
    os.close(fd)
    return path


def make_bad_dir(directory: Path, name: bytes) -> bytes:
    directory.mkdir(parents=True, exist_ok=True)
    path = fsjoin(directory, name)
    os.mkdir(path)
    return path


async def test_fifos_devices_and_oversized_files_are_refused_and_the_rest_syncs(
    tmp_path: Path,
) -> None:
    claude_dir = tmp_path / ".claude"
    teams, tasks = claude_dir / "teams", claude_dir / "tasks"
    write(teams / "alpha/config.json", team_config("alpha"))
    write(tasks / "alpha/1.json", task("1"))
    fifo = tasks / "alpha/3.json"
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)  # no writer: a blocking open() would never return
    big = write(tasks / "alpha/4.json", json.dumps(task("4")) + " " * TASK_MAX)
    zero = teams / "beta/config.json"
    zero.parent.mkdir(parents=True)
    zero.symlink_to("/dev/zero")  # read to the end, it would fill memory
    write(tasks / "beta/1.json", task("1"))
    loop = tasks / "alpha/6.json"
    loop.symlink_to(loop.name)  # a symlink to itself: every stat fails (ELOOP)
    fifo_config = teams / "delta/config.json"
    fifo_config.parent.mkdir(parents=True)
    os.mkfifo(fifo_config)
    write(teams / "gamma/config.json", team_config("gamma"))
    write(tasks / "gamma/1.json", task("1"))

    with structlog.testing.capture_logs() as logs:
        async with daemon(claude_dir) as d:
            await until(lambda: synced_tasks(d.fake, "alpha") == {"1"})
            await until(lambda: synced_tasks(d.fake, "gamma") == {"1"})
            # Good files written afterwards, in the same team and in another, sync.
            write(tasks / "alpha/5.json", task("5"))
            write(tasks / "gamma/2.json", task("2"))
            await until(lambda: synced_tasks(d.fake, "alpha") == {"1", "5"})
            await until(lambda: synced_tasks(d.fake, "gamma") == {"1", "2"})
            # A full re-read (as after a reconnect) refuses them again, silently.
            d.syncer.reconcile.set(d.syncer.reconcile.value + 1)
            write(tasks / "gamma/3.json", task("3"))
            await until(lambda: synced_tasks(d.fake, "gamma") == {"1", "2", "3"})
            assert "beta" not in d.fake.teams
            assert "delta" not in d.fake.teams
            # A refused file that becomes a good one is read.
            big.unlink()
            write(big, task("4"))
            await until(lambda: synced_tasks(d.fake, "alpha") == {"1", "4", "5"})

    assert events(logs, "file.refused") == sorted(
        [
            (str(fifo), TASK_MAX),
            (str(big), TASK_MAX),
            (str(loop), TASK_MAX),
            (str(zero), TEAM_CONFIG_MAX),
            (str(fifo_config), TEAM_CONFIG_MAX),
        ]
    )
    messages = {e["path"]: e["error"] for e in logs if e["event"] == "file.refused"}
    assert "a FIFO" in messages[str(fifo)]
    assert "a character device" in messages[str(zero)]
    assert "at most 1 MiB" in messages[str(big)]
    assert "at most 4 MiB" in messages[str(zero)]


STATE: dict[str, Any] = {
    "version": 1,
    "feature": "good",
    "spec_doc": "/d.md",
    "branch": "tina/good",
    "total_phases": 2,
    "current_phase": 1,
    "status": "executing",
    "orchestration_started_at": "2026-02-07T16:03:12Z",
    "phases": {"1": {"status": "executing", "breakdown": {}}},
}


def journal_line(i: int) -> str:
    return json.dumps(
        {
            "id": f"{i:032x}",
            "type": "info",
            "source": "tina-session",
            "summary": f"event {i}",
            "feature": "good",
            "recorded_at": "2026-02-07T16:03:12Z",
            "detail": None,
            "phase": "1",
        }
    )


async def test_hostile_session_lookups_state_files_and_journals(tmp_path: Path) -> None:
    claude_dir = tmp_path / ".claude"
    sessions = claude_dir / "tina-sessions"
    sessions.mkdir(parents=True)
    os.mkfifo(sessions / "fifo.json")
    (sessions / "zero.json").symlink_to("/dev/zero")
    write(sessions / "big.json", " " * (SESSION_LOOKUP_MAX + 1))
    wt = tmp_path / "repo/.worktrees/good"
    state = wt / ".claude/tina/supervisor-state.json"
    journal = wt / ".claude/tina/events.jsonl"
    state.parent.mkdir(parents=True)
    os.mkfifo(state)
    journal.symlink_to("/dev/zero")
    lookup = {"feature": "good", "worktree_path": str(wt), "created_at": "2026-11-21T00:00:00Z"}
    write(sessions / "good.json", lookup)

    with structlog.testing.capture_logs() as logs:
        async with daemon(claude_dir) as d:
            assert d.worktrees.child_ids == ["wt:good"]
            state.unlink()
            write(state, {**STATE, "worktree_path": str(wt)})
            await until(lambda: [k[0] for k in d.fake.orchestrations] == ["good"])
            journal.unlink()
            write(journal, journal_line(1) + "\n" + journal_line(2) + "\n")
            await until(lambda: sum(len(e) for e in d.fake.events.values()) == 2)

    assert events(logs, "file.refused") == sorted(
        [
            (str(sessions / "fifo.json"), SESSION_LOOKUP_MAX),
            (str(sessions / "zero.json"), SESSION_LOOKUP_MAX),
            (str(sessions / "big.json"), SESSION_LOOKUP_MAX),
            (str(state), STATE_MAX),
            (str(journal), None),  # read in bounded chunks: no cap on the whole file
        ]
    )


async def test_names_that_are_not_utf8_are_logged_once_and_skipped(tmp_path: Path) -> None:
    claude_dir = tmp_path / ".claude"
    teams, tasks, sessions = (
        claude_dir / "teams",
        claude_dir / "tasks",
        claude_dir / "tina-sessions",
    )
    write(teams / "alpha/config.json", team_config("alpha"))
    write(tasks / "alpha/1.json", task("1"))
    bad = [
        make_bad_file(tasks / "alpha", b"bad\xff.json", task("9")),
        make_bad_dir(tasks, b"bad\xfe"),
        make_bad_dir(teams, b"bad\xfd"),
        make_bad_file(sessions, b"bad\xfc.json", {"feature": "x", "worktree_path": "/x"}),
    ]
    make_bad_file(Path(os.fsdecode(bad[1])), b"1.json", task("1"))
    make_bad_file(Path(os.fsdecode(bad[2])), b"config.json", team_config("bad"))

    with structlog.testing.capture_logs() as logs:
        async with daemon(claude_dir) as d:
            await until(lambda: synced_tasks(d.fake, "alpha") == {"1"})
            # More appear while the daemon runs.
            bad.append(make_bad_file(tasks / "alpha", b"later\xfb.json", task("8")))
            later_team = make_bad_dir(teams, b"gamma\xfa")
            make_bad_file(Path(os.fsdecode(later_team)), b"config.json", team_config("gamma"))
            bad.append(later_team)
            # Good files written afterwards sync: in the same team and in a new one.
            write(tasks / "alpha/2.json", task("2"))
            write(teams / "omega/config.json", team_config("omega"))
            write(tasks / "omega/1.json", task("1"))
            await until(lambda: synced_tasks(d.fake, "alpha") == {"1", "2"})
            await until(lambda: synced_tasks(d.fake, "omega") == {"1"})
            # Polled roots are rescanned every second: let a few rescans pass (a sentinel).
            for i in ("3", "4", "5"):
                write(tasks / "alpha" / f"{i}.json", task(i))
                await until(partial(lambda i: i in synced_tasks(d.fake, "alpha"), i))
            assert sorted(d.fake.teams) == ["alpha", "omega"]
            # watchfiles cannot watch a tree holding such a name: those roots are polled.
            # inotify reports the name and keeps watching: nothing needs polling.
            detail = d.hub.detail()
            if detail["backend"] == "watchfiles":
                assert detail["polled"] >= 1
            else:
                assert detail["polled"] == 0

    skipped = [e["path"] for e in logs if e["event"] == "file.undecodable_name"]
    assert sorted(skipped) == sorted(repr(path) for path in bad)
    watch_paths = [e["path"] for e in logs if e["event"] == "watch.undecodable_path"]
    assert len(watch_paths) == len(set(watch_paths))  # each once
