"""Teams in more than one Claude Code config dir (one per account: `CLAUDE_CONFIG_DIR`), through
the real Claude watcher, watch hub and syncer over real files, with the in-memory FakeGateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import claude
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway
from tina.messages import TeamSnapshot

pytestmark = pytest.mark.timeout(90)


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(doc))
    tmp.rename(path)
    return path


def config(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "leadAgentId": f"team-lead@{name}",
        "leadSessionId": f"s-{name}",
        "members": [{"agentId": f"team-lead@{name}", "name": "team-lead", "cwd": "/w"}],
    }


async def until(fake: FakeGateway, predicate: Callable[[], Any], timeout: float = 30) -> None:
    """Wait until `predicate` holds, looking again after each call the gateway takes."""
    with trio.fail_after(timeout):
        while not predicate():
            await fake.changed.wait()


async def test_a_config_dir_added_at_start_keeps_its_teams_and_one_added_later_is_watched(
    tmp_path: Path,
) -> None:
    """At a restart, the teams Convex knows that are in a config dir the daemon learns of only
    after its start (the usage actor's learnt directories) are not removed: the removal of teams
    gone meanwhile waits until the config dirs known at start are added. A team made in that
    config dir afterwards is watched."""
    home, work = tmp_path / ".claude", tmp_path / ".claude-work"
    write(home / "teams/alpha/config.json", config("alpha"))
    write(work / "teams/beta/config.json", config("beta"))
    fake = FakeGateway()
    for d in ("alpha", "beta", "gone"):  # as Convex knew them before the restart
        fake.teams[d] = (TeamSnapshot(dir_name=d, team_name=d), [], [])
    cell = LatestValue[GatewayProtocol | None](fake)
    syncer = Syncer(cell)
    hub = WatchHub()
    watcher = claude.ClaudeWatcher(home, syncer, settled=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(syncer.run)
        await nursery.start(partial(claude.run, home, hub, syncer, watcher=watcher, gateway=cell))
        assert watcher.add_config_dir(work)
        watcher.settle()
        await until(fake, lambda: "gone" in fake.removed_teams)
        assert fake.removed_teams == ["gone"]  # beta is in the config dir added
        await until(fake, lambda: fake.teams["beta"][1])  # read there: its members sent
        write(work / "teams/gamma/config.json", config("gamma"))
        await until(fake, lambda: "gamma" in fake.teams and fake.teams["gamma"][1])
        assert (work / "tasks").is_dir()  # watched, as Claude Code would make it
        nursery.cancel_scope.cancel()
